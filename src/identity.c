/*-------------------------------------------------------------------------
 *
 * identity.c
 *	  Server-side visitor and session ids (docs/compat.md): the daily salt
 *	  and the table of recent sessions, both in shared memory only, and
 *	  edgestat.rotate_identity_salt().
 *
 * visitor = HMAC-SHA256(salt of the UTC day, site, client address,
 * User-Agent), cut to a UUID.  The salt is 256 random bits made at the
 * first event of a UTC day; the previous day's salt is kept one more day
 * so that a visit running across midnight keeps its visitor, and is then
 * overwritten: no salt is ever older than 48 hours, and none is ever
 * written anywhere but here.  Without the salt a visitor id cannot be
 * tied back to an address by trying all addresses.
 *
 * A session is the same visitor with less than 30 minutes between
 * events.  The recent sessions live in a small shared table keyed by the
 * visitor id, so every HTTP worker continues the same session; the table
 * also folds what Plausible reports per event into what a beacon carries
 * per session (engaged time, interactions, an event number).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hmac.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "identity.h"
#include "shmem.h"

#define ID_PROBE		8
#define ID_SALT_BYTES	32
#define ID_SESSION_GAP	(30 * 60 * USECS_PER_SEC)

typedef struct IdSlot
{
	uint8		visitor[16];
	uint8		session[16];
	TimestampTz last_seen;		/* 0: empty */
	int64		engaged_ms;
	int32		interactions;
	int32		seq;
} IdSlot;

typedef struct IdShared
{
	int32		day;			/* UTC day of salt[0]; -1: none yet */
	bool		has_prev;		/* salt[1] is the previous day's */
	uint8		salt[2][ID_SALT_BYTES];
	uint32		mask;
	IdSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} IdShared;

static IdShared *ids = NULL;
static LWLock *id_lock = NULL;
static int	identity_sessions = 16384;

PG_FUNCTION_INFO_V1(es_rotate_identity_salt);

static Size
identity_shmem_size(void)
{
	return add_size(offsetof(IdShared, slots),
					mul_size(es_table_slots(identity_sessions, 1U << 24),
							 sizeof(IdSlot)));
}

static void
identity_shmem_attach(void *ptr, bool found)
{
	ids = ptr;
	if (!found)
	{
		uint32		n = es_table_slots(identity_sessions, 1U << 24);

		memset(ids, 0, offsetof(IdShared, slots));
		ids->day = -1;
		ids->mask = n - 1;
		memset(ids->slots, 0, n * sizeof(IdSlot));
	}
	id_lock = &(GetNamedLWLockTranche("edgestat_identity"))->lock;
}

static const EsShmemPart identity_part = {
	"edgestat identity", identity_shmem_size, identity_shmem_attach,
	"edgestat_identity", 1
};

void
es_identity_init(void)
{
	DefineCustomIntVariable("edgestat.identity_sessions",
							"Recent server-side sessions kept in shared memory.",
							NULL, &identity_sessions, 16384, 1024, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	es_shmem_register(&identity_part);
}

static int32
utc_day(TimestampTz now)
{
	return (int32) (now / USECS_PER_DAY);
}

static void
new_salt(uint8 out[ID_SALT_BYTES])
{
	if (!pg_strong_random(out, ID_SALT_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("edgestat: could not generate a random identity salt")));
}

/*
 * Make salt[0] today's, keeping yesterday's as salt[1] and dropping
 * anything older.  Caller holds id_lock exclusively; fresh is the new
 * salt, made before taking the lock.
 */
static void
rotate_locked(int32 today, const uint8 fresh[ID_SALT_BYTES])
{
	if (ids->day >= 0 && today == ids->day + 1)
	{
		memcpy(ids->salt[1], ids->salt[0], ID_SALT_BYTES);
		ids->has_prev = true;
	}
	else
	{
		explicit_bzero(ids->salt[1], ID_SALT_BYTES);
		ids->has_prev = false;
	}
	memcpy(ids->salt[0], fresh, ID_SALT_BYTES);
	ids->day = today;
}

/* Today's salt and, if kept, yesterday's; rotating when the day changed. */
static bool
current_salts(TimestampTz now, uint8 cur[ID_SALT_BYTES], uint8 prev[ID_SALT_BYTES])
{
	int32		today = utc_day(now);
	bool		has_prev;

	LWLockAcquire(id_lock, LW_SHARED);
	if (ids->day != today)
	{
		uint8		fresh[ID_SALT_BYTES];

		LWLockRelease(id_lock);
		new_salt(fresh);
		LWLockAcquire(id_lock, LW_EXCLUSIVE);
		/* another process may have rotated meanwhile */
		if (ids->day != today)
			rotate_locked(today, fresh);
		explicit_bzero(fresh, sizeof(fresh));
	}
	memcpy(cur, ids->salt[0], ID_SALT_BYTES);
	has_prev = ids->has_prev;
	if (has_prev)
		memcpy(prev, ids->salt[1], ID_SALT_BYTES);
	LWLockRelease(id_lock);
	return has_prev;
}

/*
 * HMAC-SHA256 under key of the parts, cut to a version-8 UUID.  With
 * OpenSSL the HMAC context is tracked by the current resource owner,
 * which the HTTP worker has none of between transactions: it then lends
 * one of its own for the call.
 */
static void
keyed_uuid(const uint8 key[ID_SALT_BYTES], const void *const *parts,
		   const size_t *lens, int nparts, uint8 out[16])
{
	static ResourceOwner own = NULL;
	ResourceOwner saved = CurrentResourceOwner;
	pg_hmac_ctx *ctx;
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	bool		ok;

	if (CurrentResourceOwner == NULL)
	{
		if (own == NULL)
			own = ResourceOwnerCreate(NULL, "edgestat identity");
		CurrentResourceOwner = own;
	}
	PG_TRY();
	{
		ctx = pg_hmac_create(PG_SHA256);
		ok = ctx != NULL && pg_hmac_init(ctx, key, ID_SALT_BYTES) == 0;
		for (int i = 0; ok && i < nparts; i++)
		{
			/* length-prefixed, so no two different inputs hash alike */
			uint32		len = pg_hton32((uint32) lens[i]);

			ok = pg_hmac_update(ctx, (const uint8 *) &len, sizeof(len)) == 0 &&
				pg_hmac_update(ctx, parts[i], lens[i]) == 0;
		}
		ok = ok && pg_hmac_final(ctx, mac, sizeof(mac)) == 0;
		if (ctx)
			pg_hmac_free(ctx);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = saved;
	}
	PG_END_TRY();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("edgestat: could not compute a visitor id")));
	memcpy(out, mac, 16);
	out[6] = (out[6] & 0x0F) | 0x80;	/* version 8: custom */
	out[8] = (out[8] & 0x3F) | 0x80;	/* RFC 4122 variant */
	explicit_bzero(mac, sizeof(mac));
}

static void
visitor_id(const uint8 salt[ID_SALT_BYTES], const char *domain,
		   const EsAddr *client, const char *ua, uint8 out[16])
{
	const void *parts[3] = {domain, client, ua};
	size_t		lens[3] = {strlen(domain), sizeof(EsAddr), strlen(ua)};

	keyed_uuid(salt, parts, lens, 3, out);
}

/* The live slot of visitor, or NULL; *free_slot: where a new one goes. */
static IdSlot *
find_slot(const uint8 visitor[16], TimestampTz now, IdSlot **free_slot)
{
	uint32		h;
	IdSlot	   *victim = NULL;
	bool		victim_live = false;

	memcpy(&h, visitor, sizeof(h));
	for (int i = 0; i < ID_PROBE; i++)
	{
		IdSlot	   *s = &ids->slots[(h + i) & ids->mask];
		bool		live = s->last_seen != 0 && now - s->last_seen < ID_SESSION_GAP;

		if (live && memcmp(s->visitor, visitor, 16) == 0)
			return s;
		/* an empty or expired slot, else the one seen longest ago */
		if (!live)
		{
			if (victim == NULL || victim_live)
				victim = s;
			victim_live = false;
		}
		else if (victim == NULL || (victim_live && s->last_seen < victim->last_seen))
		{
			victim = s;
			victim_live = true;
		}
	}
	if (free_slot)
		*free_slot = victim;
	return NULL;
}

void
es_identity_assign(const char *domain, const EsAddr *client,
				   const char *user_agent, int64 engaged_ms,
				   bool interaction, EsIdentity *out)
{
	TimestampTz now = GetCurrentTimestamp();
	uint8		cur[ID_SALT_BYTES];
	uint8		prev[ID_SALT_BYTES];
	uint8		v_cur[16];
	uint8		v_prev[16];
	uint8		fresh_session[16];
	char		dom[256];
	bool		has_prev;
	IdSlot	   *slot;
	IdSlot	   *victim = NULL;
	size_t		n = strlen(domain);

	if (ids == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edgestat must be loaded via shared_preload_libraries")));

	/* sites match case-insensitively; so must their visitors */
	n = Min(n, sizeof(dom) - 1);
	for (size_t i = 0; i < n; i++)
		dom[i] = pg_ascii_tolower((unsigned char) domain[i]);
	dom[n] = '\0';

	has_prev = current_salts(now, cur, prev);
	visitor_id(cur, dom, client, user_agent ? user_agent : "", v_cur);
	if (has_prev)
		visitor_id(prev, dom, client, user_agent ? user_agent : "", v_prev);
	{
		const void *parts[2] = {v_cur, &now};
		size_t		lens[2] = {16, sizeof(now)};

		keyed_uuid(cur, parts, lens, 2, fresh_session);
	}
	explicit_bzero(cur, sizeof(cur));
	explicit_bzero(prev, sizeof(prev));

	LWLockAcquire(id_lock, LW_EXCLUSIVE);
	slot = find_slot(v_cur, now, &victim);
	if (slot == NULL && has_prev)
		slot = find_slot(v_prev, now, NULL);	/* a visit across midnight */
	if (slot == NULL)
	{
		slot = victim;
		memcpy(slot->visitor, v_cur, 16);
		memcpy(slot->session, fresh_session, 16);
		slot->engaged_ms = 0;
		slot->interactions = 0;
		slot->seq = 0;
	}
	slot->last_seen = now;
	slot->seq++;
	if (engaged_ms > 0)
		slot->engaged_ms += engaged_ms;
	if (interaction)
		slot->interactions++;
	memcpy(out->visitor, slot->visitor, 16);
	memcpy(out->session, slot->session, 16);
	out->seq = slot->seq;
	out->engaged_ms = slot->engaged_ms;
	out->interactions = slot->interactions;
	LWLockRelease(id_lock);
}

/*
 * edgestat.rotate_identity_salt(): what midnight UTC does, now: today's
 * salt becomes the previous one and a new one is made, so that new
 * visits get new visitor ids (a visit under way keeps its own).  Called
 * twice, every salt made before is gone.  Superuser only.
 */
Datum
es_rotate_identity_salt(PG_FUNCTION_ARGS)
{
	uint8		fresh[ID_SALT_BYTES];

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may rotate the identity salt")));
	if (ids == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edgestat must be loaded via shared_preload_libraries")));
	new_salt(fresh);
	LWLockAcquire(id_lock, LW_EXCLUSIVE);
	if (ids->day >= 0)
	{
		memcpy(ids->salt[1], ids->salt[0], ID_SALT_BYTES);
		ids->has_prev = true;
	}
	memcpy(ids->salt[0], fresh, ID_SALT_BYTES);
	ids->day = utc_day(GetCurrentTimestamp());
	LWLockRelease(id_lock);
	explicit_bzero(fresh, sizeof(fresh));
	PG_RETURN_VOID();
}
