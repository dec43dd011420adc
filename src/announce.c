/*-------------------------------------------------------------------------
 *
 * announce.c
 *	  What a written batch tells the world: each visitor it touched is
 *	  marked live, and one payload per visitor goes to NOTIFY (delivered at
 *	  commit) and to the shared live feed of the /live streams
 *	  (docs/notify.md).  Owns edgestat.notify_channel and
 *	  edgestat.notify_fields.
 *
 * LISTEN needs no privilege: any role that may connect can read what is
 * sent on the channel.  So the channel can be turned off ('') and the
 * payload's fields chosen; the /live feed, readable only with a site's
 * dashboard token, always carries every field.
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
#include "utils/varlena.h"

#include "batch.h"
#include "live.h"
#include "stats.h"

static char *notify_channel = NULL;
static char *notify_fields = NULL;

/* The payload's fields, in the order they are written. */
static const char *const field_names[] = {
	"site", "v", "n", "path", "country", "city", "lat", "lon", "score",
	"live", "ts"
};

#define ALL_FIELDS ((1U << lengthof(field_names)) - 1)

/* Set by the assign hook: a bit per field of field_names. */
static uint32 notify_field_mask = ALL_FIELDS;

static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("The channel name must be at most %d bytes long.",
							NAMEDATALEN - 1);
		return false;
	}
	return true;
}

static bool
check_notify_fields(char **newval, void **extra, GucSource source)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;
	uint32		mask = 0;

	if (*newval == NULL)
		return false;
	raw = pstrdup(*newval);
	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		int			i;

		for (i = 0; i < lengthof(field_names); i++)
			if (strcmp(name, field_names[i]) == 0)
				break;
		if (i == lengthof(field_names))
		{
			GUC_check_errdetail("\"%s\" is not a field of the payload; the fields are "
								"site, v, n, path, country, city, lat, lon, score, live and ts.",
								name);
			return false;
		}
		mask |= 1U << i;
	}
	/* guc.c frees extra with free() */
#if PG_VERSION_NUM >= 160000
	*extra = guc_malloc(LOG, sizeof(uint32));
#else
	*extra = malloc(sizeof(uint32));
#endif
	if (*extra == NULL)
		return false;
	*(uint32 *) *extra = mask;
	return true;
}

static void
assign_notify_fields(const char *newval, void *extra)
{
	notify_field_mask = *(uint32 *) extra;
}

void
es_announce_init(void)
{
	DefineCustomStringVariable("edgestat.notify_channel",
							   "LISTEN/NOTIFY channel for committed events.",
							   "Empty: no NOTIFY (the /live feed goes on).  Any role that "
							   "may connect can LISTEN.",
							   &notify_channel, "edgestat",
							   PGC_SIGHUP, 0, check_notify_channel, NULL, NULL);
	DefineCustomStringVariable("edgestat.notify_fields",
							   "Fields of the NOTIFY payload.",
							   "A comma-separated subset of site, v, n, path, country, city, "
							   "lat, lon, score, live, ts.",
							   &notify_fields,
							   "site, v, n, path, country, city, lat, lon, score, live, ts",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_notify_fields,
							   assign_notify_fields, NULL);
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

/* What one payload says. */
typedef struct Payload
{
	const EsVisitorNote *note;
	char		visitor[37];
	char	   *country;
	char	   *city;
	bool		nolat;
	bool		nolon;
	double		lat;
	double		lon;
	int			score;
	int64		live;
} Payload;

static void
build_payload(StringInfo buf, const Payload *p, uint32 fields)
{
	resetStringInfo(buf);
	for (int i = 0; i < lengthof(field_names); i++)
	{
		if (!(fields & (1U << i)))
			continue;
		switch (i)
		{
			case 0:
				appendStringInfoString(buf, ",\"site\":");
				escape_json(buf, p->note->last->domain);
				break;
			case 1:
				appendStringInfo(buf, ",\"v\":\"%s\"", p->visitor);
				break;
			case 2:
				append_json_text(buf, "n", p->note->last->name, 256);
				break;
			case 3:
				append_json_text(buf, "path", p->note->last->path, 1024);
				break;
			case 4:
				append_json_text(buf, "country", p->country, 16);
				break;
			case 5:
				append_json_text(buf, "city", p->city, 256);
				break;
			case 6:
				append_json_number(buf, "lat", p->nolat, p->lat);
				break;
			case 7:
				append_json_number(buf, "lon", p->nolon, p->lon);
				break;
			case 8:
				appendStringInfo(buf, ",\"score\":%d", p->score);
				break;
			case 9:
				appendStringInfo(buf, ",\"live\":" INT64_FORMAT, p->live);
				break;
			case 10:
				appendStringInfoString(buf, ",\"ts\":");
				escape_json(buf, timestamptz_to_str(p->note->last->ts));
				break;
		}
	}
	/* every field writes its leading comma: the first one opens instead */
	if (buf->len > 0)
		buf->data[0] = '{';
	else
		appendStringInfoChar(buf, '{');
	appendStringInfoChar(buf, '}');
}

void
es_announce(const EsVisitorNote *notes, int nnotes)
{
	SiteLive   *lives = palloc(sizeof(SiteLive) * Max(nnotes, 1));
	int			nlives = 0;
	bool		notify = notify_channel[0] != '\0';
	StringInfoData buf;
	StringInfoData notified_buf;
	uint64		notified = 0;

	initStringInfo(&buf);
	initStringInfo(&notified_buf);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		EsVisitorNote key;
		const EsVisitorNote *fold;
		Payload		p;
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
		p.live = lives[i].live;

		/* the payloads: every field for the feed, the chosen for NOTIFY */
		p.note = fold;
		es_uuid_format(fold->visitor.data, p.visitor);
		p.country = SPI_getvalue(tup, desc, 4);
		p.city = SPI_getvalue(tup, desc, 5);
		p.lat = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &p.nolat));
		p.lon = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &p.nolon));
		p.score = DatumGetInt16(SPI_getbinval(tup, desc, 3, &isnull));
		build_payload(&buf, &p, ALL_FIELDS);
		es_feed_queue(fold->site_id, buf.data);
		if (notify)
		{
			if (notify_field_mask == ALL_FIELDS)
				Async_Notify(notify_channel, buf.data);
			else
			{
				build_payload(&notified_buf, &p, notify_field_mask);
				Async_Notify(notify_channel, notified_buf.data);
			}
			notified++;
		}
	}
	es_count(ES_C_NOTIFICATIONS, notified);
	pfree(buf.data);
	pfree(notified_buf.data);
}
