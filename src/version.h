/*-------------------------------------------------------------------------
 *
 * version.h
 *	  The version of the SQL objects this library is built for, and the
 *	  check a worker makes when it finds the extension installed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_VERSION_H
#define EDGESTAT_VERSION_H

/* default_version of edgestat.control: they change together */
#define ES_EXTENSION_VERSION "1.1"

/*
 * Logs, once, when the database's extension is older or newer than this
 * library (the package upgraded, ALTER EXTENSION ... UPDATE not yet run).
 * The library serves either way: every version it knows keeps the tables
 * it writes.  Must run in a transaction.
 */
extern void es_check_extension_version(void);

#endif							/* EDGESTAT_VERSION_H */
