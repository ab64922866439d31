// Package sqlscript reads the SQL text of an lms-backup dump as the stock
// mariadb client does: it splits scripts into statements (following
// DELIMITER and the sql_mode flags that change quoting), counts the rows
// of an extended INSERT, checks that every statement is of a kind its
// frame may hold, and verifies a whole dump file without a server.
// restore runs what it splits; dump verifies what it writes with Verify.
package sqlscript
