package dump

import "lms-backup/dumpfile"

// Exported for the tests of package dump_test, which may import restore
// (restore imports dump).

// TableSchemaText is the text of a table's schema frame.
func TableSchemaText(name, create string) []byte { return appendTableSchema(nil, name, create) }

// ObjectText is the text that recreates one object.
func ObjectText(kind, name, create, sqlMode, charset, collate string) []byte {
	o := object{Kind: kind, Name: name, Create: create, SQLMode: sqlMode, Charset: charset, Collate: collate}
	return appendObject(nil, o, create, func(string, ...any) {})
}

// HeaderText is the text of a header frame for database db.
func HeaderText(db string) []byte {
	return appendHeader(nil, dumpfile.Header{Database: db, Tool: "test", ServerVersion: "10.11\nDROP DATABASE x;"})
}
