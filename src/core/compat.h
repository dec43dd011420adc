/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Translation of Plausible's events API and Umami's collect API bodies
 *	  into edgestat beacons (docs/compat.md).
 *
 * Pure code: cJSON and libc only, unit-tested outside PostgreSQL.  A
 * foreign body becomes one or more beacon objects (keys d, n, u, r, p, w,
 * sd, rv) that still lack the ids; the caller asks its identity for each
 * (es_compat_identify) and prints the whole as one beacon body, which then
 * goes through the same validation as POST /e.  Errors come back as a
 * message in the style of the foreign API.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_COMPAT_H
#define EDGESTAT_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Plausible lets one event name several sites ("d": "a.com,b.com"), and
 * an edgestat body holds up to ES_MAX_EVENTS_PER_BODY events.
 */
#define ES_COMPAT_MAX_EVENTS	50
#define ES_COMPAT_MAX_DOMAINS	8

typedef enum EsCompatKind
{
	ES_COMPAT_PAGEVIEW,
	ES_COMPAT_ENGAGEMENT,		/* Plausible's "engagement": sd and e */
	ES_COMPAT_CUSTOM
} EsCompatKind;

typedef struct EsCompatItem
{
	struct cJSON *beacon;		/* an object in EsCompatOut.beacons */
	const char *domain;			/* its "d"; NULL until known (Umami) */
	EsCompatKind kind;
	bool		interactive;	/* counts as an interaction (Plausible "i") */
	int64_t		engaged_ms;		/* Plausible "e": engaged since last report */
	bool		needs_ids;		/* es_compat_edgestat: v and s absent */
} EsCompatItem;

typedef struct EsCompatOut
{
	struct cJSON *beacons;		/* an array; owns every string */
	int			count;
	EsCompatItem items[ES_COMPAT_MAX_EVENTS];
	bool		nothing;		/* Umami "identify": valid, nothing to store */
	uint8_t		website[16];	/* Umami: the site's public_id */
} EsCompatOut;

/*
 * Parse a foreign body.  Returns true and fills *out (free it with
 * es_compat_free), or false with a message in err and nothing to free.
 */
extern bool es_compat_plausible(const char *body, size_t len, EsCompatOut *out,
								char *err, size_t errlen);
extern bool es_compat_umami(const char *body, size_t len, EsCompatOut *out,
							char *err, size_t errlen);

/*
 * edgestat's own beacons without ids (its tracker's data-storage="none"):
 * when some event of body has neither "v" nor "s", fills *out with every
 * event (items[i].needs_ids for those) and returns true; the caller
 * identifies those and prints the body anew.  Returns false, with nothing
 * to free, when no event lacks its ids or the body is not one the beacon
 * parser could take (it then refuses it with the reason).
 */
extern bool es_compat_edgestat(const char *body, size_t len, EsCompatOut *out);

/* Umami: the domain of the site found by its public_id. */
extern void es_compat_set_domain(EsCompatOut *out, const char *domain);

/*
 * The ids of item i, and what the caller's session table folded: the
 * event's number in its session (q, so that repeats are not duplicates),
 * the session's engaged time (et, cumulative) and interactions (ic), each
 * omitted when negative.
 */
extern void es_compat_identify(EsCompatOut *out, int i, const uint8_t visitor[16],
							   const uint8_t session[16], int64_t seq,
							   int64_t engaged_ms, int64_t interactions);

/* The beacon body: one object, or an array when several.  cJSON-allocated. */
extern char *es_compat_print(const EsCompatOut *out);
extern void es_compat_free(EsCompatOut *out);

/* Byte length of the first maxchars characters of UTF-8 s. */
extern size_t es_compat_clip(const char *s, size_t maxchars);

#endif							/* EDGESTAT_COMPAT_H */
