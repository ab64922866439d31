package dump

import (
	"strings"

	"lms-backup/dumpfile"
)

// headerSQL prepares a restoring session: UTF-8, UTC, a permissive
// sql_mode that keeps zero dates and explicit zeros in AUTO_INCREMENT
// columns, and no foreign key or unique checks while loading. Every value is
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
`

const trailerSQL = `SET TIME_ZONE=@OLD_TIME_ZONE;
SET SQL_MODE=@OLD_SQL_MODE;
SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;
SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;
SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT;
SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS;
SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION;
SET SQL_NOTES=@OLD_SQL_NOTES;
`

func appendHeader(b []byte, h dumpfile.Header) []byte {
	b = dumpfile.AppendHeaderLine(b, h)
	b = append(b, "-- Database: "...)
	b = AppendIdent(b, h.Database)
	b = append(b, "\n-- Server: "...)
	b = append(b, strings.ReplaceAll(h.ServerVersion, "\n", " ")...)
	b = append(b, "\n-- Restore with: lms-backup restore --database NAME FILE, or: zstd -dc FILE | mariadb NAME\n"...)
	return append(b, headerSQL...)
}

// appendObject writes the statements that recreate one view, routine,
// trigger or event under the sql_mode, charset and (for events) time zone
// it was created with.
func appendObject(b []byte, o object, create string, warn func(string, ...any)) []byte {
	b = append(b, "--\n-- "...)
	b = append(b, o.Kind...)
	b = append(b, ' ')
	b = AppendIdent(b, o.Name)
	b = append(b, "\n--\nDROP "...)
	b = append(b, o.Kind...)
	b = append(b, " IF EXISTS "...)
	b = AppendIdent(b, o.Name)
	b = append(b, ";\n"...)

	charset, collate := o.Charset, o.Collate
	switch strings.ToLower(charset) {
	case "utf8mb4", "utf8mb3", "utf8":
	default:
		if charset != "" {
			warn("object was created with a non-UTF-8 client charset; it is restored with utf8mb4",
				"object", o.Name, "charset", charset)
		}
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
