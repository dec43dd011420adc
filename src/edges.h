/*-------------------------------------------------------------------------
 *
 * edges.h
 *	  The center's view of its edges in shared memory (src/edges.c), for
 *	  /metrics: filled by the apply workers' merges and by the SQL
 *	  functions, read without touching a catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_EDGES_H
#define EDGESTAT_EDGES_H

#include "postgres.h"

#include "lib/stringinfo.h"

/* settings and shared memory; from _PG_init */
extern void es_edges_init(void);

/* the per-edge gauges in Prometheus text format */
extern void es_edges_format_metrics(StringInfo buf);

#endif							/* EDGESTAT_EDGES_H */
