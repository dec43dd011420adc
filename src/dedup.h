/*-------------------------------------------------------------------------
 *
 * dedup.h
 *	  The duplicate window: 128-bit event keys in a shared table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_DEDUP_H
#define EDGESTAT_DEDUP_H

#include "postgres.h"

extern void es_dedup_init(void);

/*
 * true: a duplicate, of an event committed or taken by this very
 * transaction; an original still being committed elsewhere is waited
 * for.  false: the key is now taken by this transaction.
 */
extern bool es_dedup_seen(const uint8 key[16]);
extern void es_dedup_forget(const uint8 key[16]);

/* The 128-bit key of an event from its identifying bytes (keyed). */
extern void es_dedup_key(const void *buf, size_t len, uint8 key[16]);

#endif							/* EDGESTAT_DEDUP_H */
