/*
 * corpus_read.c
 *	  Loads the tab-separated corpora generate.mjs writes into out/.
 *
 * A test program, not edgestat: it may exit on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_read.h"

static void
die(const char *path, const char *what)
{
	fprintf(stderr, "%s: %s (run `make -C test/ua` to generate the corpora)\n",
			path, what);
	exit(2);
}

void
corpus_load(Corpus *c, const char *path, int nfields)
{
	FILE	   *f = fopen(path, "rb");
	long		size;
	size_t		cap = 1024;
	char	   *p;
	size_t		ncomments = 0;

	if (f == NULL)
		die(path, "cannot open");
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
		die(path, "cannot size");
	c->text = malloc((size_t) size + 1);
	c->lines = malloc(cap * sizeof(CorpusLine));
	if (c->text == NULL || c->lines == NULL)
		die(path, "out of memory");
	if (fread(c->text, 1, (size_t) size, f) != (size_t) size)
		die(path, "cannot read");
	fclose(f);
	c->text[size] = '\0';
	c->nlines = 0;
	c->comments[0] = '\0';

	for (p = c->text; *p != '\0';)
	{
		char	   *end = strchr(p, '\n');
		CorpusLine *line;

		if (end != NULL)
			*end = '\0';
		if (*p == '#')
		{
			size_t		n = strlen(p);

			if (ncomments + n + 2 < sizeof(c->comments))
			{
				memcpy(c->comments + ncomments, p, n);
				ncomments += n;
				c->comments[ncomments++] = '\n';
				c->comments[ncomments] = '\0';
			}
		}
		else if (*p != '\0')
		{
			if (c->nlines == cap)
			{
				cap *= 2;
				c->lines = realloc(c->lines, cap * sizeof(CorpusLine));
				if (c->lines == NULL)
					die(path, "out of memory");
			}
			line = &c->lines[c->nlines++];
			line->nfields = 0;
			for (char *q = p;;)
			{
				char	   *tab = line->nfields < nfields - 1 ? strchr(q, '\t') : NULL;

				line->field[line->nfields++] = q;
				if (tab == NULL)
					break;
				*tab = '\0';
				q = tab + 1;
			}
			if (line->nfields != nfields)
				die(path, "a line with the wrong number of fields");
			line->ua_len = strlen(line->field[nfields - 1]);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
}

void
corpus_free(Corpus *c)
{
	free(c->lines);
	free(c->text);
	c->lines = NULL;
	c->text = NULL;
	c->nlines = 0;
}
