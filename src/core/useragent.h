/*-------------------------------------------------------------------------
 *
 * useragent.h
 *	  Compact User-Agent classifier: bot, browser, OS and device class.
 *
 * Pure code (libc only).  Every name returned is a static string.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_USERAGENT_H
#define EDGESTAT_USERAGENT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct EsUserAgent
{
	bool		bot;			/* crawler, monitor, headless, library */
	const char *browser;		/* "Chrome", "Firefox", ... or "Other" */
	const char *os;				/* "Windows", "macOS", "iOS", ... or "Other" */
	const char *device;			/* "desktop", "mobile", "tablet" */
	bool		device_from_ua; /* false: device came from the viewport */
} EsUserAgent;

/*
 * Classify ua (len bytes, need not be NUL-terminated; NULL or empty is a
 * bot: real browsers always send one).  viewport_width is the beacon's w, or
 * 0 when unknown; it decides the device class when the User-Agent does not.
 */
extern void es_classify_user_agent(const char *ua, size_t len,
								   int viewport_width, EsUserAgent *out);

/* The device class a viewport width alone implies (0: unknown). */
extern const char *es_device_from_width(int viewport_width);

#endif							/* EDGESTAT_USERAGENT_H */
