/*-------------------------------------------------------------------------
 *
 * identity.h
 *	  Server-side visitor and session ids for traffic that carries none
 *	  (Plausible's and Umami's APIs): docs/compat.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_IDENTITY_H
#define EDGESTAT_IDENTITY_H

#include "postgres.h"

#include "addr.h"

/* What es_identity_assign gives one event. */
typedef struct EsIdentity
{
	uint8		visitor[16];
	uint8		session[16];
	int64		seq;			/* the event's number in its session, from 1 */
	int64		engaged_ms;		/* the session's engaged time so far */
	int64		interactions;	/* the session's interactive events so far */
} EsIdentity;

extern void es_identity_init(void);

/*
 * The ids of one event of site domain from client with user_agent: the
 * visitor is a keyed hash under today's salt; the session is the one this
 * visitor continued less than 30 minutes ago, in any process, or a new
 * one.  engaged_ms is added to the session's engaged time; interaction
 * counts one interaction.
 */
extern void es_identity_assign(const char *domain, const EsAddr *client,
							   const char *user_agent, int64 engaged_ms,
							   bool interaction, EsIdentity *out);

#endif							/* EDGESTAT_IDENTITY_H */
