/*-------------------------------------------------------------------------
 *
 * url.h
 *	  Splitting page and referrer URLs: host, path without query, utm_*.
 *
 * Pure code (libc only).  Results are spans into the input; es_url_decode
 * copies a span percent-decoded.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_URL_H
#define EDGESTAT_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct EsSpan
{
	const char *ptr;			/* NULL when absent */
	size_t		len;
} EsSpan;

typedef struct EsUrlParts
{
	EsSpan		host;			/* without userinfo and port */
	EsSpan		path;			/* without query and fragment; "/" if empty */
	EsSpan		utm_source;		/* raw (still percent-encoded) values */
	EsSpan		utm_medium;
	EsSpan		utm_campaign;
} EsUrlParts;

/*
 * Split an absolute http(s) URL.  Returns false for anything that is not
 * one (other schemes, no host); *out is then zeroed.
 */
extern bool es_url_split(const char *url, size_t len, EsUrlParts *out);

/*
 * Percent-decode span into out (outsize bytes, always NUL-terminated), '+'
 * as space.  Returns the decoded length, or -1 when the result would not
 * be valid UTF-8 or contain NUL (the caller then drops the value).
 */
extern long es_url_decode(EsSpan span, char *out, size_t outsize);

/*
 * Lower-case host into out (NUL-terminated), without a leading "www.".
 * Returns the length, or -1 if it does not fit.
 */
extern long es_host_normalize(EsSpan host, char *out, size_t outsize);

#endif							/* EDGESTAT_URL_H */
