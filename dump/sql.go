package dump

import (
	"strings"

	"lms-backup/dumpfile"
	"lms-backup/internal/sqlident"
)

// headerSQL prepares a restoring session: UTF-8, UTC, a permissive
// sql_mode that keeps zero dates and explicit zeros in AUTO_INCREMENT
// columns, no foreign key or unique checks while loading, and (MariaDB
// 10.11 and later) the row versions of system-versioned tables inserted
// with their own ROW START and ROW END. Every value is
// saved first and put back by trailerSQL.
const headerSQL = `SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT, @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS, @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION;
SET NAMES utf8mb4;
SET @OLD_TIME_ZONE=@@TIME_ZONE;
SET TIME_ZONE='+00:00';
SET @OLD_SQL_MODE=@@SQL_MODE;
SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO';
SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS;
SET FOREIGN_KEY_CHECKS=0;
SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS;
SET UNIQUE_CHECKS=0;
SET @OLD_SQL_NOTES=@@SQL_NOTES;
SET SQL_NOTES=0;
/*M!101100 SET @OLD_SYSTEM_VERSIONING_INSERT_HISTORY=@@SYSTEM_VERSIONING_INSERT_HISTORY, @@SYSTEM_VERSIONING_INSERT_HISTORY=1 */;
`

const trailerSQL = `SET TIME_ZONE=@OLD_TIME_ZONE;
SET SQL_MODE=@OLD_SQL_MODE;
SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;
SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;
SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT;
SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS;
SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION;
SET SQL_NOTES=@OLD_SQL_NOTES;
/*M!101100 SET @@SYSTEM_VERSIONING_INSERT_HISTORY=@OLD_SYSTEM_VERSIONING_INSERT_HISTORY */;
`

func appendHeader(b []byte, h dumpfile.Header) []byte {
	b = dumpfile.AppendHeaderLine(b, h)
	b = append(b, "-- Database: "...)
	b = sqlident.AppendComment(b, h.Database)
	b = append(b, "\n-- Server: "...)
	b = appendCommentText(b, h.ServerVersion)
	b = append(b, "\n-- Restore with: lms-backup restore --database NAME FILE, or: zstd -dc FILE | mariadb NAME\n"...)
	return append(b, headerSQL...)
}

// appendTableSchema writes a table's schema frame: a comment naming it,
// DROP TABLE IF EXISTS and its CREATE TABLE as the server shows it.
func appendTableSchema(b []byte, name, create string) []byte {
	b = append(b, "--\n-- Table "...)
	b = sqlident.AppendComment(b, name)
	b = append(b, "\n--\nDROP TABLE IF EXISTS "...)
	b = AppendIdent(b, name)
	b = append(b, ";\n"...)
	b = append(b, create...)
	return append(b, ";\n"...)
}

// appendObject writes the statements that recreate one view, routine,
// package, trigger or event under the sql_mode, client charset and
// collation and (for events) time zone it was created with. The session is
// set before the DROP: DROP PACKAGE exists only under sql_mode ORACLE.
func appendObject(b []byte, o object, create string, warn func(string, ...any)) []byte {
	b = append(b, "--\n-- "...)
	b = append(b, o.Kind...)
	b = append(b, ' ')
	b = sqlident.AppendComment(b, o.Name)
	b = append(b, "\n--\n"...)

	charset, collate := o.Charset, o.Collate
	if o.Converted {
		warn("object was created by a client whose charset no SQL splitter can cut safely; it is recreated with utf8mb4",
			"object", o.Name, "charset", charset)
		charset, collate = "utf8mb4", ""
	}
	if charset == "" || !isASCII(charset) || strings.ContainsAny(charset, " ;'`\"") {
		charset, collate = "utf8mb4", ""
	}
	b = append(b, "SET SESSION character_set_client = "...)
	b = append(b, charset...)
	if collate != "" {
		b = append(b, ", collation_connection = "...)
		b = AppendString(b, []byte(collate))
	}
	b = append(b, ", sql_mode = "...)
	b = AppendString(b, []byte(o.SQLMode))
	if o.Kind == "EVENT" && o.TZ != "" {
		b = append(b, ", time_zone = "...)
		b = AppendString(b, []byte(o.TZ))
	}
	b = append(b, ";\nDROP "...)
	b = append(b, o.Kind...)
	b = append(b, " IF EXISTS "...)
	b = AppendIdent(b, o.Name)
	b = append(b, ";\n"...)
	if o.Kind == "VIEW" {
		b = append(b, create...)
		return append(b, ";\n"...)
	}
	delim := chooseDelimiter(create)
	b = append(b, "DELIMITER "...)
	b = append(b, delim...)
	b = append(b, '\n')
	b = append(b, create...)
	b = append(b, delim...)
	return append(b, "\nDELIMITER ;\n"...)
}

// appendCommentText appends free text from the server (its version string)
// to a comment line with control bytes replaced by spaces, so that it
// cannot end the line.
func appendCommentText(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			b = append(b, ' ')
		} else {
			b = append(b, c)
		}
	}
	return b
}
