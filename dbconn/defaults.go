package dbconn

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// maxIncludeDepth bounds !include nesting, as in MySQL; it also stops loops.
const maxIncludeDepth = 10

// fileSettings is what the defaults file says; empty strings mean "not set".
type fileSettings struct {
	user, host, socket string
	port               int
	password           string
	hasPassword        bool // password= was given, possibly empty
	sslMode            string
	sslCA              string
	sslCert, sslKey    string
	database           string
	// aws holds the object-storage settings, meant for the [lms-backup]
	// group; see awsKeys.
	aws [len(awsKeys)]string
}

// awsKeys are the object-storage settings a defaults file may hold, in the
// order of fileSettings.aws.
var awsKeys = [...]string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token", "aws-region",
	"aws-endpoint-url", "aws-profile", "aws-ca-bundle"}

// readDefaults reads the defaults file o names, or ~/.my.cnf if it exists.
func (o Options) readDefaults() (fileSettings, error) {
	if o.NoDefaults || o.DSN != "" {
		return fileSettings{}, nil
	}
	if o.DefaultsFile != "" {
		return loadDefaults(osFS{}, o.DefaultsFile, true)
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return fileSettings{}, nil
	}
	return loadDefaults(osFS{}, filepath.Join(home, ".my.cnf"), false)
}

// loadDefaults reads and interprets the option file at path. A missing file
// is an error only when required.
func loadDefaults(fsys cnfFS, path string, required bool) (fileSettings, error) {
	data, err := fsys.ReadFile(path)
	if err != nil {
		if !required && errors.Is(err, fs.ErrNotExist) {
			return fileSettings{}, nil
		}
		return fileSettings{}, fileError("read defaults file", path, err)
	}
	p := cnfParser{fsys: fsys}
	if err := p.parse(data, path, 0); err != nil {
		return fileSettings{}, err
	}
	return p.settings()
}

// fileError reports that path could not be read, naming the file but never
// its contents. It wraps ErrUsage and err.
func fileError(what, path string, err error) error {
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	return newError(ErrUsage, err, fmt.Sprintf("%s %s: %v (check the path and its permissions)", what, path, cause))
}

// cnfFS is the file access the parser needs; tests and the fuzzer replace it.
type cnfFS interface {
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error) // sorted by name
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// cnfEntry is one option line of a group this package reads.
type cnfEntry struct {
	rank     int    // precedence of the group: see groupRank
	key      string // lower case, '_' replaced by '-', "loose-" removed
	value    string // unquoted and unescaped
	hasValue bool   // the line had '='
	file     string
	line     int
}

// cnfParser collects the entries of an option file and its includes in the
// order the mysql client would see them.
type cnfParser struct {
	fsys    cnfFS
	entries []cnfEntry
}

// groupRank returns the precedence of an option group, higher wins, or -1 for
// a group this package ignores.
func groupRank(name string) int {
	switch strings.ToLower(name) {
	case "client":
		return 0
	case "client-server":
		return 1
	case "client-mariadb":
		return 2
	case "mysqldump":
		return 3
	case "lms-backup":
		return 4
	}
	return -1
}

// parse reads the option file contents data; name is the file's path, used
// in errors. depth counts the !include levels above it. Like the mysql
// client, a file starts outside any group, and options outside a group are
// ignored.
func (p *cnfParser) parse(data []byte, name string, depth int) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	rank := -1
	for lineNo := 1; len(data) > 0; lineNo++ {
		var raw []byte
		raw, data, _ = bytes.Cut(data, []byte{'\n'})
		line := strings.TrimSpace(string(raw))
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '!':
			if err := p.directive(line, name, lineNo, depth); err != nil {
				return err
			}
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return syntaxError(name, lineNo, "group header without ']'")
			}
			rank = groupRank(strings.TrimSpace(line[1:end]))
			continue
		case rank < 0:
			continue
		}
		key, value, hasValue := strings.Cut(stripComment(line), "=")
		key = normalizeKey(key)
		if key == "" {
			continue
		}
		if hasValue {
			value = unquote(strings.TrimSpace(value))
		}
		p.entries = append(p.entries, cnfEntry{rank: rank, key: key, value: value, hasValue: hasValue, file: name, line: lineNo})
	}
	return nil
}

// directive handles a line starting with '!'. Unknown directives are
// ignored. A missing !include file is skipped, as by the mysql client; a
// missing !includedir folder is an error.
func (p *cnfParser) directive(line, name string, lineNo, depth int) error {
	var path string
	var dir bool
	if arg, ok := directiveArg(line, "!includedir"); ok {
		path, dir = arg, true
	} else if arg, ok := directiveArg(line, "!include"); ok {
		path = arg
	} else {
		return nil
	}
	if path == "" {
		return syntaxError(name, lineNo, "include directive without a path")
	}
	if depth+1 > maxIncludeDepth {
		return syntaxError(name, lineNo, fmt.Sprintf("includes nested deeper than %d", maxIncludeDepth))
	}
	if !dir {
		return p.include(path, depth+1)
	}
	entries, err := p.fsys.ReadDir(path)
	if err != nil {
		return fileError("read defaults folder", path, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".cnf") {
			continue
		}
		if err := p.include(filepath.Join(path, e.Name()), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// include parses the option file at path, skipping it if it does not exist.
func (p *cnfParser) include(path string, depth int) error {
	data, err := p.fsys.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fileError("read defaults file", path, err)
	}
	return p.parse(data, path, depth)
}

// directiveArg returns the trimmed argument of directive kw (which must be
// followed by white space) in line.
func directiveArg(line, kw string) (string, bool) {
	rest, ok := strings.CutPrefix(line, kw)
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// syntaxError reports a malformed line by position only: the line may hold a
// password.
func syntaxError(name string, lineNo int, what string) error {
	return usageError("defaults file %s:%d: %s (fix the file or use --no-defaults)", name, lineNo, what)
}

// stripComment removes a trailing "# comment" from an option line: a '#'
// outside quotes that follows white space. A '#' inside a value, as in
// password=ab#cd, is kept.
func stripComment(line string) string {
	var quote byte
	escape := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if (c == '\'' || c == '"') && !escape {
			switch quote {
			case 0:
				quote = c
			case c:
				quote = 0
			}
		}
		if quote == 0 && c == '#' && i > 0 && (line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimSpace(line[:i])
		}
		escape = quote != 0 && c == '\\' && !escape
	}
	return line
}

// unquote removes one pair of matching surrounding quotes and then, as the
// mysql client does for every value, quoted or not, replaces the escapes \n
// \t \r \b \s (space) \\ \" and \'. Other backslashes are kept.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' || i == len(v)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch v[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 's':
			b.WriteByte(' ')
		case '\\', '"', '\'':
			b.WriteByte(v[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// normalizeKey makes option names comparable: ssl_ca, SSL-CA and
// loose-ssl-ca all become ssl-ca.
func normalizeKey(key string) string {
	key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
	return strings.TrimPrefix(key, "loose-")
}

// settings interprets the collected entries: groups of higher rank override
// lower ones, and within a rank a later line overrides an earlier one.
// Boolean options accept the skip-, disable- and enable- prefixes and the
// values 0/1, on/off, true/false.
func (p *cnfParser) settings() (fileSettings, error) {
	entries := make([]cnfEntry, len(p.entries))
	copy(entries, p.entries)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].rank < entries[j].rank })

	var s fileSettings
	for _, e := range entries {
		key, negated := cutBoolPrefix(e.key)
		if negated && key == "password" {
			s.password, s.hasPassword = "", false // --skip-password: no password from here
			continue
		}
		if negated || !e.hasValue {
			if key == "ssl" || key == "ssl-verify-server-cert" {
				setSSLFlag(&s, key, !negated)
			}
			continue // other options need a value; a bare "password" would prompt
		}
		if err := s.set(key, e); err != nil {
			return fileSettings{}, err
		}
	}
	return s, nil
}

// cutBoolPrefix removes a skip-, disable- or enable- prefix from key;
// negated reports whether it was skip- or disable-.
func cutBoolPrefix(key string) (rest string, negated bool) {
	for _, prefix := range []string{"skip-", "disable-", "enable-"} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			return rest, prefix != "enable-"
		}
	}
	return key, false
}

// set applies entry e, which has a value, to option key (e's key without
// a boolean prefix). Options lms-backup does not use are ignored; a
// malformed port, ssl-mode or boolean is a usage error naming the file
// and line.
func (s *fileSettings) set(key string, e cnfEntry) error {
	switch key {
	case "user":
		s.user = e.value
	case "password":
		s.password, s.hasPassword = e.value, true
	case "host":
		s.host = e.value
	case "socket":
		s.socket = e.value
	case "database":
		s.database = e.value
	case "ssl-ca":
		s.sslCA = e.value
	case "ssl-cert":
		s.sslCert = e.value
	case "ssl-key":
		s.sslKey = e.value
	case "port":
		n, err := strconv.Atoi(e.value)
		if err != nil || n < 1 || n > 65535 {
			return usageError("defaults file %s:%d: port %q is not a number from 1 to 65535", e.file, e.line, e.value)
		}
		s.port = n
	case "ssl-mode":
		mode, ok := parseSSLMode(e.value)
		if !ok {
			return usageError("defaults file %s:%d: ssl-mode %q is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY", e.file, e.line, e.value)
		}
		s.sslMode = mode
	case "aws-access-key-id", "aws-secret-access-key", "aws-session-token", "aws-region",
		"aws-endpoint-url", "aws-profile", "aws-ca-bundle":
		for i, k := range awsKeys {
			if k == key {
				s.aws[i] = e.value
			}
		}
	case "ssl", "ssl-verify-server-cert":
		on, ok := parseBool(e.value)
		if !ok {
			return usageError("defaults file %s:%d: %s %q is not a boolean (use 0 or 1)", e.file, e.line, key, e.value)
		}
		setSSLFlag(s, key, on)
	}
	return nil
}

// setSSLFlag applies the boolean options ssl and ssl-verify-server-cert.
// "ssl" asks for at least REQUIRED and never weakens a VERIFY mode.
func setSSLFlag(s *fileSettings, key string, on bool) {
	switch {
	case key == "ssl" && !on:
		s.sslMode = sslDisabled
	case key == "ssl" && s.sslMode != sslVerifyCA && s.sslMode != sslVerifyIdentity:
		s.sslMode = sslRequired
	case key == "ssl-verify-server-cert" && on:
		s.sslMode = sslVerifyIdentity
	case key == "ssl-verify-server-cert" && s.sslMode == sslVerifyIdentity:
		s.sslMode = sslRequired
	}
}

// parseBool parses a MySQL option-file boolean.
func parseBool(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "1", "on", "true", "yes":
		return true, true
	case "0", "off", "false", "no":
		return false, true
	}
	return false, false
}

// ObjectStorageSettings returns the aws-* settings of the defaults file o
// reads (see fileSettings.aws), by name; none when o reads no file. They
// hold secrets: never log them.
func (o Options) ObjectStorageSettings() (map[string]string, error) {
	fset, err := o.readDefaults()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, k := range awsKeys {
		if fset.aws[i] != "" {
			out[k] = fset.aws[i]
		}
	}
	return out, nil
}
