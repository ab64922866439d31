package sqlscript

import (
	"testing"

	"lms-backup/dumpfile"
)

// TestCheckKind: each frame kind takes the statements lms-backup writes
// into it and nothing else.
func TestCheckKind(t *testing.T) {
	header := dumpfile.FrameInfo{Kind: dumpfile.KindHeader}
	schema := dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: "t"}
	objects := dumpfile.FrameInfo{Kind: dumpfile.KindObjects}
	trailer := dumpfile.FrameInfo{Kind: dumpfile.KindTrailer}
	for _, tt := range []struct {
		info dumpfile.FrameInfo
		stmt string
		mode Mode
		ok   bool
	}{
		{header, "SET @OLD_SQL_MODE=@@SQL_MODE", ModeUnknown, true},
		{header, "SET NAMES utf8mb4", ModeUnknown, true},
		{header, "SET TIME_ZONE='+00:00'", ModeUnknown, true},
		{header, "SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO'", ModeUnknown, true},
		{header, "/*!40101 SET NAMES utf8mb4 */", ModeUnknown, true},
		{header, "SET GLOBAL sql_mode=''", 0, false},
		{header, "SET PASSWORD = PASSWORD('x')", 0, false},
		{header, "SET @x = evil()", 0, false},
		{header, "SET STATEMENT max_statement_time=1 FOR DROP DATABASE lms", 0, false},
		{header, "CREATE DATABASE injected", 0, false},
		{schema, "DROP TABLE IF EXISTS `t`", 0, true},
		{schema, "CREATE TABLE `t` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB", 0, true},
		{schema, "DROP SEQUENCE IF EXISTS `t`", 0, true},
		{schema, "CREATE SEQUENCE `t` start with 1 minvalue 1", 0, true},
		{schema, "DO SETVAL(`t`, 5, 0)", 0, true},
		{schema, "DROP TABLE IF EXISTS `u`", 0, false},
		{schema, "DROP TABLE IF EXISTS `t`, `u`", 0, false},
		{schema, "CREATE TABLE `other`.`t` (id INT)", 0, false},
		{schema, "CREATE DATABASE injected", 0, false},
		{schema, "INSERT INTO `t` VALUES (1)", 0, false},
		{objects, "DROP FUNCTION IF EXISTS `f`", 0, true},
		{objects, "DROP PACKAGE BODY IF EXISTS `p`", 0, true},
		{objects, "SET SESSION character_set_client = utf8mb4, collation_connection = 'utf8mb4_general_ci', sql_mode = 'ANSI_QUOTES'", 0, true},
		{objects, "SET SESSION system_versioning_insert_history = 1", 0, true},
		{objects, "CREATE DEFINER=`root`@`localhost` FUNCTION `f`() RETURNS int RETURN 1", 0, true},
		{objects, "CREATE ALGORITHM=UNDEFINED DEFINER=`a`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1", 0, true},
		{objects, `CREATE DEFINER="root"@"localhost" TRIGGER "trg\" BEFORE INSERT ON t FOR EACH ROW SET NEW.v = 1`, ANSIQuotes, true},
		{objects, "CREATE DEFINER=`root`@`localhost` EVENT `e` ON SCHEDULE EVERY 1 DAY DO DELETE FROM t", 0, true},
		{objects, "CREATE DEFINER=`root`@`localhost` PACKAGE BODY `p` AS END", 0, true},
		{objects, "CREATE DATABASE injected", 0, false},
		{objects, "CREATE VIEW `other`.`v` AS select 1", 0, false},
		{objects, "CREATE DEFINER=`root`@`localhost` TABLE `x` (id int)", 0, false},
		{objects, "DROP DATABASE lms", 0, false},
		{objects, "GRANT ALL ON *.* TO x", 0, false},
		{trailer, "SET SQL_MODE=@OLD_SQL_MODE", 0, true},
		{trailer, "DROP TABLE IF EXISTS `t`", 0, false},
	} {
		t.Run(string(tt.info.Kind)+" "+tt.stmt, func(t *testing.T) {
			err := checkKind(tt.info, []byte(tt.stmt), tt.mode)
			if (err == nil) != tt.ok {
				t.Errorf("checkKind = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestCheckFrameEnd: a frame that leaves another mode or delimiter in
// force would be split differently by the stock client.
func TestCheckFrameEnd(t *testing.T) {
	for _, tt := range []struct {
		script string
		ok     bool
	}{
		{"SET SESSION sql_mode = 'ANSI_QUOTES';\nSET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n", true},
		{"SET SESSION sql_mode = 'ANSI_QUOTES';\n", false},
		{"SET SESSION sql_mode = @x;\n", false},
		{"DELIMITER ;;\n", false},
	} {
		sp := FrameSplitter(dumpfile.KindObjects)
		if err := sp.Split([]byte(tt.script), func(Statement) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := sp.CheckFrameEnd(dumpfile.KindObjects); (err == nil) != tt.ok {
			t.Errorf("%q: CheckFrameEnd = %v, want ok %v", tt.script, err, tt.ok)
		}
	}
}
