/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  The batch of accepted, enriched events that pipeline.c fills and
 *	  writer.c stores.  Private to those two files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_BATCH_H
#define EDGESTAT_BATCH_H

#include "pipeline.h"

#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "beacon.h"
#include "geo.h"

typedef struct EsEventRow
{
	TimestampTz ts;
	int32		site_id;
	const char *domain;			/* the site's, for the NOTIFY payload */
	EsEventKind kind;
	pg_uuid_t	visitor;
	pg_uuid_t	session;
	char	   *name;
	char	   *path;
	char	   *referrer_host;	/* NULL: none, or the site itself */
	char	   *utm_source;
	char	   *utm_medium;
	char	   *utm_campaign;
	bool		has_seq;
	bool		has_scroll;
	bool		has_engaged;
	bool		has_interactions;
	bool		has_width;
	int32		seq;
	int16		scroll;
	int64		engaged_ms;
	int64		interactions;
	int32		viewport;
	const char *browser;		/* static strings of the classifier */
	const char *os;
	const char *device;
	const EsGeo *geo;			/* shared by the events of one body */
	char	   *props;			/* JSON text, or NULL */
} EsEventRow;

struct EsBatch
{
	MemoryContext cxt;			/* rows and their strings */
	MemoryContext scratch;		/* one body's parse tree */
	EsEventRow *rows;
	int			nrows;
	int			maxrows;
};

/* A visitor a written batch touched, and its latest event. */
typedef struct EsVisitorNote
{
	int32		site_id;
	pg_uuid_t	visitor;
	const EsEventRow *last;
} EsVisitorNote;

/*
 * announce.c: marks the visitors of the batch statement's result
 * (SPI_tuptable: site_id, visitor_id, score, country, city, latitude,
 * longitude) live and queues their payloads; notes sorted by key.
 */
extern void es_announce(const EsVisitorNote *notes, int nnotes);

#endif							/* EDGESTAT_BATCH_H */
