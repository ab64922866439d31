package dump

import "lms-backup/dumpfile"

// Exported for the tests of package dump_test.

// HeaderText is the text of a header frame for database db.
func HeaderText(db string) []byte {
	return appendHeader(nil, dumpfile.Header{Database: db, Tool: "test", ServerVersion: "10.11\nDROP DATABASE x;"})
}
