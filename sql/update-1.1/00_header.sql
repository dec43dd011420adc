-- edgestat 1.0 -> 1.1.  Assembled from sql/update-1.1/*.sql, one file per
-- concern, in name order; frozen (committed as one file) when 1.1 is
-- released.  Version 1.0 is frozen in sql/edgestat--1.0.sql: every change
-- to the SQL surface goes here, never there, so ALTER EXTENSION edgestat
-- UPDATE keeps every row.

\echo Use "ALTER EXTENSION edgestat UPDATE TO '1.1'" to load this file. \quit
