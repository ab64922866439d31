// Package schema owns what a database's schema is for lms-backup: its
// tables and their columns, its objects (views in dependency order,
// routines, triggers, events), their definitions with or without their
// definer, the SQL text that recreates a table's definition or an object,
// and which tables hold rows of their own. Both dump and restore use it;
// it imports neither.
package schema
