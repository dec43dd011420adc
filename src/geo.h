/*-------------------------------------------------------------------------
 *
 * geo.h
 *	  Geolocation of the client address with libmaxminddb.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_GEO_H
#define EDGESTAT_GEO_H

#include "postgres.h"

#include "addr.h"

typedef struct EsGeo
{
	bool		found;
	char		country[3];		/* ISO 3166-1 alpha-2 */
	char		region[64];
	char		city[96];
	double		latitude;
	double		longitude;
	bool		has_location;
} EsGeo;

extern void es_geo_init(void);
extern void es_geo_lookup(const EsAddr *addr, EsGeo *out);
extern void es_geo_reload_if_changed(void);

#endif							/* EDGESTAT_GEO_H */
