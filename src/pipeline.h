/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  The ingest pipeline shared by edgestat.ingest() and the HTTP workers:
 *	  a body in, a verdict out, accepted events collected into a batch
 *	  (pipeline.c) that is written in one statement (writer.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_PIPELINE_H
#define EDGESTAT_PIPELINE_H

#include "postgres.h"

#include "addr.h"

/* What the caller knows of one request. */
typedef struct EsRequest
{
	EsAddr		client;			/* family 0 when unknown (SQL without ip) */
	const char *user_agent;		/* "" when the header is absent (a bot);
								 * NULL from SQL when the caller has none
								 * (then no bot filter) */
	const char *origin;			/* Origin header, NULL when absent */
} EsRequest;

/* Why a body was refused; decides the SQLSTATE of edgestat.ingest. */
typedef enum EsReject
{
	ES_REJECT_NONE,
	ES_REJECT_MALFORMED,		/* not JSON, not UTF-8: 400 */
	ES_REJECT_INVALID,			/* wrong key, type or range: 400 */
	ES_REJECT_UNKNOWN_SITE,		/* 403 */
	ES_REJECT_ORIGIN,			/* 403 */
	ES_REJECT_RATE_LIMIT,		/* 429 */
	ES_REJECT_OVERLOAD			/* 503 */
} EsReject;

/* The pipeline's verdict on one body, in HTTP terms. */
typedef struct EsOutcome
{
	EsReject	reject;
	int			status;			/* 204, 400, 403, 429 or 503 */
	int			events;			/* events in the body */
	int			accepted;		/* added to the batch */
	int			retry_after;	/* seconds, for 429 */
	char		reason[256];	/* for any status but 204 */
} EsOutcome;

typedef struct EsBatch EsBatch;

/*
 * A batch lives in its own memory context below parent and collects the
 * accepted events of many bodies.  es_batch_add validates, drops bots,
 * rate limits, drops duplicates and enriches (docs/data-model.md, "the
 * pipeline"); it never throws for bad input (the verdict is in *out) and
 * must run inside a transaction, since it may read edgestat.sites.
 * es_batch_write stores the batch, scores, marks visitors live and
 * queues NOTIFY in the current transaction (delivered at its commit) and
 * throws on failure; a transaction that aborts forgets the dedup keys it
 * took (dedup.c), so retries are not dropped as duplicates.
 * es_batch_reset empties the batch for reuse.
 */
extern EsBatch *es_batch_create(MemoryContext parent);
extern void es_batch_add(EsBatch *batch, const char *body, size_t len,
						 const EsRequest *req, EsOutcome *out);
extern int	es_batch_events(const EsBatch *batch);
extern void es_batch_write(EsBatch *batch);
extern void es_batch_reset(EsBatch *batch);

/* announce.c's settings */
extern void es_announce_init(void);

#endif							/* EDGESTAT_PIPELINE_H */
