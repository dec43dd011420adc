/*-------------------------------------------------------------------------
 *
 * http.h
 *	  The HTTP workers, seen from _PG_init: define their settings, their
 *	  shared metrics and register them with the postmaster.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_HTTP_H
#define EDGESTAT_HTTP_H

extern void es_http_init(void);

#endif							/* EDGESTAT_HTTP_H */
