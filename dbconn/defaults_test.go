package dbconn

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes content to dir/name, creating folders, and returns the
// path. "{{dir}}" in content is replaced by dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(content, "{{dir}}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative to a temp folder; my.cnf is the one read
		want  fileSettings
	}{
		{
			name:  "key=value and key = value",
			files: map[string]string{"my.cnf": "[client]\nuser=bob\nhost = db1\n  port\t=\t3307  \nsocket=/tmp/x.sock\ndatabase=shop\n"},
			want:  fileSettings{user: "bob", host: "db1", port: 3307, socket: "/tmp/x.sock", database: "shop"},
		},
		{
			name:  "double quotes with escapes",
			files: map[string]string{"my.cnf": `[client]` + "\n" + `password="a b\"c\\d\n\t\s'"` + "\n"},
			want:  fileSettings{password: "a b\"c\\d\n\t '", hasPassword: true},
		},
		{
			name:  "single quotes keep a comment sign",
			files: map[string]string{"my.cnf": "[client]\npassword='x #y' # comment\n"},
			want:  fileSettings{password: "x #y", hasPassword: true},
		},
		{
			name:  "unquoted values are unescaped like the mysql client does",
			files: map[string]string{"my.cnf": "[client]\npassword=a\\sb\\qc\n"},
			want:  fileSettings{password: `a b\qc`, hasPassword: true},
		},
		{
			name: "comments",
			files: map[string]string{"my.cnf": "# top\n; also\n[client] # group comment\n  # indented\nuser=bob # trailing\n" +
				"password=ab#cd\nhost=h1\t# tab comment\n;host=h2\n"},
			want: fileSettings{user: "bob", password: "ab#cd", hasPassword: true, host: "h1"},
		},
		{
			name:  "dashes, underscores, case and loose- prefix",
			files: map[string]string{"my.cnf": "[CLIENT]\nSSL_CA=/ca.pem\nssl-Cert=/c.pem\nloose_ssl_key=/k.pem\nSSL_MODE=verify_identity\n"},
			want:  fileSettings{sslCA: "/ca.pem", sslCert: "/c.pem", sslKey: "/k.pem", sslMode: sslVerifyIdentity},
		},
		{
			name: "later groups in the list override earlier ones wherever they are",
			files: map[string]string{"my.cnf": "[lms-backup]\nuser=mine\n[mysqldump]\nhost=dumphost\nuser=dumper\n" +
				"[client-mariadb]\nport=3310\n[client-server]\nport=3309\n[client]\nuser=client\nhost=clienthost\nport=3308\nsocket=/s\n"},
			want: fileSettings{user: "mine", host: "dumphost", port: 3310, socket: "/s"},
		},
		{
			name:  "later line in the same group wins",
			files: map[string]string{"my.cnf": "[client]\nuser=a\n[client]\nuser=b\n"},
			want:  fileSettings{user: "b"},
		},
		{
			name:  "other groups, options outside a group and unknown keys are ignored",
			files: map[string]string{"my.cnf": "user=outside\n[mysqld]\nuser=mysql\npassword=server\n[client]\ncolor=auto\nno-beep\n"},
			want:  fileSettings{},
		},
		{
			name:  "skip-ssl disables TLS",
			files: map[string]string{"my.cnf": "[client]\nssl-mode=REQUIRED\n[lms-backup]\nskip-ssl\n"},
			want:  fileSettings{sslMode: sslDisabled},
		},
		{
			name:  "bare ssl means REQUIRED",
			files: map[string]string{"my.cnf": "[client]\nssl\n"},
			want:  fileSettings{sslMode: sslRequired},
		},
		{
			name:  "ssl does not weaken VERIFY_CA",
			files: map[string]string{"my.cnf": "[client]\nssl-mode=VERIFY_CA\n[lms-backup]\nssl\n"},
			want:  fileSettings{sslMode: sslVerifyCA},
		},
		{
			name:  "ssl=0 and ssl-verify-server-cert",
			files: map[string]string{"my.cnf": "[client]\nssl=0\n[mysqldump]\nssl-verify-server-cert\n"},
			want:  fileSettings{sslMode: sslVerifyIdentity},
		},
		{
			name:  "bare password is ignored, empty password counts",
			files: map[string]string{"my.cnf": "[client]\npassword=\n[lms-backup]\npassword\n"},
			want:  fileSettings{password: "", hasPassword: true},
		},
		{
			name:  "skip-password drops a password",
			files: map[string]string{"my.cnf": "[client]\npassword=x\n[lms-backup]\nskip-password\n"},
			want:  fileSettings{},
		},
		{
			name: "include keeps the including group afterwards",
			files: map[string]string{
				"my.cnf":  "[client]\nuser=a\n!include {{dir}}/inc.cnf\nhost=h\n",
				"inc.cnf": "port=1111\n[lms-backup]\npassword=p\n",
			},
			want: fileSettings{user: "a", host: "h", password: "p", hasPassword: true},
		},
		{
			name: "includedir reads .cnf files in name order",
			files: map[string]string{
				"my.cnf":           "!includedir {{dir}}/conf.d\n[client]\nhost=h\n",
				"conf.d/20-b.cnf":  "[client]\nuser=b\n",
				"conf.d/10-a.cnf":  "[client]\nuser=a\nport=3307\n",
				"conf.d/30-c.txt":  "[client]\nuser=c\n",
				"conf.d/sub/x.cnf": "[client]\nuser=x\n",
			},
			want: fileSettings{user: "b", host: "h", port: 3307},
		},
		{
			name:  "missing include file is skipped",
			files: map[string]string{"my.cnf": "[client]\n!include {{dir}}/nope.cnf\nuser=a\n"},
			want:  fileSettings{user: "a"},
		},
		{
			name:  "byte order mark and CRLF",
			files: map[string]string{"my.cnf": "\xef\xbb\xbf[client]\r\nuser=bob\r\npassword=\"pw\"\r\n"},
			want:  fileSettings{user: "bob", password: "pw", hasPassword: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, dir, name, content)
			}
			got, err := loadDefaults(osFS{}, filepath.Join(dir, "my.cnf"), true)
			if err != nil {
				t.Fatalf("loadDefaults: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseDefaultsErrors(t *testing.T) {
	const secret = "s3cretPW"
	tests := []struct {
		name     string
		files    map[string]string
		path     string // read instead of my.cnf when set
		required bool
		wantErr  bool
		contains []string // in the message, after replacing {{dir}}
	}{
		{
			name:     "missing named file",
			path:     "absent.cnf",
			required: true,
			wantErr:  true,
			contains: []string{"read defaults file {{dir}}/absent.cnf: no such file or directory (check the path and its permissions)"},
		},
		{
			name: "missing ~/.my.cnf is fine",
			path: "absent.cnf",
		},
		{
			name:     "unreadable file",
			files:    map[string]string{"dir.cnf/x": ""},
			path:     "dir.cnf",
			required: true,
			wantErr:  true,
			contains: []string{"read defaults file {{dir}}/dir.cnf: ", "(check the path and its permissions)"},
		},
		{
			name:     "bad port names file and line",
			files:    map[string]string{"my.cnf": "[client]\npassword=" + secret + "\nport=33o6\n"},
			required: true,
			wantErr:  true,
			contains: []string{"{{dir}}/my.cnf:3", "port"},
		},
		{
			name:     "bad ssl-mode",
			files:    map[string]string{"my.cnf": "[client]\nssl-mode=sometimes\n"},
			required: true,
			wantErr:  true,
			contains: []string{"{{dir}}/my.cnf:2", "ssl-mode"},
		},
		{
			name:     "group header without bracket",
			files:    map[string]string{"my.cnf": "[client\npassword=" + secret + "\n"},
			required: true,
			wantErr:  true,
			contains: []string{"{{dir}}/my.cnf:1", "--no-defaults"},
		},
		{
			name:     "missing includedir",
			files:    map[string]string{"my.cnf": "!includedir {{dir}}/none.d\n"},
			required: true,
			wantErr:  true,
			contains: []string{"{{dir}}/none.d"},
		},
		{
			name:     "include loop",
			files:    map[string]string{"my.cnf": "[client]\npassword=" + secret + "\n!include {{dir}}/my.cnf\n"},
			required: true,
			wantErr:  true,
			contains: []string{"nested deeper than 10"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, dir, name, content)
			}
			path := filepath.Join(dir, first(tt.path, "my.cnf"))
			_, err := loadDefaults(osFS{}, path, tt.required)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %q does not wrap ErrUsage", err)
			}
			msg := err.Error()
			for _, want := range tt.contains {
				if want = strings.ReplaceAll(want, "{{dir}}", dir); !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "dbconn:") || strings.Contains(msg, "\n") {
				t.Errorf("error %q leaks the file contents, repeats the sentinel or spans lines", msg)
			}
		})
	}
}

// noFS is a cnfFS without files.
type noFS struct{}

func (noFS) ReadFile(string) ([]byte, error)       { return nil, fs.ErrNotExist }
func (noFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, fs.ErrNotExist }

// quoteValue writes v as a double-quoted option value the parser must read
// back unchanged.
func quoteValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`).Replace(v) + `"`
}

func FuzzParseDefaults(f *testing.F) {
	f.Add([]byte("[client]\nuser=bob\npassword=\"a\\\"b\" # c\n!include /nope\n[lms-backup]\nssl\nport=3306\n"))
	f.Add([]byte("[client\n"))
	f.Add([]byte("\xef\xbb\xbf[mysqldump]\r\nskip-ssl\r\nssl-mode=verify_ca\r\n'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := cnfParser{fsys: noFS{}}
		if err := p.parse(data, "fuzz.cnf", 0); err == nil {
			_, _ = p.settings()
		}

		// Any value survives double quoting.
		value := string(data)
		p = cnfParser{fsys: noFS{}}
		if err := p.parse([]byte("[client]\npassword = "+quoteValue(value)+"  # comment\n"), "fuzz.cnf", 0); err != nil {
			t.Fatalf("parse quoted value: %v", err)
		}
		s, err := p.settings()
		if err != nil {
			t.Fatalf("settings: %v", err)
		}
		if !s.hasPassword || s.password != value {
			t.Fatalf("password %q read back as %q", value, s.password)
		}
	})
}
