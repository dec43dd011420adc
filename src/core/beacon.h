/*-------------------------------------------------------------------------
 *
 * beacon.h
 *	  Parsing and validation of beacon bodies (docs/http.md).
 *
 * Pure code: depends on cJSON and libc only, never on a backend symbol, so
 * it is unit-tested and fuzzed outside PostgreSQL.  Errors come back as
 * values.  Strings in an EsBeacon point into the cJSON tree owned by the
 * EsBeaconList; they are valid UTF-8 and contain no NUL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_BEACON_H
#define EDGESTAT_BEACON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_MAX_EVENTS_PER_BODY	50
#define ES_MAX_NAME_CHARS		64
#define ES_MAX_URL_CHARS		2048
#define ES_MAX_DOMAIN_CHARS		253
#define ES_MAX_PROPS			16
#define ES_MAX_PROP_KEY_CHARS	64
#define ES_MAX_PROP_VALUE_CHARS 256

/* Upper bounds of the integer keys; anything larger is a 400. */
#define ES_MAX_SEQ				INT64_C(2147483647)
#define ES_MAX_ENGAGED_MS		INT64_C(31536000000)	/* one year */
#define ES_MAX_INTERACTIONS		INT64_C(2147483647)
#define ES_MAX_VIEWPORT			100000

/*
 * Revenue ("rv"): a JSON number below ES_MAX_REVENUE_NUMBER, kept to 6
 * decimals (a double holds 9 + 6 digits exactly), or a decimal string of
 * at most 15 + 6 digits; never negative, never an exponent.
 */
#define ES_MAX_REVENUE_NUMBER	1e9
#define ES_MAX_REVENUE_INT_DIGITS 15
#define ES_MAX_REVENUE_FRAC_DIGITS 6
#define ES_REVENUE_BUF			(ES_MAX_REVENUE_INT_DIGITS + 1 + ES_MAX_REVENUE_FRAC_DIGITS + 1)

typedef enum EsEventKind
{
	ES_EVENT_PAGEVIEW,
	ES_EVENT_HEARTBEAT,
	ES_EVENT_SCROLL,
	ES_EVENT_INTERACTION,
	ES_EVENT_LEAVE,
	ES_EVENT_CUSTOM
} EsEventKind;

typedef struct EsBeacon
{
	const char *domain;			/* d */
	const char *name;			/* n */
	EsEventKind kind;			/* n classified */
	const char *url;			/* u */
	uint8_t		visitor[16];	/* v, binary UUID */
	uint8_t		session[16];	/* s, binary UUID */
	const char *referrer;		/* r, NULL when absent or empty */
	bool		has_seq;
	bool		has_scroll;
	bool		has_engaged;
	bool		has_interactions;
	bool		has_width;
	int64_t		seq;			/* q */
	int32_t		scroll;			/* sd, 0..100 */
	int64_t		engaged_ms;		/* et */
	int64_t		interactions;	/* ic */
	int32_t		width;			/* w */
	const struct cJSON *props;	/* p, an object of strings, or NULL */
	bool		has_revenue;	/* rv present: both fields below are set */
	char		revenue[ES_REVENUE_BUF];	/* rv.amount, normalised decimal:
											 * "19.9", "0", "1200" */
	char		currency[4];	/* rv.currency, ISO 4217: "EUR" */
} EsBeacon;

typedef struct EsBeaconList
{
	struct cJSON *root;			/* owns every string above */
	int			count;
	EsBeacon	items[ES_MAX_EVENTS_PER_BODY];
} EsBeaconList;

typedef struct EsBeaconError
{
	int			index;			/* event index in an array, -1 for the body */
	char		message[192];	/* human readable, names the key */
} EsBeaconError;

/*
 * Parse and validate a whole body.  Returns true and fills *list (call
 * es_beacon_list_free afterwards), or returns false with *err set and
 * nothing to free.  The body need not be NUL-terminated.
 */
extern bool es_beacon_parse(const char *body, size_t len,
							EsBeaconList *list, EsBeaconError *err);
extern void es_beacon_list_free(EsBeaconList *list);

/* Helpers shared with other pure code and the glue. */
extern bool es_utf8_valid(const char *s, size_t len);
extern size_t es_utf8_chars(const char *s, size_t len);
extern bool es_uuid_parse(const char *text, uint8_t out[16]);
extern void es_uuid_format(const uint8_t uuid[16], char out[37]);
extern int	es_hex_digit(char c);	/* 0..15, or -1 for a non-hex char */

#endif							/* EDGESTAT_BEACON_H */
