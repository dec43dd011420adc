/*
 * corpus.c
 *	  edgestat's User-Agent classifier against public corpora of real
 *	  User-Agents (generate.mjs builds them from npm packages).
 *
 * The goals it enforces (exit 1 below any):
 *	- crawler recall on crawler-user-agents at least isbot's on the same list;
 *	- no real browser's User-Agent taken for a bot;
 *	- browser, OS and device family as ua-parser-js names them (translated
 *	  into edgestat's names by generate.mjs) for at least 97 % of the real
 *	  browsers' User-Agents, each family counted on its own;
 *	- and corpora of a sensible size, so none of that holds vacuously.
 *
 * usage: corpus [-v] [out-dir]   (-v lists every miss, not the first few)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_read.h"
#include "useragent.h"

#define AGREEMENT_GOAL 0.97
#define SHOW_DEFAULT 15
#define MIN_CRAWLERS 1500
#define MIN_BROWSERS 500

static int	passed;
static int	failed;

static void
check(bool ok, const char *fmt, const char *what, double got, double goal)
{
	printf("%s  ", ok ? "ok  " : "FAIL");
	printf(fmt, what, got, goal);
	printf("\n");
	if (ok)
		passed++;
	else
		failed++;
}

int
main(int argc, char **argv)
{
	bool		verbose = false;
	const char *dir = "out";
	char		path[4096];
	Corpus		bots;
	Corpus		browsers;
	long		isbot_hits = -1;
	long		isbot_total = -1;
	const char *comment;
	size_t		caught = 0;
	size_t		isbot_only = 0;
	size_t		dropped = 0;
	size_t		agree[3] = {0, 0, 0};
	size_t		shown[3] = {0, 0, 0};
	static const char *const family[3] = {"browser", "os", "device"};
	size_t		show;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else
			dir = argv[i];
	}
	show = verbose ? (size_t) -1 : SHOW_DEFAULT;

	snprintf(path, sizeof(path), "%s/bots.tsv", dir);
	corpus_load(&bots, path, 2);
	snprintf(path, sizeof(path), "%s/browsers.tsv", dir);
	corpus_load(&browsers, path, 6);

	comment = strstr(bots.comments, "# isbot\t");
	if (comment == NULL ||
		sscanf(comment, "# isbot\t%ld\t%ld", &isbot_hits, &isbot_total) != 2 ||
		isbot_total != (long) bots.nlines || bots.nlines == 0 ||
		browsers.nlines == 0)
	{
		fprintf(stderr, "corpus: the corpora in %s are empty or malformed\n", dir);
		return 2;
	}

	/* crawlers: what isbot catches and edgestat lets through, first */
	for (size_t i = 0; i < bots.nlines; i++)
	{
		const CorpusLine *l = &bots.lines[i];
		EsUserAgent ua;

		es_classify_user_agent(l->field[1], l->ua_len, 0, &ua);
		if (ua.bot)
			caught++;
		else if (l->field[0][0] == '1')
		{
			if (isbot_only++ < show)
				printf("missed crawler (isbot has it): %s\n", l->field[1]);
		}
		else if (verbose)
			printf("missed crawler (isbot too): %s\n", l->field[1]);
	}

	for (size_t i = 0; i < browsers.nlines; i++)
	{
		const CorpusLine *l = &browsers.lines[i];
		EsUserAgent ua;
		const char *got[3];

		es_classify_user_agent(l->field[5], l->ua_len, 0, &ua);
		if (ua.bot)
		{
			dropped++;
			printf("browser taken for a bot: %s\n", l->field[5]);
			continue;
		}
		got[0] = ua.browser;
		got[1] = ua.os;
		got[2] = ua.device;
		for (int f = 0; f < 3; f++)
		{
			if (strcmp(got[f], l->field[f]) == 0)
				agree[f]++;
			else if (shown[f]++ < show)
				printf("%s: got %s, ua-parser-js %s: %s\n", family[f], got[f],
					   l->field[f], l->field[5]);
		}
	}

	printf("crawlers: edgestat %zu/%zu (%.1f %%), isbot %ld/%ld (%.1f %%); "
		   "%zu that isbot catches are missed\n",
		   caught, bots.nlines, 100.0 * caught / bots.nlines,
		   isbot_hits, isbot_total, 100.0 * isbot_hits / isbot_total, isbot_only);
	printf("browsers: %zu real User-Agents, %zu taken for bots; agreement with "
		   "ua-parser-js: browser %.1f %%, os %.1f %%, device %.1f %%\n",
		   browsers.nlines, dropped,
		   100.0 * agree[0] / browsers.nlines, 100.0 * agree[1] / browsers.nlines,
		   100.0 * agree[2] / browsers.nlines);

	/* a package that shrank would make every goal below easy */
	check(bots.nlines >= MIN_CRAWLERS && browsers.nlines >= MIN_BROWSERS,
		  "%s: %.0f crawlers, %.0f browsers", "corpus size",
		  (double) bots.nlines, (double) browsers.nlines);
	check((long) caught >= isbot_hits, "%s: %.0f caught, isbot %.0f",
		  "crawler recall", (double) caught, (double) isbot_hits);
	check(dropped == 0, "%s: %.0f, goal %.0f",
		  "real browsers taken for bots", (double) dropped, 0.0);
	for (int f = 0; f < 3; f++)
	{
		double		share = (double) agree[f] / browsers.nlines;
		char		what[64];

		snprintf(what, sizeof(what), "%s family agreement", family[f]);
		check(share >= AGREEMENT_GOAL, "%s: %.3f, goal %.2f", what, share,
			  AGREEMENT_GOAL);
	}

	corpus_free(&bots);
	corpus_free(&browsers);
	printf("ua corpus: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
