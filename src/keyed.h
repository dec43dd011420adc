/*-------------------------------------------------------------------------
 *
 * keyed.h
 *	  Keyed hashing (SipHash-2-4) for the shared tables whose slots and
 *	  keys come from values a client chooses: a key drawn at each server
 *	  start, so nobody can aim many keys at one run of slots.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_KEYED_H
#define EDGESTAT_KEYED_H

#include "postgres.h"

typedef struct EsHashKey
{
	uint64		k0;
	uint64		k1;
} EsHashKey;

/* SipHash-2-4 of buf under key. */
extern uint64 es_siphash(const EsHashKey *key, const void *buf, size_t len);

/* A fresh random key (pg_strong_random); ERROR if none can be had. */
extern void es_hash_key_generate(EsHashKey *key);

#endif							/* EDGESTAT_KEYED_H */
