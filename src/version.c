/*-------------------------------------------------------------------------
 *
 * version.c
 *	  Says what to run when the library and the database's SQL objects are
 *	  of different versions (see version.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "version.h"

void
es_check_extension_version(void)
{
	static bool checked = false;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *installed = NULL;

	if (checked)
		return;
	checked = true;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("edgestat"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			installed = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (installed && strcmp(installed, ES_EXTENSION_VERSION) != 0)
		ereport(WARNING,
				(errmsg("edgestat: the library is version %s, but the extension in database \"%s\" is at version %s",
						ES_EXTENSION_VERSION, get_database_name(MyDatabaseId),
						installed),
				 errdetail("Ingestion goes on; features of the newer version are missing until the update."),
				 errhint("Run ALTER EXTENSION edgestat UPDATE in database \"%s\".",
						 get_database_name(MyDatabaseId))));
}
