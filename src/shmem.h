/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  How a module gets its part of shared memory and its LWLock tranche:
 *	  it registers a part from its *_init function in _PG_init, and the
 *	  hooks of shmem.c request and attach every registered part.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_SHMEM_H
#define EDGESTAT_SHMEM_H

#include "postgres.h"

typedef struct EsShmemPart
{
	const char *name;			/* as listed in pg_shmem_allocations */
	Size		(*size) (void); /* called after the settings are read */
	void		(*attach) (void *ptr, bool found);	/* !found: initialize */
	const char *tranche;		/* named LWLock tranche, or NULL */
	int			nlocks;
} EsShmemPart;

extern void es_shmem_register(const EsShmemPart *part);
extern void es_shmem_install_hooks(void);
extern bool es_shmem_ready(void);

/*
 * The shared tables (dedup, rate limit, live) probe runs of slots by
 * hash: their sizes are powers of two, at least 1024, at least wanted.
 */
extern uint32 es_table_slots(int wanted, uint32 most);

#endif							/* EDGESTAT_SHMEM_H */
