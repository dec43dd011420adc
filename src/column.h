/*-------------------------------------------------------------------------
 *
 * column.h
 *	  A column of values gathered in C and passed to a statement as one
 *	  array, which the statement unnests: how writer.c and rollup.c hand
 *	  a whole batch to PostgreSQL in one parameter per column.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_COLUMN_H
#define EDGESTAT_COLUMN_H

#include "postgres.h"

typedef struct EsColumn
{
	Oid			type;			/* element type */
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *values;
	bool	   *nulls;
} EsColumn;

extern void es_column_init(EsColumn *col, Oid array_type, int n);
extern void es_column_text(EsColumn *col, int i, const char *s);
extern Datum es_column_array(EsColumn *col, int n);

#endif							/* EDGESTAT_COLUMN_H */
