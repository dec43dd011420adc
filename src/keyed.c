/*-------------------------------------------------------------------------
 *
 * keyed.c
 *	  SipHash-2-4 (Aumasson and Bernstein), the keyed hash of the shared
 *	  tables (dedup.c, live.c, ratelimit.c), and their per-start keys.
 *
 * The unkeyed hashes these tables used let a client who knows the code
 * choose visitor ids, event contents or addresses that all land in one
 * run of slots, evicting everyone else's entries.  With a secret key per
 * server start that is guesswork.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "keyed.h"

#define ROTL(x, b) (uint64) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static inline uint64
read_le64(const uint8 *p)
{
	return (uint64) p[0] | ((uint64) p[1] << 8) | ((uint64) p[2] << 16) |
		((uint64) p[3] << 24) | ((uint64) p[4] << 32) | ((uint64) p[5] << 40) |
		((uint64) p[6] << 48) | ((uint64) p[7] << 56);
}

uint64
es_siphash(const EsHashKey *key, const void *buf, size_t len)
{
	const uint8 *in = buf;
	const uint8 *end = in + len - (len % 8);
	uint64		v0 = UINT64CONST(0x736f6d6570736575) ^ key->k0;
	uint64		v1 = UINT64CONST(0x646f72616e646f6d) ^ key->k1;
	uint64		v2 = UINT64CONST(0x6c7967656e657261) ^ key->k0;
	uint64		v3 = UINT64CONST(0x7465646279746573) ^ key->k1;
	uint64		b = ((uint64) len) << 56;
	int			left = (int) (len & 7);

	for (; in != end; in += 8)
	{
		uint64		m = read_le64(in);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (int i = left - 1; i >= 0; i--)
		b |= ((uint64) in[i]) << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void
es_hash_key_generate(EsHashKey *key)
{
	static const uint8 kat_in[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	EsHashKey	kat_key;

	/*
	 * The reference implementation's known answer for key 00..0f and
	 * message 00..0e: a miscompiled hash is found at start, not in a
	 * flood.
	 */
	kat_key.k0 = UINT64CONST(0x0706050403020100);
	kat_key.k1 = UINT64CONST(0x0f0e0d0c0b0a0908);
	if (es_siphash(&kat_key, kat_in, sizeof(kat_in)) != UINT64CONST(0xa129ca6149be45e5))
		elog(ERROR, "edgestat: SipHash does not match its known answer");

	if (!pg_strong_random(key, sizeof(*key)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("edgestat: could not generate a random hash key")));
}
