/*-------------------------------------------------------------------------
 *
 * tls.c
 *	  HTTPS in the worker: the edgestat.ssl settings, loading the
 *	  certificate chain and key, handing them to each TLS handshake, and
 *	  swapping them on SIGHUP without dropping open connections.
 *
 * libmicrohttpd asks for the certificate per handshake through GnuTLS's
 * retrieve callback (MHD_OPTION_HTTPS_CERT_CALLBACK), so a reload only
 * changes which credential set the callback hands out: the daemons and
 * their connections stay.  GnuTLS keeps pointers to the set a session was
 * given, so a replaced set is retired, not freed, until every connection
 * that may have been given it has closed (counted through
 * MHD_OPTION_NOTIFY_CONNECTION).
 *
 * The worker is single-threaded and MHD runs only from its loop, so the
 * callbacks here need no locking.  GnuTLS allocates its objects with
 * malloc; our bookkeeping lives in the worker's memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "http_int.h"

/* certificates in one chain file; Let's Encrypt's fullchain has 2 or 3 */
#define ES_TLS_MAX_CHAIN	16
/* no certificate or key file is anywhere near this */
#define ES_TLS_MAX_FILE		(1024 * 1024)

bool		es_ssl = false;
char	   *es_ssl_cert_file = NULL;
char	   *es_ssl_key_file = NULL;

/* TLS 1.2 and 1.3 only; GnuTLS's default ciphers and groups otherwise */
#define ES_TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* One loaded certificate chain and key. */
typedef struct EsTlsCreds
{
	gnutls_pcert_st pcerts[ES_TLS_MAX_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	uint64		digest[2];		/* hashes of both files, to skip no-op reloads */
	char	   *cert_path;
	char	   *key_path;

	/*
	 * Connections accepted while this set was current: each of them may
	 * hold this set or a newer one.
	 */
	int			nconns;
	int			generation;		/* 1 for the set loaded at start, then 2, ... */
	struct EsTlsCreds *next;	/* in the retired list, oldest first */
} EsTlsCreds;

static EsTlsCreds *current = NULL;
static EsTlsCreds *retired = NULL;
static int	generations = 0;

void
http_tls_define_settings(void)
{
	DefineCustomBoolVariable("edgestat.ssl",
							 "The HTTP port speaks TLS only.",
							 NULL, &es_ssl, false,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.ssl_cert_file",
							   "PEM certificate chain of the HTTP port; empty means the server's ssl_cert_file.",
							   "Relative paths are relative to the data directory. Reloaded on SIGHUP.",
							   &es_ssl_cert_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.ssl_key_file",
							   "PEM private key of the HTTP port; empty means the server's ssl_key_file.",
							   "Relative paths are relative to the data directory. Reloaded on SIGHUP.",
							   &es_ssl_key_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* The setting, or the server's own one; absolute, as PostgreSQL reads it. */
static char *
resolve_path(const char *ours, const char *servers)
{
	const char *p = ours;

	if (p == NULL || p[0] == '\0')
		p = GetConfigOption(servers, true, false);
	if (p == NULL || p[0] == '\0')
		return NULL;
	if (is_absolute_path(p))
		return pstrdup(p);
	return psprintf("%s/%s", DataDir, p);
}

/* Reads a whole file into palloc'd memory; NULL and *why on failure. */
static char *
read_file(const char *path, size_t *len, char **why)
{
	FILE	   *f;
	char	   *buf;
	size_t		n = 0;
	size_t		cap = 8192;

	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
	{
		int			save_errno = errno;

		*why = psprintf("could not open \"%s\": %s", path, strerror(save_errno));
		return NULL;
	}
	buf = palloc(cap + 1);
	for (;;)
	{
		size_t		got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
		if (n == cap)
		{
			if (cap >= ES_TLS_MAX_FILE)
			{
				FreeFile(f);
				*why = psprintf("\"%s\" is larger than %d bytes", path, ES_TLS_MAX_FILE);
				return NULL;
			}
			cap *= 2;
			buf = repalloc(buf, cap + 1);
		}
	}
	if (ferror(f))
	{
		int			save_errno = errno;

		FreeFile(f);
		*why = psprintf("could not read \"%s\": %s", path, strerror(save_errno));
		return NULL;
	}
	FreeFile(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
free_creds(EsTlsCreds *s)
{
	for (unsigned int i = 0; i < s->npcerts; i++)
		gnutls_pcert_deinit(&s->pcerts[i]);
	if (s->key)
		gnutls_privkey_deinit(s->key);
	pfree(s->cert_path);
	pfree(s->key_path);
	pfree(s);
}

/*
 * Change detection only (a reload that changes nothing keeps the set):
 * no adversary chooses both files, so a non-cryptographic hash will do,
 * and unlike pg_cryptohash it needs no resource owner.
 */
static void
digest_files(const char *a, size_t alen, const char *b, size_t blen,
			 uint64 *out)
{
	out[0] = hash_bytes_extended((const unsigned char *) a, (int) alen, 0);
	out[1] = hash_bytes_extended((const unsigned char *) b, (int) blen, 0);
}

/* Does the key belong to the first certificate of the chain? */
static bool
key_matches(EsTlsCreds *s)
{
	gnutls_pubkey_t pub;
	unsigned char id_key[64];
	unsigned char id_cert[64];
	size_t		len_key = sizeof(id_key);
	size_t		len_cert = sizeof(id_cert);
	bool		ok;

	if (gnutls_pubkey_init(&pub) < 0)
		return false;
	ok = gnutls_pubkey_import_privkey(pub, s->key, 0, 0) >= 0 &&
		gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id_key, &len_key) >= 0 &&
		gnutls_pubkey_get_key_id(s->pcerts[0].pubkey, GNUTLS_KEYID_USE_SHA256,
								 id_cert, &len_cert) >= 0 &&
		len_key == len_cert && memcmp(id_key, id_cert, len_key) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

/*
 * Loads the files named by the settings.  On failure returns NULL with
 * *why set; never throws, so that a reload can keep the old set.  With
 * *unchanged set, the files are those of the current set and nothing was
 * loaded.  Runs in a short-lived context; only the returned set is
 * allocated in the worker's.
 */
static EsTlsCreds *
load_creds(char **why, bool *unchanged)
{
	char	   *cert_path = resolve_path(es_ssl_cert_file, "ssl_cert_file");
	char	   *key_path = resolve_path(es_ssl_key_file, "ssl_key_file");
	char	   *cert_pem;
	char	   *key_pem;
	size_t		cert_len;
	size_t		key_len;
	uint64		digest[2];
	gnutls_datum_t d;
	EsTlsCreds *s;
	int			rc;

	*unchanged = false;
	if (cert_path == NULL || key_path == NULL)
	{
		*why = pstrdup("no certificate or key file is set (edgestat.ssl_cert_file, edgestat.ssl_key_file, ssl_cert_file, ssl_key_file)");
		return NULL;
	}
	cert_pem = read_file(cert_path, &cert_len, why);
	if (cert_pem == NULL)
		return NULL;
	key_pem = read_file(key_path, &key_len, why);
	if (key_pem == NULL)
		return NULL;
	digest_files(cert_pem, cert_len, key_pem, key_len, digest);
	if (current && memcmp(current->digest, digest, sizeof(digest)) == 0 &&
		strcmp(current->cert_path, cert_path) == 0 &&
		strcmp(current->key_path, key_path) == 0)
	{
		*unchanged = true;
		explicit_bzero(key_pem, key_len);
		return NULL;
	}

	s = MemoryContextAllocZero(hw.worker_cxt, sizeof(EsTlsCreds));
	s->cert_path = MemoryContextStrdup(hw.worker_cxt, cert_path);
	s->key_path = MemoryContextStrdup(hw.worker_cxt, key_path);
	memcpy(s->digest, digest, sizeof(digest));

	d.data = (unsigned char *) cert_pem;
	d.size = (unsigned int) cert_len;
	s->npcerts = ES_TLS_MAX_CHAIN;
	rc = gnutls_pcert_list_import_x509_raw(s->pcerts, &s->npcerts, &d,
										   GNUTLS_X509_FMT_PEM,
										   GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
	if (rc < 0 || s->npcerts == 0)
	{
		*why = psprintf("could not load certificate \"%s\": %s", cert_path,
						rc < 0 ? gnutls_strerror(rc) : "no certificate found");
		s->npcerts = 0;
		free_creds(s);
		explicit_bzero(key_pem, key_len);
		return NULL;
	}

	d.data = (unsigned char *) key_pem;
	d.size = (unsigned int) key_len;
	rc = gnutls_privkey_init(&s->key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509_raw(s->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	explicit_bzero(key_pem, key_len);
	if (rc < 0)
	{
		*why = psprintf("could not load private key \"%s\": %s (an encrypted key is not supported)",
						key_path, gnutls_strerror(rc));
		free_creds(s);
		return NULL;
	}
	if (!key_matches(s))
	{
		*why = psprintf("private key \"%s\" does not match certificate \"%s\"",
						key_path, cert_path);
		free_creds(s);
		return NULL;
	}
	s->generation = ++generations;
	return s;
}

/* Logs what was loaded: the subject and the expiry an operator watches. */
static void
log_creds(EsTlsCreds *s, const char *verb)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {NULL, 0};
	time_t		expires = (time_t) -1;
	char		when[64] = "unknown";

	if (gnutls_x509_crt_init(&crt) >= 0)
	{
		if (gnutls_x509_crt_import(crt, &s->pcerts[0].cert, GNUTLS_X509_FMT_DER) >= 0)
		{
			(void) gnutls_x509_crt_get_dn3(crt, &dn, 0);
			expires = gnutls_x509_crt_get_expiration_time(crt);
		}
		gnutls_x509_crt_deinit(crt);
	}
	if (expires != (time_t) -1)
	{
		struct tm	tm;

		gmtime_r(&expires, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	}
	ereport(LOG,
			(errmsg("edgestat http worker %d: TLS certificate %s from \"%s\"",
					hw.worker_no, verb, s->cert_path),
			 errdetail("Subject \"%s\", %u certificate(s) in the chain, expires %s.",
					   dn.data ? (char *) dn.data : "?", s->npcerts, when)));
	if (expires != (time_t) -1 && expires < time(NULL))
		ereport(WARNING,
				(errmsg("edgestat http: TLS certificate \"%s\" expired at %s",
						s->cert_path, when)));
	if (dn.data)
		gnutls_free(dn.data);
}

/*
 * Worker start with edgestat.ssl on: without a usable certificate the
 * worker does not listen at all (never plain HTTP on a port meant to be
 * HTTPS); it exits and the postmaster starts it again later.
 */
void
http_tls_start(void)
{
	char	   *why = NULL;
	bool		unchanged;
	MemoryContext load_cxt;
	MemoryContext old;

	if (!es_ssl)
		return;
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("edgestat.ssl is on but libmicrohttpd was built without TLS support")));
	load_cxt = AllocSetContextCreate(hw.worker_cxt, "edgestat tls load",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(load_cxt);
	current = load_creds(&why, &unchanged);
	MemoryContextSwitchTo(old);
	if (current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("edgestat http: cannot serve HTTPS: %s", why),
				 errhint("With edgestat.ssl on the worker does not serve plain HTTP; it tries again when it restarts.")));
	MemoryContextDelete(load_cxt);
	log_creds(current, "loaded");
}

/* Frees retired sets that no open connection can still be using. */
static void
sweep_retired(void)
{
	while (retired && retired->nconns == 0)
	{
		EsTlsCreds *s = retired;

		retired = s->next;
		elog(DEBUG1, "edgestat http: TLS certificate set %d freed, no connection can hold it",
			 s->generation);
		free_creds(s);
	}
}

/*
 * SIGHUP: load the files again; if they changed and are good, new
 * handshakes get the new set, open connections keep theirs.  A bad file
 * keeps the old set.
 */
void
http_tls_reload(void)
{
	char	   *why = NULL;
	bool		unchanged;
	EsTlsCreds *s;
	MemoryContext load_cxt;
	MemoryContext old;

	if (!es_ssl || current == NULL)
		return;
	load_cxt = AllocSetContextCreate(hw.worker_cxt, "edgestat tls load",
									 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(load_cxt);
	s = load_creds(&why, &unchanged);
	MemoryContextSwitchTo(old);
	if (s == NULL && !unchanged)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("edgestat http: TLS certificate not reloaded, keeping the one from \"%s\": %s",
						current->cert_path, why)));
	MemoryContextDelete(load_cxt);
	if (s == NULL)
		return;

	/* append: the retired list stays oldest first */
	{
		EsTlsCreds **tail = &retired;

		while (*tail)
			tail = &(*tail)->next;
		current->next = NULL;
		*tail = current;
	}
	current = s;
	log_creds(current, "reloaded");
	sweep_retired();
}

/* GnuTLS's gnutls_certificate_retrieve_function2, once per handshake. */
static int
cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
			  int nreqs, const gnutls_pk_algorithm_t *pk_algos,
			  int pk_algos_length, gnutls_pcert_st **pcert,
			  unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	if (current == NULL)
		return -1;
	*pcert = current->pcerts;
	*pcert_length = current->npcerts;
	*privkey = current->key;
	return 0;
}

/* MHD_OPTION_NOTIFY_CONNECTION: which set each connection may hold. */
static void
notify_connection(void *cls, struct MHD_Connection *connection,
				  void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		*socket_context = current;
		if (current)
			current->nconns++;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
	{
		EsTlsCreds *s = *socket_context;

		*socket_context = NULL;
		if (s)
		{
			s->nconns--;
			sweep_retired();
		}
	}
}

/*
 * Appends the daemon options of HTTPS to opts (room for 3 is the caller's
 * business); the caller adds MHD_USE_TLS to the flags.
 */
int
http_tls_mhd_options(struct MHD_OptionItem *opts)
{
	int			n = 0;

	http_set_option(&opts[n++], MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
					(void *) cert_callback);
	http_set_option(&opts[n++], MHD_OPTION_HTTPS_PRIORITIES, 0,
					(void *) ES_TLS_PRIORITIES);
	http_set_option(&opts[n++], MHD_OPTION_NOTIFY_CONNECTION,
					(intptr_t) notify_connection, NULL);
	return n;
}
