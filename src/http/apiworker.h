/*-------------------------------------------------------------------------
 *
 * apiworker.h
 *	  The dashboard's report queries, off the ingest loop: the "edgestat
 *	  api" background worker (apiworker.c) and how HTTP workers hand it
 *	  requests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_HTTP_APIWORKER_H
#define EDGESTAT_HTTP_APIWORKER_H

#include "postgres.h"

#include "storage/shm_mq.h"

#define ES_API_MAX_PARAMS	4096	/* the query string as JSON */
/* the endpoint name of Plausible's Stats API: no dashboard endpoint has '/' */
#define ES_API_STATS		"v2/query"

/* _PG_init: shared memory and the worker (after es_http_init). */
extern void es_api_init(void);
extern PGDLLEXPORT void es_api_worker_main(Datum main_arg);

typedef enum EsApiSubmit
{
	ES_API_QUEUED,				/* *mqh receives the answer */
	ES_API_NO_WORKER,			/* none registered or running */
	ES_API_BUSY					/* every slot taken */
} EsApiSubmit;

extern EsApiSubmit es_api_submit(const char *token, const char *endpoint,
								 const char *params, MemoryContext cxt,
								 shm_mq_handle **mqh, int *slot);

/* The caller is done with the slot of a queued request (queue detached). */
extern void es_api_release(int slot);

/* api.c: dashboard_api in a transaction of its own; the HTTP status. */
extern int	es_run_dashboard_api(const char *token, const char *endpoint,
								 const char *params, char **result);

/* api.c, HTTP worker: answers that arrived resume their connections. */
extern void http_api_poll(void);

#endif							/* EDGESTAT_HTTP_APIWORKER_H */
