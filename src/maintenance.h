/*-------------------------------------------------------------------------
 *
 * maintenance.h
 *	  The maintenance worker: the housekeeping that need not happen before
 *	  a beacon is answered (sealing hours, partitions, retention, alerts).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_MAINTENANCE_H
#define EDGESTAT_MAINTENANCE_H

#include "postgres.h"

#include "lib/stringinfo.h"

extern void es_maintenance_init(void);

/* For /healthz: the maintenance worker's last error, as JSON members. */
extern void es_maintenance_format_health(StringInfo buf);

#endif							/* EDGESTAT_MAINTENANCE_H */
