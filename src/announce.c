/*-------------------------------------------------------------------------
 *
 * announce.c
 *	  What a written batch tells the world: each visitor it touched is
 *	  marked live, and one payload per visitor goes to NOTIFY (delivered at
 *	  commit) and to the shared live feed of the /live streams
 *	  (docs/notify.md).  Owns edgestat.notify_channel.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "live.h"
#include "stats.h"

static char *notify_channel = NULL;

static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' ||
		strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("The channel name must be 1 to %d bytes long.",
							NAMEDATALEN - 1);
		return false;
	}
	return true;
}

void
es_announce_init(void)
{
	DefineCustomStringVariable("edgestat.notify_channel",
							   "LISTEN/NOTIFY channel for committed events.",
							   NULL, &notify_channel, "edgestat",
							   PGC_SIGHUP, 0, check_notify_channel, NULL, NULL);
}

static int
cmp_note(const void *a, const void *b)
{
	const EsVisitorNote *x = a;
	const EsVisitorNote *y = b;

	if (x->site_id != y->site_id)
		return x->site_id < y->site_id ? -1 : 1;
	return memcmp(x->visitor.data, y->visitor.data, UUID_LEN);
}

typedef struct SiteLive
{
	int32		site_id;
	int64		live;
} SiteLive;

static void
append_json_number(StringInfo buf, const char *key, bool isnull, double value)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (isnull)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.6f", value);
}

static void
append_json_text(StringInfo buf, const char *key, const char *value, int maxbytes)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
	{
		int			len = strlen(value);

		if (len > maxbytes)
		{
			char	   *clipped = pnstrdup(value,
										   pg_mbcliplen(value, len, maxbytes));

			escape_json(buf, clipped);
			pfree(clipped);
		}
		else
			escape_json(buf, value);
	}
}

void
es_announce(const EsVisitorNote *notes, int nnotes)
{
	SiteLive   *lives = palloc(sizeof(SiteLive) * Max(nnotes, 1));
	int			nlives = 0;
	char	   *channel = notify_channel;
	StringInfoData buf;
	uint64		notified = 0;

	initStringInfo(&buf);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		EsVisitorNote key;
		const EsVisitorNote *fold;
		int64		live = 0;
		char		vtext[37];
		char	   *country,
				   *city;
		double		lat,
					lon;
		bool		nolat,
					nolon;
		int			i;

		key.site_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		memcpy(key.visitor.data,
			   DatumGetUUIDP(SPI_getbinval(tup, desc, 2, &isnull))->data, UUID_LEN);
		fold = bsearch(&key, notes, nnotes, sizeof(EsVisitorNote), cmp_note);
		if (fold == NULL)
			continue;

		/* live */
		es_live_touch(fold->site_id, fold->visitor.data);
		for (i = 0; i < nlives; i++)
			if (lives[i].site_id == fold->site_id)
				break;
		if (i == nlives)
		{
			lives[i].site_id = fold->site_id;
			lives[i].live = -1;
			nlives++;
		}
		/* counted after this visitor's touch, once per site and batch */
		if (lives[i].live < 0)
			lives[i].live = es_live_count(fold->site_id);
		live = lives[i].live;

		/* the payload */
		country = SPI_getvalue(tup, desc, 4);
		city = SPI_getvalue(tup, desc, 5);
		lat = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &nolat));
		lon = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &nolon));
		es_uuid_format(fold->visitor.data, vtext);

		resetStringInfo(&buf);
		appendStringInfoString(&buf, "{\"site\":");
		escape_json(&buf, fold->last->domain);
		appendStringInfo(&buf, ",\"v\":\"%s\"", vtext);
		append_json_text(&buf, "n", fold->last->name, 256);
		append_json_text(&buf, "path", fold->last->path, 1024);
		append_json_text(&buf, "country", country, 16);
		append_json_text(&buf, "city", city, 256);
		append_json_number(&buf, "lat", nolat, nolat ? 0 : lat);
		append_json_number(&buf, "lon", nolon, nolon ? 0 : lon);
		appendStringInfo(&buf, ",\"score\":%d,\"live\":" INT64_FORMAT ",\"ts\":",
						 DatumGetInt16(SPI_getbinval(tup, desc, 3, &isnull)), live);
		escape_json(&buf, timestamptz_to_str(fold->last->ts));
		appendStringInfoChar(&buf, '}');

		Async_Notify(channel, buf.data);
		es_feed_queue(fold->site_id, buf.data);
		notified++;
	}
	es_count(ES_C_NOTIFICATIONS, notified);
	pfree(buf.data);
}
