/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  The shared-memory request and startup hooks.  Each module registers
 *	  its part (size, attach function, lock tranche) from its own *_init;
 *	  this file only adds them up and hands each its memory, so no module
 *	  knows another's sizes or lock counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "shmem.h"

#define ES_MAX_SHMEM_PARTS 16

static const EsShmemPart *parts[ES_MAX_SHMEM_PARTS];
static int	nparts = 0;
static bool attached = false;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

void
es_shmem_register(const EsShmemPart *part)
{
	if (nparts >= ES_MAX_SHMEM_PARTS)
		elog(ERROR, "edgestat: too many shared memory parts");
	parts[nparts++] = part;
}

uint32
es_table_slots(int wanted, uint32 most)
{
	uint32		n = 1024;

	while (n < (uint32) wanted && n < most)
		n <<= 1;
	return n;
}

static void
es_shmem_request(void)
{
	Size		total = 0;

#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	for (int i = 0; i < nparts; i++)
	{
		total = add_size(total, MAXALIGN(parts[i]->size()));
		if (parts[i]->tranche)
			RequestNamedLWLockTranche(parts[i]->tranche, parts[i]->nlocks);
	}
	RequestAddinShmemSpace(total);
}

static void
es_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < nparts; i++)
	{
		bool		found;
		void	   *ptr = ShmemInitStruct(parts[i]->name, parts[i]->size(),
										  &found);

		parts[i]->attach(ptr, found);
	}
	LWLockRelease(AddinShmemInitLock);
	attached = true;
}

/* Called last in _PG_init, after every module registered its part. */
void
es_shmem_install_hooks(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = es_shmem_request;
#else
	es_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = es_shmem_startup;
}

bool
es_shmem_ready(void)
{
	return attached;
}
