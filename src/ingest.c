/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  The SQL face of the pipeline: edgestat.ingest() runs steps 1-8 for
 *	  one body in the caller's transaction, and edgestat.live_visitors()
 *	  reads the live counts.
 *
 * A refused body is an ERROR whose SQLSTATE says why (the same verdict
 * the HTTP worker turns into a status code), so nothing of it is stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inet.h"

#include "live.h"
#include "pipeline.h"
#include "shmem.h"
#include "sites.h"

static void
require_shmem(void)
{
	if (!es_shmem_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edgestat must be loaded via shared_preload_libraries"),
				 errhint("Add edgestat to shared_preload_libraries in postgresql.conf and restart the server.")));
}

static void
inet_to_addr(inet *in, EsAddr *out)
{
	memset(out, 0, sizeof(*out));
	if (ip_family(in) == PGSQL_AF_INET)
	{
		out->family = 4;
		memcpy(out->bytes, ip_addr(in), 4);
	}
	else
	{
		out->family = 6;
		memcpy(out->bytes, ip_addr(in), 16);
		es_addr_unmap(out);
	}
}

static int
reject_sqlstate(EsReject reject)
{
	switch (reject)
	{
		case ES_REJECT_MALFORMED:
			return ERRCODE_INVALID_TEXT_REPRESENTATION;
		case ES_REJECT_INVALID:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case ES_REJECT_UNKNOWN_SITE:
			return ERRCODE_UNDEFINED_OBJECT;
		case ES_REJECT_ORIGIN:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case ES_REJECT_RATE_LIMIT:
			return ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
		case ES_REJECT_OVERLOAD:
		case ES_REJECT_NONE:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

static const char *
reject_message(EsReject reject)
{
	switch (reject)
	{
		case ES_REJECT_MALFORMED:
			return "malformed beacon body";
		case ES_REJECT_INVALID:
			return "invalid beacon";
		case ES_REJECT_UNKNOWN_SITE:
			return "unknown site";
		case ES_REJECT_ORIGIN:
			return "origin not allowed";
		case ES_REJECT_RATE_LIMIT:
			return "rate limit exceeded";
		default:
			return "beacon refused";
	}
}

PG_FUNCTION_INFO_V1(edgestat_ingest);

/* ingest(body text, client_ip inet DEFAULT NULL, user_agent text DEFAULT NULL) */
Datum
edgestat_ingest(PG_FUNCTION_ARGS)
{
	text	   *body;
	EsRequest	req;
	EsOutcome	out;
	EsBatch    *batch;

	require_shmem();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("beacon body must not be null")));
	body = PG_GETARG_TEXT_PP(0);

	memset(&req, 0, sizeof(req));
	if (!PG_ARGISNULL(1))
		inet_to_addr(PG_GETARG_INET_PP(1), &req.client);
	req.user_agent = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));

	batch = es_batch_create(CurrentMemoryContext);
	es_batch_add(batch, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), &req, &out);
	if (out.status >= 300)
		ereport(ERROR,
				(errcode(reject_sqlstate(out.reject)),
				 errmsg("%s", reject_message(out.reject)),
				 errdetail("%s", out.reason)));

	es_batch_write(batch);
	PG_RETURN_INT32(out.accepted);
}

PG_FUNCTION_INFO_V1(edgestat_live_visitors);

Datum
edgestat_live_visitors(PG_FUNCTION_ARGS)
{
	char	   *domain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const EsSite *site;

	require_shmem();
	site = es_site_require(domain);
	PG_RETURN_INT64(es_live_count(site->id));
}
