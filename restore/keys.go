package restore

import (
	"strings"
)

// deferred are the secondary keys and foreign keys of one table, taken out
// of its CREATE TABLE to be added after its rows: InnoDB builds an index
// from sorted rows several times faster than it maintains it row by row.
type deferred struct {
	table string
	keys  []string // "ADD KEY `k` (`a`)" clauses, in their original order
	fks   []string // "ADD CONSTRAINT `fk` FOREIGN KEY ..." clauses
}

// deferKeys takes a CREATE TABLE statement as SHOW CREATE TABLE prints it
// (one column or key per line, two spaces in, the options on the last line)
// and returns it without its plain secondary keys and foreign keys, and
// those as ALTER TABLE clauses. It defers nothing (ok false) unless the
// table is a plain InnoDB table (not partitioned, not system-versioned) and
// every line has the expected shape, so a statement it does not fully
// understand runs unchanged.
//
// Keys are added back in their original order, which keeps SHOW CREATE
// TABLE identical: the server lists primary, unique, then plain keys, each
// group in the order the keys were made. Foreign keys, listed by name, go in
// a second ALTER after every table's keys exist, since one may need a key
// of another table.
func deferKeys(table, stmt string) (create string, d deferred, ok bool) {
	lines := strings.Split(stmt, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "CREATE TABLE ") || !strings.HasSuffix(lines[0], " (") {
		return stmt, d, false
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ") ENGINE=InnoDB") || strings.Contains(last, "WITH SYSTEM VERSIONING") {
		return stmt, d, false
	}
	d.table = table
	auto := autoIncrementColumn(lines[1 : len(lines)-1])
	items := lines[1 : len(lines)-1]
	// The server orders plain and SPATIAL keys among themselves in the
	// order they were made, and an added key goes after all of them: a
	// plain key may be deferred only if no key that stays (SPATIAL, or a
	// key on the AUTO_INCREMENT column) comes after it.
	lastFixed := -1
	for i, line := range items {
		item := strings.TrimSuffix(line, ",")
		if strings.HasPrefix(item, "  SPATIAL KEY `") || (strings.HasPrefix(item, "  KEY `") && auto != "" && strings.Contains(item, "` ("+auto)) {
			lastFixed = i
		}
	}
	kept := []string{}
	for i, line := range items {
		item := strings.TrimSuffix(line, ",")
		switch {
		case strings.HasPrefix(item, "  KEY `") && i > lastFixed:
			d.keys = append(d.keys, "ADD "+item[2:])
		case strings.HasPrefix(item, "  CONSTRAINT `") && strings.Contains(item, "` FOREIGN KEY ("):
			d.fks = append(d.fks, "ADD "+item[2:])
		case strings.HasPrefix(item, "  `"), strings.HasPrefix(item, "  PRIMARY KEY "), strings.HasPrefix(item, "  UNIQUE KEY `"),
			strings.HasPrefix(item, "  FULLTEXT KEY `"), strings.HasPrefix(item, "  SPATIAL KEY `"), strings.HasPrefix(item, "  CONSTRAINT `"),
			strings.HasPrefix(item, "  PERIOD FOR "), strings.HasPrefix(item, "  KEY `"):
			kept = append(kept, item)
		default:
			return stmt, deferred{}, false // a line of a shape not known here
		}
	}
	if len(d.keys)+len(d.fks) == 0 || len(kept) == 0 {
		return stmt, deferred{}, false
	}
	return lines[0] + "\n" + strings.Join(kept, ",\n") + "\n" + last, d, true
}

// autoIncrementColumn returns the quoted name of the AUTO_INCREMENT column
// among a CREATE TABLE's lines, or "". The server wants that column first
// in some key, so a plain key that starts with it stays in the CREATE.
func autoIncrementColumn(lines []string) string {
	for _, line := range lines {
		if !strings.HasPrefix(line, "  `") || !strings.Contains(line, " AUTO_INCREMENT") {
			continue
		}
		// The name is quoted with backticks doubled inside.
		for i := 3; i < len(line); i++ {
			if line[i] != '`' {
				continue
			}
			if i+1 < len(line) && line[i+1] == '`' {
				i++
				continue
			}
			return line[2 : i+1]
		}
	}
	return ""
}
