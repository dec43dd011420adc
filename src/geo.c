/*-------------------------------------------------------------------------
 *
 * geo.c
 *	  Geolocation of the client address with libmaxminddb.
 *
 * Each process maps edgestat.geoip_database once and keeps it; the file is
 * reopened when the setting names another file or, after SIGHUP, when the
 * file itself was replaced.  A missing or unreadable database is one
 * WARNING per path, after which lookups simply find nothing: geolocation
 * is an enrichment, never a reason to refuse an event.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <maxminddb.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "geo.h"
#include "stats.h"

static char *geoip_database = NULL;
static MMDB_s mmdb;
static bool mmdb_open = false;
static char *mmdb_path = NULL;	/* what we opened (or failed to), malloc'd
								 * by strdup in TopMemoryContext */
static ino_t mmdb_ino;
static time_t mmdb_mtime;

static void
geo_close(void)
{
	if (mmdb_open)
		MMDB_close(&mmdb);
	mmdb_open = false;
}

static void
geo_open(const char *path)
{
	struct stat st;
	int			rc;

	geo_close();
	if (mmdb_path)
		pfree(mmdb_path);
	mmdb_path = MemoryContextStrdup(TopMemoryContext, path);
	if (path[0] == '\0')
		return;

	if (stat(path, &st) != 0)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("edgestat: could not open GeoIP database \"%s\": %m", path),
				 errdetail("Events are stored without location until edgestat.geoip_database names a readable .mmdb file.")));
		return;
	}
	rc = MMDB_open(path, MMDB_MODE_MMAP, &mmdb);
	if (rc != MMDB_SUCCESS)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("edgestat: could not open GeoIP database \"%s\": %s",
						path, MMDB_strerror(rc)),
				 errdetail("Events are stored without location until edgestat.geoip_database names a valid .mmdb file.")));
		return;
	}
	mmdb_open = true;
	mmdb_ino = st.st_ino;
	mmdb_mtime = st.st_mtime;
}

void
es_geo_init(void)
{
	DefineCustomStringVariable("edgestat.geoip_database",
							   "Path of a MaxMind DB (.mmdb) file; empty disables geolocation.",
							   NULL, &geoip_database, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
}

void
es_geo_reload_if_changed(void)
{
	const char *want = geoip_database ? geoip_database : "";
	struct stat st;

	if (mmdb_path == NULL || strcmp(mmdb_path, want) != 0)
	{
		geo_open(want);
		return;
	}
	if (want[0] != '\0' && stat(want, &st) == 0 &&
		(!mmdb_open || st.st_ino != mmdb_ino || st.st_mtime != mmdb_mtime))
		geo_open(want);
}

static bool
entry_string(MMDB_entry_s *entry, char *out, size_t outsize, ...)
{
	MMDB_entry_data_s data;
	va_list		path;
	int			rc;

	va_start(path, outsize);
	rc = MMDB_vget_value(entry, &data, path);
	va_end(path);
	if (rc != MMDB_SUCCESS || !data.has_data ||
		data.type != MMDB_DATA_TYPE_UTF8_STRING)
		return false;
	if (data.data_size >= outsize)
		return false;
	memcpy(out, data.utf8_string, data.data_size);
	out[data.data_size] = '\0';
	/* A database from elsewhere is input like any other. */
	if (strlen(out) != data.data_size || !pg_verifymbstr(out, data.data_size, true))
	{
		out[0] = '\0';
		return false;
	}
	return true;
}

static bool
entry_double(MMDB_entry_s *entry, double *out, ...)
{
	MMDB_entry_data_s data;
	va_list		path;
	int			rc;

	va_start(path, out);
	rc = MMDB_vget_value(entry, &data, path);
	va_end(path);
	if (rc != MMDB_SUCCESS || !data.has_data)
		return false;
	if (data.type == MMDB_DATA_TYPE_DOUBLE)
		*out = data.double_value;
	else if (data.type == MMDB_DATA_TYPE_FLOAT)
		*out = data.float_value;
	else
		return false;
	return true;
}

void
es_geo_lookup(const EsAddr *addr, EsGeo *out)
{
	struct sockaddr_storage ss;
	MMDB_lookup_result_s result;
	int			gai_error = 0;
	int			mmdb_error = MMDB_SUCCESS;

	memset(out, 0, sizeof(*out));
	if (mmdb_path == NULL ||
		strcmp(mmdb_path, geoip_database ? geoip_database : "") != 0)
		es_geo_reload_if_changed();
	if (!mmdb_open || addr->family == 0)
		return;

	memset(&ss, 0, sizeof(ss));
	if (addr->family == 4)
	{
		struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr->bytes, 4);
	}
	else
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr->bytes, 16);
	}

	es_count(ES_C_GEO_LOOKUPS, 1);
	result = MMDB_lookup_sockaddr(&mmdb, (struct sockaddr *) &ss, &mmdb_error);
	(void) gai_error;
	if (mmdb_error != MMDB_SUCCESS || !result.found_entry)
	{
		es_count(ES_C_GEO_MISSES, 1);
		return;
	}
	out->found = true;

	/*
	 * MaxMind's GeoIP2/GeoLite2 layout nests its names; the flat layout of
	 * the ip-location-db databases (country_code, state1, city, latitude,
	 * longitude) is read when the nested one is absent.
	 */
	if (!entry_string(&result.entry, out->country, sizeof(out->country),
					  "country", "iso_code", NULL))
		entry_string(&result.entry, out->country, sizeof(out->country),
					 "country_code", NULL);
	if (!entry_string(&result.entry, out->region, sizeof(out->region),
					  "subdivisions", "0", "names", "en", NULL))
		entry_string(&result.entry, out->region, sizeof(out->region),
					 "state1", NULL);
	if (!entry_string(&result.entry, out->city, sizeof(out->city),
					  "city", "names", "en", NULL))
		entry_string(&result.entry, out->city, sizeof(out->city), "city", NULL);
	out->has_location =
		(entry_double(&result.entry, &out->latitude, "location", "latitude", NULL) &&
		 entry_double(&result.entry, &out->longitude, "location", "longitude", NULL)) ||
		(entry_double(&result.entry, &out->latitude, "latitude", NULL) &&
		 entry_double(&result.entry, &out->longitude, "longitude", NULL));
}
