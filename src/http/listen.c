/*-------------------------------------------------------------------------
 *
 * listen.c
 *	  The worker's sockets: one libmicrohttpd daemon per address of
 *	  edgestat.listen_addresses, in external-select epoll mode, so that
 *	  MHD's epoll descriptor sits in the worker's WaitEventSet and
 *	  MHD_run is called from the worker's own loop only.  With
 *	  edgestat.ssl on every daemon speaks TLS only (tls.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "utils/builtins.h"
#include "utils/varlena.h"

#include "guard.h"
#include "http_int.h"

/*
 * Per connection: headers and read buffers live here.  libmicrohttpd zeroes
 * the pool for every request, so its size is paid per request (at 32 kB
 * that was the worker's largest single cost).  8 kB holds the headers
 * browsers send (nginx's default limit is the same); more is refused.
 */
#define ES_MHD_MEMORY		8192

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	/*
	 * Called inside MHD: keep the last message for startup errors and log
	 * at DEBUG1 only, since garbage from clients makes MHD chatty.
	 */
	size_t		len;

	vsnprintf(hw.mhd_last_error, sizeof(hw.mhd_last_error), fmt, ap);
	len = strlen(hw.mhd_last_error);
	while (len > 0 && isspace((unsigned char) hw.mhd_last_error[len - 1]))
		hw.mhd_last_error[--len] = '\0';
	PG_TRY();
	{
		elog(DEBUG1, "edgestat http: %s", hw.mhd_last_error);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
}

static struct MHD_Daemon *
start_daemon(const struct sockaddr *sa, bool v6, bool dual)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_TURBO |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (es_ssl)
		flags |= MHD_USE_TLS;
	if (dual)
		flags |= MHD_USE_DUAL_STACK;
	else if (v6)
		flags |= MHD_USE_IPv6;
	hw.mhd_last_error[0] = '\0';

	{
		struct MHD_OptionItem opts[16] = {
			{MHD_OPTION_SOCK_ADDR, 0, (void *) sa},
			{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) http_on_completed, NULL},
			{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_logger, NULL},
			{MHD_OPTION_CONNECTION_LIMIT, es_max_connections, NULL},
			{MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) http_on_connection, NULL},
			{MHD_OPTION_CONNECTION_TIMEOUT, es_connection_timeout_s, NULL},
			{MHD_OPTION_CONNECTION_MEMORY_LIMIT, ES_MHD_MEMORY, NULL},
			{MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
		};
		int			n = 8;

		/*
		 * SO_REUSEPORT only when our own workers share the port.  The
		 * option must be absent otherwise: passed as 0 it also drops MHD's
		 * default SO_REUSEADDR, and a restarted worker then cannot bind
		 * while old connections sit in TIME_WAIT.
		 */
		if (es_workers > 1)
			http_set_option(&opts[n++], MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL);
		if (es_ssl)
			n += http_tls_mhd_options(&opts[n]);
		http_set_option(&opts[n], MHD_OPTION_END, 0, NULL);
		Assert(n < lengthof(opts));

		return MHD_start_daemon(flags, (uint16_t) es_port,
								http_accept_policy, NULL,
								http_on_request, NULL,
								MHD_OPTION_ARRAY, opts,
								MHD_OPTION_END);
	}
}

static void
add_daemon(const char *spec, const char *text, bool v6, bool dual,
		   bool required)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;

	memset(&ss, 0, sizeof(ss));
	if (v6)
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16) es_port);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid address \"%s\" in edgestat.listen_addresses",
							spec)));
	}
	else
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16) es_port);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid address \"%s\" in edgestat.listen_addresses",
							spec)));
	}
	if (hw.ndaemons >= ES_MAX_DAEMONS)
		ereport(ERROR,
				(errmsg("edgestat.listen_addresses has more than %d addresses",
						ES_MAX_DAEMONS)));
	d = start_daemon((struct sockaddr *) &ss, v6, dual);
	if (d == NULL)
	{
		ereport(required ? ERROR : LOG,
				(errmsg("edgestat http: could not listen on %s port %d: %s",
						text, es_port,
						hw.mhd_last_error[0] ? hw.mhd_last_error : "unknown error")));
		return;
	}
	hw.daemons[hw.ndaemons++] = d;
	ereport(LOG,
			(errmsg("edgestat http worker %d listening on %s port %d",
					hw.worker_no, dual ? "*" : text, es_port)));
}

void
http_start_listening(void)
{
	char	   *raw = pstrdup(es_listen_addresses ? es_listen_addresses : "");
	List	   *list;
	ListCell   *lc;

	if (!SplitGUCList(raw, ',', &list))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in edgestat.listen_addresses")));
	foreach(lc, list)
	{
		const char *a = lfirst(lc);
		struct in6_addr tmp;

		if (strcmp(a, "*") == 0)
		{
			int			before = hw.ndaemons;

			add_daemon(a, "::", true, true, false);
			if (hw.ndaemons == before)
				add_daemon(a, "0.0.0.0", false, false, true);
		}
		else if (pg_strcasecmp(a, "localhost") == 0)
		{
			add_daemon(a, "127.0.0.1", false, false, true);
			add_daemon(a, "::1", true, false, false);
		}
		else if (inet_pton(AF_INET6, a, &tmp) == 1)
			add_daemon(a, a, true, false, true);
		else
			add_daemon(a, a, false, false, true);
	}
	if (hw.ndaemons == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("edgestat.listen_addresses names no address")));
}

void
http_run_daemons(void)
{
	for (int i = 0; i < hw.ndaemons; i++)
		MHD_run(hw.daemons[i]);
}

unsigned int
http_open_connections(void)
{
	unsigned int n = 0;

	for (int i = 0; i < hw.ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(hw.daemons[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (info)
			n += info->num_connections;
	}
	return n;
}
