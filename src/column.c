/*-------------------------------------------------------------------------
 *
 * column.c
 *	  Columns of a batch, built in C and passed as arrays (see column.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "column.h"

/*
 * The element types a batch uses, with their storage, so that no batch
 * looks them up in the catalog cache again.
 */
static void
element_storage(EsColumn *col)
{
	switch (col->type)
	{
		case INT2OID:
			col->typlen = 2;
			col->typbyval = true;
			col->typalign = TYPALIGN_SHORT;
			break;
		case INT4OID:
			col->typlen = 4;
			col->typbyval = true;
			col->typalign = TYPALIGN_INT;
			break;
		case INT8OID:
		case FLOAT8OID:
		case TIMESTAMPTZOID:
			col->typlen = 8;
			col->typbyval = FLOAT8PASSBYVAL;
			col->typalign = TYPALIGN_DOUBLE;
			break;
		case UUIDOID:
			col->typlen = 16;
			col->typbyval = false;
			col->typalign = TYPALIGN_CHAR;
			break;
		case TEXTOID:
			col->typlen = -1;
			col->typbyval = false;
			col->typalign = TYPALIGN_INT;
			break;
		default:
			get_typlenbyvalalign(col->type, &col->typlen, &col->typbyval,
								 &col->typalign);
	}
}

static Oid
element_type(Oid array_type)
{
	switch (array_type)
	{
		case INT2ARRAYOID:
			return INT2OID;
		case INT4ARRAYOID:
			return INT4OID;
		case INT8ARRAYOID:
			return INT8OID;
		case FLOAT8ARRAYOID:
			return FLOAT8OID;
		case TIMESTAMPTZARRAYOID:
			return TIMESTAMPTZOID;
		case UUIDARRAYOID:
			return UUIDOID;
		case TEXTARRAYOID:
			return TEXTOID;
	}
	return get_element_type(array_type);
}

void
es_column_init(EsColumn *col, Oid array_type, int n)
{
	col->type = element_type(array_type);
	element_storage(col);
	col->values = palloc(sizeof(Datum) * Max(n, 1));
	col->nulls = palloc0(sizeof(bool) * Max(n, 1));
}

void
es_column_text(EsColumn *col, int i, const char *s)
{
	if (s)
		col->values[i] = CStringGetTextDatum(s);
	else
		col->nulls[i] = true;
}

Datum
es_column_array(EsColumn *col, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(col->values, col->nulls, 1, dims,
											  lbs, col->type, col->typlen,
											  col->typbyval, col->typalign));
}
