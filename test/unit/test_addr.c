/*
 * test_addr.c
 *	  Client addresses, trusted-proxy lists and the X-Forwarded-For rule.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "addr.h"
#include "unit.h"

static const char *
fmt(const EsAddr *a)
{
	static char buf[64];

	es_addr_format(a, buf, sizeof(buf));
	return buf;
}

static EsAddr
addr(const char *text)
{
	EsAddr		a;

	if (!es_addr_parse(text, strlen(text), &a))
		printf("FAIL setup: %s does not parse\n", text);
	return a;
}

static const char *
client(const char *peer, const char *xff, const char *trusted)
{
	static char error[128];
	EsCidrList	list;
	EsAddr		p = addr(peer);
	EsAddr		c;

	if (!es_cidr_list_parse(trusted, &list, error, sizeof(error)))
		return error;
	es_client_addr(&p, xff, &list, &c);
	return fmt(&c);
}

void
test_addr(void)
{
	EsAddr		a;
	EsCidrList	list;
	char		error[128];
	struct sockaddr_in6 s6;

	/* the forms sockets print and proxies write */
	CHECK(es_addr_parse("1.2.3.4", 7, &a) && a.family == 4);
	CHECK_STR(fmt(&a), "1.2.3.4");
	CHECK(es_addr_parse(" 1.2.3.4:5678 ", 14, &a));
	CHECK_STR(fmt(&a), "1.2.3.4");
	CHECK(es_addr_parse("[2001:db8::1]:443", 17, &a) && a.family == 6);
	CHECK_STR(fmt(&a), "2001:db8::1");
	CHECK(es_addr_parse("::1", 3, &a) && a.family == 6);
	CHECK(!es_addr_parse("unknown", 7, &a) && a.family == 0);
	CHECK(!es_addr_parse("example.com", 11, &a));
	CHECK(!es_addr_parse("", 0, &a));
	CHECK(!es_addr_parse("[::1", 4, &a));
	CHECK(!es_addr_parse("[::1]x", 6, &a));
	CHECK(!es_addr_parse("1.2.3.4.5", 9, &a));
	/* only len bytes are read */
	CHECK(es_addr_parse("10.0.0.1,10.0.0.2", 8, &a));
	CHECK_STR(fmt(&a), "10.0.0.1");

	/* IPv4-mapped IPv6 is IPv4: one client, one key */
	CHECK(es_addr_parse("::ffff:192.0.2.7", 16, &a) && a.family == 4);
	CHECK_STR(fmt(&a), "192.0.2.7");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr.s6_addr[10] = 0xff;
	s6.sin6_addr.s6_addr[11] = 0xff;
	s6.sin6_addr.s6_addr[12] = 10;
	s6.sin6_addr.s6_addr[15] = 9;
	CHECK(es_addr_from_sockaddr((struct sockaddr *) &s6, &a) && a.family == 4);
	CHECK_STR(fmt(&a), "10.0.0.9");

	/* CIDR lists */
	CHECK(es_cidr_list_parse("10.0.0.0/8, ::1 fd00::/8,127.0.0.1", &list,
							 error, sizeof(error)));
	CHECK_INT(list.n, 4);
	CHECK(es_cidr_contains(&list, &(EsAddr) {0}) == false);
	a = addr("10.255.1.2");
	CHECK(es_cidr_contains(&list, &a));
	a = addr("11.0.0.1");
	CHECK(!es_cidr_contains(&list, &a));
	a = addr("fd12::5");
	CHECK(es_cidr_contains(&list, &a));
	a = addr("::2");
	CHECK(!es_cidr_contains(&list, &a));
	CHECK(es_cidr_list_parse("10.1.2.3/12", &list, error, sizeof(error)));
	CHECK_STR(fmt(&list.nets[0].net), "10.0.0.0");
	CHECK(es_cidr_list_parse("::ffff:10.0.0.0/104", &list, error, sizeof(error)));
	CHECK_INT(list.nets[0].bits, 8);
	CHECK(es_cidr_list_parse("", &list, error, sizeof(error)) && list.n == 0);
	CHECK(!es_cidr_list_parse("10.0.0.0/33", &list, error, sizeof(error)));
	CHECK_STR(error, "invalid prefix in \"10.0.0.0/33\"");
	CHECK(!es_cidr_list_parse("10.0.0.0/", &list, error, sizeof(error)));
	CHECK(!es_cidr_list_parse("10.0.0.0/-1", &list, error, sizeof(error)));
	CHECK(!es_cidr_list_parse("10.0.0.0/8x", &list, error, sizeof(error)));
	CHECK(!es_cidr_list_parse("proxy.local", &list, error, sizeof(error)));
	CHECK_STR(error, "invalid address \"proxy.local\"");
	{
		char		many[ES_MAX_CIDRS * 16 + 32];
		size_t		off = 0;

		for (int i = 0; i <= ES_MAX_CIDRS; i++)
			off += snprintf(many + off, sizeof(many) - off, "10.0.%d.1,", i);
		CHECK(!es_cidr_list_parse(many, &list, error, sizeof(error)));
	}

	/* X-Forwarded-For: the right-most untrusted entry */
	CHECK_STR(client("10.0.0.1", "203.0.113.5", "10.0.0.0/8"), "203.0.113.5");
	CHECK_STR(client("10.0.0.1", "198.51.100.1, 203.0.113.5, 10.0.0.2", "10.0.0.0/8"),
			  "203.0.113.5");
	/* an untrusted peer's header is ignored */
	CHECK_STR(client("192.0.2.1", "203.0.113.5", "10.0.0.0/8"), "192.0.2.1");
	/* no list: the peer */
	CHECK_STR(client("10.0.0.1", "203.0.113.5", ""), "10.0.0.1");
	/* garbage ends the walk: the hop right of it */
	CHECK_STR(client("10.0.0.1", "1.1.1.1, garbage, 10.0.0.3", "10.0.0.0/8"), "10.0.0.3");
	/* blank entries are skipped */
	CHECK_STR(client("10.0.0.1", "203.0.113.9, , ", "10.0.0.0/8"), "203.0.113.9");
	/* all trusted: the left-most */
	CHECK_STR(client("10.0.0.1", "10.0.0.7, 10.0.0.8", "10.0.0.0/8"), "10.0.0.7");
	/* ports, brackets and mapped addresses in the header */
	CHECK_STR(client("::1", "[2001:db8::2]:51000", "::1"), "2001:db8::2");
	CHECK_STR(client("10.0.0.1", "::ffff:203.0.113.4", "10.0.0.0/8"), "203.0.113.4");
	CHECK_STR(client("10.0.0.1", "", "10.0.0.0/8"), "10.0.0.1");
}
