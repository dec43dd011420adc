/*-------------------------------------------------------------------------
 *
 * ratelimit.h
 *	  Exact token buckets per (client address, site) in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_RATELIMIT_H
#define EDGESTAT_RATELIMIT_H

#include "postgres.h"

#include "addr.h"

extern int	es_rate_limit;		/* edgestat.rate_limit, per minute */

extern void es_ratelimit_init(void);
extern bool es_ratelimit_take(const EsAddr *addr, int32 site_id, int n,
							  int *retry_after_s);

#endif							/* EDGESTAT_RATELIMIT_H */
