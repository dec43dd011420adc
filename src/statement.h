/*-------------------------------------------------------------------------
 *
 * statement.h
 *	  The batch statement of writer.c: its text and its parameters, one
 *	  array per column of events, sessions and visitors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_STATEMENT_H
#define EDGESTAT_STATEMENT_H

#include "postgres.h"

enum
{
	/* events */
	E_TS, E_SITE, E_VISITOR, E_SESSION, E_NAME, E_PATH, E_REFERRER,
	E_UTM_SOURCE, E_UTM_MEDIUM, E_UTM_CAMPAIGN, E_SEQ, E_SCROLL, E_ENGAGED,
	E_INTERACTIONS, E_VIEWPORT, E_COUNTRY, E_REGION, E_CITY, E_LAT, E_LON,
	E_BROWSER, E_OS, E_DEVICE, E_PROPS,
	/* sessions */
	S_SITE, S_SESSION, S_VISITOR, S_STARTED, S_LAST, S_ENTRY, S_EXIT,
	S_REFERRER, S_UTM_SOURCE, S_UTM_MEDIUM, S_UTM_CAMPAIGN, S_COUNTRY,
	S_REGION, S_CITY, S_BROWSER, S_OS, S_DEVICE, S_EVENTS, S_PAGEVIEWS,
	S_HEARTBEATS, S_GOALS, S_SCROLL, S_ENGAGED, S_INTERACTIONS,
	/* visitors */
	V_SITE, V_VISITOR, V_FIRST, V_LAST, V_EVENTS, V_PAGEVIEWS, V_HEARTBEATS,
	V_GOALS, V_SCROLL, V_COUNTRY, V_REGION, V_CITY, V_LAT, V_LON, V_SCORE,
	ES_BATCH_PARAMS
};

extern const Oid es_batch_param_types[ES_BATCH_PARAMS];

/*
 * The statement is head, then (when the writer folds the rollups) the
 * rollup CTEs of rollup.c, then tail.  Its result: one row per visitor
 * (site_id, visitor_id, score, country, city, latitude, longitude, fresh)
 * and, in each row, the number of sessions it created.
 */
extern const char *const es_batch_sql_head;
extern const char *const es_batch_sql_tail;

#endif							/* EDGESTAT_STATEMENT_H */
