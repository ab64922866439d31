package schema

import (
	"strings"

	"lms-backup/internal/sqlident"
)

// AppendTableSchema writes a table's schema frame: a comment naming it,
// DROP TABLE IF EXISTS and its CREATE TABLE as the server shows it.
func AppendTableSchema(b []byte, name, create string) []byte {
	b = append(b, "--\n-- Table "...)
	b = sqlident.AppendComment(b, name)
	b = append(b, "\n--\nDROP TABLE IF EXISTS "...)
	b = sqlident.Append(b, name)
	b = append(b, ";\n"...)
	b = append(b, create...)
	return append(b, ";\n"...)
}

// AppendObject writes the statements that recreate one view, routine,
// package, trigger or event under the sql_mode, client charset and
// collation and (for events) time zone it was created with. The session is
// set before the DROP: DROP PACKAGE exists only under sql_mode ORACLE.
func AppendObject(b []byte, o Definition, create string, warn func(string, ...any)) []byte {
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
		b = sqlident.AppendString(b, []byte(collate))
	}
	b = append(b, ", sql_mode = "...)
	b = sqlident.AppendString(b, []byte(o.SQLMode))
	if o.Kind == "EVENT" && o.TZ != "" {
		b = append(b, ", time_zone = "...)
		b = sqlident.AppendString(b, []byte(o.TZ))
	}
	b = append(b, ";\nDROP "...)
	b = append(b, o.Kind...)
	b = append(b, " IF EXISTS "...)
	b = sqlident.Append(b, o.Name)
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
