/*-------------------------------------------------------------------------
 *
 * http_int.h
 *	  Private to the HTTP worker (src/http/): its settings, the state of
 *	  the one worker process, the per-connection state, and the functions
 *	  the rooms of the worker call in each other.
 *
 * Rooms: worker.c (life: registration, settings, the wait loop, reload,
 * shutdown), listen.c (sockets and libmicrohttpd daemons), route.c (the
 * request callback and routing), conn.c (connection pool and responses),
 * beacons.c (POST /e and group commit), static.c (/e.js, /dashboard),
 * api.c (/api/...), sse.c (/live), metrics.c (/metrics, /healthz),
 * tls.c (HTTPS: settings, certificates, reload), compat.c (/api/event,
 * /api/send, /api/v2/query).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_HTTP_INT_H
#define EDGESTAT_HTTP_INT_H

#include "postgres.h"

#include <microhttpd.h>

#include "access/xlogdefs.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "addr.h"
#include "pipeline.h"

#define ES_MAX_DAEMONS		8
#define ES_SSE_PING_MS		15000

/* ---- settings (worker.c) ---- */
extern char *es_database;
extern char *es_listen_addresses;
extern int	es_port;
extern int	es_workers;
extern char *es_trusted_proxies;
extern int	es_max_body;
extern int	es_batch_size;
extern int	es_flush_interval_ms;
extern int	es_max_pending;
extern int	es_max_connections;
extern int	es_max_connections_per_ip;
extern int	es_connection_timeout_s;
extern bool es_commit_overlap;

/* What a connection's current request is. */
typedef enum EsConnKind
{
	EC_OTHER,					/* answered in the first call */
	EC_BEACON,					/* POST /e, collecting the body */
	EC_SSE,						/* GET /live, streaming */
	EC_PLAUSIBLE,				/* POST /api/event, collecting the body */
	EC_UMAMI,					/* POST /api/send, collecting the body */
	EC_STATS_API				/* POST /api/v2/query, collecting the body */
} EsConnKind;

/* Kinds whose body is collected and handed to compat.c. */
#define EC_IS_COMPAT(k) ((k) == EC_PLAUSIBLE || (k) == EC_UMAMI || (k) == EC_STATS_API)

/*
 * Per-request state, the MHD con_cls.  Recycled through a free list, so
 * the common request allocates nothing; released in on_completed.
 */
typedef struct EsConn
{
	struct MHD_Connection *mhd;
	EsConnKind	kind;
	bool		too_big;		/* body over edgestat.max_body: discarding */
	bool		suspended;
	bool		in_list;		/* in pending_list or sse_list */
	bool		has_final;		/* resumed with an answer to give */
	XLogRecPtr	commit_lsn;		/* in flushing_list: its batch's commit */
	dlist_node	node;
	int			final_status;
	char		final_reason[256];
	char	   *body;
	size_t		len;
	size_t		cap;
	size_t		discarded;
	/* GET /live */
	int32		site_id;
	bool		sse_closing;
	char	   *out;			/* bytes not yet handed to MHD */
	size_t		out_len;
	size_t		out_off;
	size_t		out_cap;
	/* POST /api/send: the session, for the answer after commit */
	char		compat_session[37];
	struct EsConn *next_free;
} EsConn;

/* The state of this worker process: one, defined in worker.c. */
typedef struct EsHttpWorker
{
	int			worker_no;
	MemoryContext worker_cxt;	/* lives as long as the worker */
	MemoryContext scratch_cxt;	/* reset after every MHD callback */
	struct MHD_Daemon *daemons[ES_MAX_DAEMONS];
	int			ndaemons;
	char		mhd_last_error[256];
	bool		shutting_down;

	/* connections (conn.c) */
	int			nconns_live;	/* EsConn allocated and not released */
	EsConn	   *free_conns;
	int			nfree_conns;

	/* the open batch (beacons.c) */
	EsBatch    *batch;
	bool		xact_open;
	TimestampTz batch_started;
	dlist_head	pending_list;	/* connections waiting for its commit */
	int			npending;
	/* committed batches whose commit record is not yet known durable */
	dlist_head	flushing_list;
	int			nflushing;
	XLogRecPtr	flush_target;	/* the newest of their commit records */
	TimestampTz oldest_unflushed;
	EsCidrList	trusted;		/* edgestat.trusted_proxies, parsed */

	/* /live streams (sse.c) */
	dlist_head	sse_list;
	int			nsse;
	uint64		feed_seen;
	TimestampTz last_ping;

	/* static files (static.c) */
	char	   *tracker_js;
	size_t		tracker_len;
	char		tracker_etag[40];
	char		share_dir[MAXPGPATH];
} EsHttpWorker;

extern EsHttpWorker hw;

/* ---- listen.c ---- */
extern unsigned int http_open_connections(void);
extern void http_run_daemons(void);
extern void http_start_listening(void);

/* one entry of an MHD_OPTION_ARRAY */
static inline void
http_set_option(struct MHD_OptionItem *o, enum MHD_OPTION option,
				intptr_t value, void *ptr_value)
{
	o->option = option;
	o->value = value;
	o->ptr_value = ptr_value;
}

/* ---- tls.c ---- */
extern bool es_ssl;
extern char *es_ssl_cert_file;
extern char *es_ssl_key_file;
extern void http_tls_define_settings(void);
extern int	http_tls_mhd_options(struct MHD_OptionItem *opts);
extern void http_tls_reload(void);
extern void http_tls_start(void);

/* ---- route.c ---- */
extern void http_on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
			 enum MHD_RequestTerminationCode toe);
extern enum MHD_Result http_on_request(void *cls, struct MHD_Connection *mhd, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls);

/* ---- conn.c ---- */
extern struct MHD_Response *http_body_response(const void *data, size_t len, const char *ctype);
extern EsConn *http_conn_alloc(struct MHD_Connection *mhd);
extern void http_conn_release(EsConn *c);
extern void http_conn_resume(EsConn *c);
extern enum MHD_Result http_queue(EsConn *c, int status, struct MHD_Response *r);
extern enum MHD_Result http_respond_204(EsConn *c);
extern enum MHD_Result http_respond_json(EsConn *c, int status, const char *json);
extern enum MHD_Result http_respond_text(EsConn *c, int status, const char *reason, int retry_after,
			 const char *allow);
extern enum MHD_Result http_serve_text(EsConn *c, StringInfo buf, const char *ctype);

/* ---- beacons.c ---- */
extern enum MHD_Result http_beacon_complete(EsConn *c);
extern void http_fail_batch(const char *what);
extern void http_flush_batch(void);
extern bool http_flush_due(TimestampTz now);
extern void http_answer_flushed(bool wait);
extern bool http_flush_overdue(TimestampTz now);
extern void http_load_trusted_proxies(void);

/* ---- static.c ---- */
extern void http_load_tracker(void);
extern enum MHD_Result http_serve_dashboard(EsConn *c, const char *rel);
extern enum MHD_Result http_serve_tracker(EsConn *c);

/* ---- api.c ---- */
extern int http_call_dashboard_api(const char *token, const char *endpoint,
				   const char *params, char **result);
extern enum MHD_Result http_serve_api(EsConn *c, const char *endpoint);
extern enum MHD_Result http_serve_api_call(EsConn *c, const char *token,
											 const char *endpoint, const char *params);

/* ---- compat.c ---- */
extern EsConnKind http_compat_kind(const char *url);
extern enum MHD_Result http_compat_complete(EsConn *c);
extern enum MHD_Result http_compat_answer(EsConn *c);
extern void http_compat_fill_ids(EsConn *c);
extern void http_request_client(EsConn *c, EsAddr *client);

/* ---- sse.c ---- */
extern void http_pump_feed(TimestampTz now);
extern enum MHD_Result http_serve_live(EsConn *c);
extern void http_wake_sse(void);

/* ---- metrics.c ---- */
extern void es_http_metrics_init(void);
extern void es_http_observe_batch(int events, int64 commit_us);
extern void es_http_observe_failure(void);
extern void es_http_format_metrics(StringInfo buf);
extern void es_http_format_health(StringInfo buf, int worker);

/* ---- static.c: pure checks of a path below /dashboard/ ---- */
extern bool es_static_path_ok(const char *rel);
extern const char *es_content_type_for(const char *path);

#endif							/* EDGESTAT_HTTP_INT_H */
