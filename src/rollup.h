/*-------------------------------------------------------------------------
 *
 * rollup.h
 *	  Folding a batch into the report rollups in C, for writer.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_ROLLUP_H
#define EDGESTAT_ROLLUP_H

#include "batch.h"

/* The session attributes that are breakdown dimensions, in this order. */
#define ES_SESSION_DIMS 12

/* What the rollups count of one image (row version) of a session. */
typedef struct EsSessionImage
{
	int32		site_id;
	TimestampTz started;
	TimestampTz last;
	int64		events;
	int64		pageviews;
	const char *dims[ES_SESSION_DIMS];	/* NULL: none */
} EsSessionImage;

extern const char *const es_session_dim_names[ES_SESSION_DIMS];

/* The parameters of the rollup part of the batch statement. */
#define ES_ROLLUP_PARAMS 27
extern const Oid es_rollup_param_types[ES_ROLLUP_PARAMS];

typedef struct EsRollupFold EsRollupFold;

extern EsRollupFold *es_rollup_begin(int nevents, int nsessions);
extern void es_rollup_add_event(EsRollupFold *fold, const EsEventRow *e);
extern void es_rollup_add_session(EsRollupFold *fold,
								  const EsSessionImage *image, int sign);
extern void es_rollup_params(EsRollupFold *fold, Datum *params);

/*
 * The statement's rollup CTEs, its parameters numbered from first_param,
 * hll's functions qualified with hll_schema (already quoted).
 */
extern char *es_rollup_sql(int first_param, const char *hll_schema);

#endif							/* EDGESTAT_ROLLUP_H */
