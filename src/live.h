/*-------------------------------------------------------------------------
 *
 * live.h
 *	  Live visitors in shared memory, and the live feed: the committed
 *	  NOTIFY payloads, in a shared ring that the /live streams read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_LIVE_H
#define EDGESTAT_LIVE_H

#include "postgres.h"

/* settings of the /live streams (defined here, used by src/http/sse.c) */
extern int	es_live_max_streams;
extern int	es_live_stream_timeout_s;
extern int	es_live_buffer_kb;
extern int	es_live_token_recheck_s;

extern void es_live_init(void);
extern void es_live_touch(int32 site_id, const uint8 visitor[16]);
extern int64 es_live_count(int32 site_id);

/*
 * At each commit of a batch, the NOTIFY payloads (docs/notify.md) are
 * also published into a ring in shared memory, and every process that
 * called es_feed_listen(true) has its latch set.  es_feed_read calls fn
 * for each payload published after sequence number "after" that is still
 * in the ring and returns the newest sequence number seen (pass 0 the
 * first time to get everything still there; es_feed_head() gives the
 * current newest, to start from "now").
 */
typedef void (*EsFeedReader) (int32 site_id, const char *payload, void *arg);
extern uint64 es_feed_read(uint64 after, EsFeedReader fn, void *arg);
extern uint64 es_feed_head(void);
extern void es_feed_listen(bool on);
extern void es_feed_queue(int32 site_id, const char *payload);

/* Moves when a committed transaction changed or dropped dashboard tokens. */
extern uint64 es_tokens_generation(void);

#endif							/* EDGESTAT_LIVE_H */
