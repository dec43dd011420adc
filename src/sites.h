/*-------------------------------------------------------------------------
 *
 * sites.h
 *	  The registered sites, cached per process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_SITES_H
#define EDGESTAT_SITES_H

#include "postgres.h"

typedef struct EsSite
{
	int32		id;
	char	   *domain;
	int			norigins;
	char	  **origins;		/* allowed Origin values, lower case */
} EsSite;

extern const EsSite *es_site_lookup(const char *domain);
extern const EsSite *es_site_require(const char *domain);
extern bool es_site_origin_allowed(const EsSite *site, const char *origin);

#endif							/* EDGESTAT_SITES_H */
