/*
 * bench.c
 *	  Cost per call of es_classify_user_agent over the corpora: it runs for
 *	  every beacon, so this is the number to keep small.
 *
 * usage: bench [rounds] [out-dir]   (each round classifies every User-Agent)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "corpus_read.h"
#include "useragent.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile int sink;

/* ns per call over rounds passes of c (the User-Agent is field ua_field) */
static double
time_corpus(const Corpus *c, int ua_field, int rounds)
{
	double		best = -1;

	/* the best of three runs: the machine is shared */
	for (int run = 0; run < 3; run++)
	{
		double		start = now_ns();
		double		ns;

		for (int r = 0; r < rounds; r++)
		{
			for (size_t i = 0; i < c->nlines; i++)
			{
				EsUserAgent ua;

				es_classify_user_agent(c->lines[i].field[ua_field],
									   c->lines[i].ua_len, 0, &ua);
				sink += ua.bot + ua.browser[0];
			}
		}
		ns = (now_ns() - start) / ((double) rounds * c->nlines);
		if (best < 0 || ns < best)
			best = ns;
	}
	return best;
}

int
main(int argc, char **argv)
{
	int			rounds = argc > 1 ? atoi(argv[1]) : 50;
	const char *dir = argc > 2 ? argv[2] : "out";
	char		path[4096];
	Corpus		bots;
	Corpus		browsers;
	size_t		chars = 0;

	if (rounds < 1)
		rounds = 1;
	snprintf(path, sizeof(path), "%s/bots.tsv", dir);
	corpus_load(&bots, path, 2);
	snprintf(path, sizeof(path), "%s/browsers.tsv", dir);
	corpus_load(&browsers, path, 6);
	for (size_t i = 0; i < browsers.nlines; i++)
		chars += browsers.lines[i].ua_len;

	printf("ua bench: %.0f ns per call over %zu real browsers (mean %zu bytes), "
		   "%.0f ns over %zu crawlers (%d rounds, best of 3)\n",
		   time_corpus(&browsers, 5, rounds), browsers.nlines,
		   chars / browsers.nlines, time_corpus(&bots, 1, rounds), bots.nlines,
		   rounds);
	corpus_free(&bots);
	corpus_free(&browsers);
	return 0;
}
