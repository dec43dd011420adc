/*
 * corpus_read.h
 *	  Loads the tab-separated corpora generate.mjs writes into out/.
 */
#ifndef EDGESTAT_CORPUS_READ_H
#define EDGESTAT_CORPUS_READ_H

#include <stddef.h>

#define CORPUS_MAX_FIELDS 6

typedef struct CorpusLine
{
	int			nfields;
	const char *field[CORPUS_MAX_FIELDS];	/* the last is the User-Agent */
	size_t		ua_len;
} CorpusLine;

typedef struct Corpus
{
	char	   *text;			/* the whole file, fields cut in place */
	CorpusLine *lines;
	size_t		nlines;
	char		comments[4096]; /* the '#' lines, for the caller to parse */
} Corpus;

/* Loads path; every line must have nfields fields.  Exits on error. */
extern void corpus_load(Corpus *c, const char *path, int nfields);
extern void corpus_free(Corpus *c);

#endif
