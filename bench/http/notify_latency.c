/*
 * notify_latency.c
 *	  Beacon -> NOTIFY latency: POSTs one beacon at a time to the HTTP
 *	  worker and times how long until a LISTENing libpq client receives
 *	  the notification that carries its visitor id.  Prints p50/p95/p99.
 *
 *	  notify_latency CONNINFO HTTP_PORT CHANNEL COUNT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	int			port,
				count,
				got = 0;
	double	   *lat;
	char		listen[128];

	if (argc != 5)
	{
		fprintf(stderr, "usage: %s CONNINFO HTTP_PORT CHANNEL COUNT\n", argv[0]);
		return 2;
	}
	port = atoi(argv[2]);
	count = atoi(argv[4]);
	lat = calloc(count, sizeof(double));
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 1;
	}
	snprintf(listen, sizeof(listen), "LISTEN \"%s\"", argv[3]);
	res = PQexec(conn, listen);
	PQclear(res);
	srand(getpid());

	for (int i = 0; i < count; i++)
	{
		char		v[40],
					body[512],
					req[1024];
		int			fd,
					n;
		struct sockaddr_in sa;
		double		t0;
		int			found = 0;

		snprintf(v, sizeof(v), "%08x-%04x-4%03x-a%03x-%012llx",
				 rand(), rand() & 0xffff, rand() & 0xfff, rand() & 0xfff,
				 ((unsigned long long) rand() << 16) ^ rand());
		n = snprintf(body, sizeof(body),
					 "{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/notify/%d\",\"v\":\"%s\",\"s\":\"%s\"}",
					 i, v, v);
		n = snprintf(req, sizeof(req),
					 "POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
					 "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\r\n"
					 "Content-Length: %d\r\n\r\n%s", n, body);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons(port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		t0 = now_ms();
		if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
			write(fd, req, n) != n)
		{
			perror("http");
			return 1;
		}
		while (!found && now_ms() - t0 < 2000)
		{
			fd_set		rf;
			struct timeval tv = {0, 100000};
			PGnotify   *nt;
			int			s = PQsocket(conn);

			FD_ZERO(&rf);
			FD_SET(s, &rf);
			select(s + 1, &rf, NULL, NULL, &tv);
			PQconsumeInput(conn);
			while ((nt = PQnotifies(conn)) != NULL)
			{
				if (strstr(nt->extra, v))
					found = 1;
				PQfreemem(nt);
			}
		}
		if (found)
			lat[got++] = now_ms() - t0;
		close(fd);
		usleep(2000);
	}
	qsort(lat, got, sizeof(double), cmp);
	if (got == 0)
	{
		printf("RESULT notified=0\n");
		return 1;
	}
	printf("RESULT notified=%d/%d p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f\n", got, count,
		   lat[got / 2], lat[(int) (got * 0.95)], lat[(int) (got * 0.99)]);
	PQfinish(conn);
	return 0;
}
