package dbconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

const secret = "s3cretPW"

// isolate keeps the tests away from the real ~/.my.cnf and MYSQL_PWD.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("MYSQL_PWD", "")
}

func TestPasswordPrecedence(t *testing.T) {
	tests := []struct {
		name         string
		password     string
		passwordFile string // contents; "" means no --password-file
		defaults     string // contents of --defaults-file; "" means none
		env          string
		want         string
	}{
		{name: "command line wins", password: "cli", passwordFile: "file\n", defaults: "[client]\npassword=cnf\n", env: "env", want: "cli"},
		{name: "password file beats defaults file", passwordFile: "file\n", defaults: "[client]\npassword=cnf\n", env: "env", want: "file"},
		{name: "defaults file beats MYSQL_PWD", defaults: "[client]\npassword=cnf\n", env: "env", want: "cnf"},
		{name: "empty password in defaults file beats MYSQL_PWD", defaults: "[client]\npassword=\n", env: "env", want: ""},
		{name: "MYSQL_PWD last", defaults: "[client]\nuser=bob\n", env: "env", want: "env"},
		{name: "nothing", want: ""},
		{name: "password file: first line, CRLF trimmed", passwordFile: "pa ss\r\nsecond\n", want: "pa ss"},
		{name: "password file without newline", passwordFile: "abc", want: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("MYSQL_PWD", tt.env)
			dir := t.TempDir()
			o := Options{Password: tt.password, User: "bob", NoDefaults: tt.defaults == ""}
			if tt.passwordFile != "" {
				o.PasswordFile = writeFile(t, dir, "pw", tt.passwordFile)
			}
			if tt.defaults != "" {
				o.DefaultsFile = writeFile(t, dir, "my.cnf", tt.defaults)
			}
			cfg, err := o.Config()
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			if cfg.Passwd != tt.want {
				t.Errorf("password = %q, want %q", cfg.Passwd, tt.want)
			}
		})
	}
}

func TestHomeMyCnf(t *testing.T) {
	isolate(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, home, ".my.cnf", "[client]\nuser=fromhome\npassword="+secret+"\nhost=db.example\n")

	cfg, err := Options{}.Config()
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	if cfg.User != "fromhome" || cfg.Passwd != secret || cfg.Net != "tcp" || cfg.Addr != "db.example:3306" {
		t.Errorf("got user %q net %q addr %q", cfg.User, cfg.Net, cfg.Addr)
	}

	cfg, err = Options{NoDefaults: true, User: "bob"}.Config()
	if err != nil {
		t.Fatalf("Config with NoDefaults: %v", err)
	}
	if cfg.Passwd != "" || cfg.Net != "unix" || cfg.Addr != defaultSocket {
		t.Errorf("NoDefaults still read ~/.my.cnf: net %q addr %q", cfg.Net, cfg.Addr)
	}
}

func TestConfigResolution(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		defaults string
		wantNet  string
		wantAddr string
		wantUser string
		wantDB   string
	}{
		{name: "no host means the default socket", opts: Options{User: "bob"}, wantNet: "unix", wantAddr: defaultSocket, wantUser: "bob"},
		{name: "localhost means the socket", opts: Options{Host: "localhost", Socket: "/tmp/my.sock", User: "bob"}, wantNet: "unix", wantAddr: "/tmp/my.sock", wantUser: "bob"},
		{name: "other host means TCP on 3306", opts: Options{Host: "127.0.0.1", User: "bob"}, wantNet: "tcp", wantAddr: "127.0.0.1:3306", wantUser: "bob"},
		{name: "IPv6 host", opts: Options{Host: "::1", Port: 3307, User: "bob"}, wantNet: "tcp", wantAddr: "[::1]:3307", wantUser: "bob"},
		{
			name:     "command line overrides the defaults file",
			opts:     Options{Host: "db2", User: "cli", Database: "clidb"},
			defaults: "[client]\nhost=db1\nport=3310\nuser=cnf\ndatabase=cnfdb\n",
			wantNet:  "tcp", wantAddr: "db2:3310", wantUser: "cli", wantDB: "clidb",
		},
		{
			name:     "defaults file socket and database",
			opts:     Options{},
			defaults: "[client]\nsocket=/var/lib/mysql/mysql.sock\nuser=cnf\n[lms-backup]\ndatabase=shop\n",
			wantNet:  "unix", wantAddr: "/var/lib/mysql/mysql.sock", wantUser: "cnf", wantDB: "shop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o := tt.opts
			if tt.defaults != "" {
				o.DefaultsFile = writeFile(t, t.TempDir(), "my.cnf", tt.defaults)
			} else {
				o.NoDefaults = true
			}
			cfg, err := o.Config()
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			if cfg.Net != tt.wantNet || cfg.Addr != tt.wantAddr || cfg.User != tt.wantUser || cfg.DBName != tt.wantDB {
				t.Errorf("got %s(%s) user %q db %q, want %s(%s) user %q db %q",
					cfg.Net, cfg.Addr, cfg.User, cfg.DBName, tt.wantNet, tt.wantAddr, tt.wantUser, tt.wantDB)
			}
		})
	}
}

func TestConfigFixedSettings(t *testing.T) {
	isolate(t)
	for _, o := range []Options{
		{NoDefaults: true, User: "bob"},
		{DSN: "bob@tcp(db:3306)/x?parseTime=true&multiStatements=true&interpolateParams=false&charset=latin1&maxAllowedPacket=1024"},
	} {
		cfg, err := o.Config()
		if err != nil {
			t.Fatalf("Config: %v", err)
		}
		if cfg.ParseTime || !cfg.InterpolateParams || cfg.MultiStatements || cfg.Loc != time.UTC ||
			!cfg.AllowNativePasswords || cfg.MaxAllowedPacket != 0 || cfg.Timeout != connectTimeout ||
			cfg.ReadTimeout != 0 || cfg.WriteTimeout != 0 || cfg.Collation != "utf8mb4_general_ci" {
			t.Errorf("%s: unexpected settings %+v", o.Describe(), cfg)
		}
		if dsn := cfg.FormatDSN(); !strings.Contains(dsn, "charset=utf8mb4&") {
			t.Errorf("%s: charset not utf8mb4 in %s", o.Describe(), dsn)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; "" means valid
	}{
		{name: "zero value", opts: Options{}},
		{name: "full TCP", opts: Options{Host: "db", Port: 3307, User: "u", PasswordFile: "/pw", SSLMode: "verify_identity", SSLCA: "/ca"}},
		{name: "verify without CA uses system roots", opts: Options{Host: "db", SSLMode: "VERIFY_CA"}},
		{name: "good DSN", opts: Options{DSN: "u:" + secret + "@tcp(db:3306)/x", Database: "y", SSLMode: "REQUIRED"}},
		{name: "DSN and host", opts: Options{DSN: "u@tcp(db)/", Host: "db"}, wantErr: "--dsn cannot be combined with --host"},
		{name: "DSN and several", opts: Options{DSN: "u@tcp(db)/", Port: 1, Socket: "/s", User: "u", DefaultsFile: "/f"}, wantErr: "--port, --socket, --user, --defaults-file"},
		{name: "bad DSN", opts: Options{DSN: "u:" + secret + "/x"}, wantErr: "parse --dsn: "},
		{name: "no-defaults and defaults-file", opts: Options{NoDefaults: true, DefaultsFile: "/f"}, wantErr: "--no-defaults"},
		{name: "port too big", opts: Options{Host: "db", Port: 65536}, wantErr: "--port 65536 is out of range"},
		{name: "negative port", opts: Options{Host: "db", Port: -1}, wantErr: "out of range"},
		{name: "bad ssl-mode", opts: Options{SSLMode: "sometimes"}, wantErr: `--ssl-mode "sometimes"`},
		{name: "lower-case ssl-mode is fine", opts: Options{SSLMode: "disabled"}},
		{name: "disabled with CA", opts: Options{SSLMode: "DISABLED", SSLCA: "/ca"}, wantErr: "no effect with --ssl-mode=DISABLED"},
		{name: "socket path as host", opts: Options{Host: "/run/mysqld/mysqld.sock"}, wantErr: "use --socket"},
		{name: "port in host", opts: Options{Host: "db:3306"}, wantErr: "use --port"},
		{name: "bracketed IPv6 with port", opts: Options{Host: "[::1]:3306"}, wantErr: "use --port"},
		{name: "bracketed IPv6", opts: Options{Host: "[::1]"}},
		{name: "port with localhost", opts: Options{Host: "localhost", Port: 3307}, wantErr: "use --host 127.0.0.1"},
		{name: "socket with TCP host", opts: Options{Host: "db", Socket: "/s"}, wantErr: "--socket has no effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tt.wantErr)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %q does not wrap ErrUsage", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantErr) || strings.Contains(msg, secret) {
				t.Errorf("error %q: want it to contain %q and no password", msg, tt.wantErr)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(dir string) Options
		contains string
	}{
		{
			name: "port with a socket host from the defaults file",
			opts: func(dir string) Options {
				return Options{Port: 3307, DefaultsFile: writeFile(t, dir, "my.cnf", "[client]\nuser=u\n")}
			},
			contains: "use --host 127.0.0.1",
		},
		{
			name: "socket with a TCP host from the defaults file",
			opts: func(dir string) Options {
				return Options{Socket: "/s", DefaultsFile: writeFile(t, dir, "my.cnf", "[client]\nhost=db\n")}
			},
			contains: "--socket has no effect",
		},
		{
			name:     "password file is a folder",
			opts:     func(dir string) Options { return Options{NoDefaults: true, User: "u", PasswordFile: dir} },
			contains: "read password file {{dir}}: ",
		},
		{
			name:     "missing password file",
			opts:     func(dir string) Options { return Options{NoDefaults: true, User: "u", PasswordFile: dir + "/pw"} },
			contains: "read password file {{dir}}/pw: no such file or directory (check the path and its permissions)",
		},
		{
			name:     "missing defaults file",
			opts:     func(dir string) Options { return Options{User: "u", DefaultsFile: dir + "/my.cnf"} },
			contains: "read defaults file {{dir}}/my.cnf: no such file or directory",
		},
		{
			name:     "cert without key",
			opts:     func(dir string) Options { return Options{NoDefaults: true, User: "u", SSLCert: "/c.pem"} },
			contains: "--ssl-cert and --ssl-key must be given together",
		},
		{
			name: "missing CA file",
			opts: func(dir string) Options {
				return Options{NoDefaults: true, User: "u", Host: "db", SSLCA: dir + "/ca.pem"}
			},
			contains: "read --ssl-ca file {{dir}}/ca.pem: no such file or directory",
		},
		{
			name: "CA file without certificates",
			opts: func(dir string) Options {
				return Options{NoDefaults: true, User: "u", Host: "db", SSLCA: writeFile(t, dir, "ca.pem", secret)}
			},
			contains: "no PEM certificate found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			dir := t.TempDir()
			_, err := tt.opts(dir).Config()
			if err == nil {
				t.Fatal("Config: no error")
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %q does not wrap ErrUsage", err)
			}
			want := strings.ReplaceAll(tt.contains, "{{dir}}", dir)
			if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q and no file contents", msg, want)
			}
		})
	}
}

func TestDSN(t *testing.T) {
	bad := []struct {
		name string
		dsn  string
	}{
		{name: "no @ before the path (driver would quote the password)", dsn: "root:" + secret + "/shop"},
		{name: "escape in the password part", dsn: "root:" + secret + "%zz/x@tcp(h)"},
		{name: "unterminated address", dsn: "root:" + secret + "@tcp(127.0.0.1:3306/shop"},
		{name: "no slash", dsn: "root:" + secret + "@tcp(127.0.0.1:3306)"},
		{name: "bad duration", dsn: "root:" + secret + "@tcp(h)/db?readTimeout=" + secret},
		{name: "unknown tls config", dsn: "root:" + secret + "@tcp(h)/db?tls=" + secret},
		{name: "bad database escape", dsn: "root:" + secret + "@tcp(h)/db%zz" + secret},
		{name: "removed strict mode panics in the driver", dsn: "root:" + secret + "@tcp(h)/db?strict=true"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o := Options{DSN: tt.dsn}
			_, cfgErr := o.Config()
			for _, err := range []error{o.Validate(), cfgErr} {
				if err == nil {
					t.Fatal("no error for a bad DSN")
				}
				if !errors.Is(err, ErrUsage) {
					t.Errorf("error %q does not wrap ErrUsage", err)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "parse --dsn: ") || strings.Contains(msg, secret) {
					t.Errorf("error %q: want a parse --dsn error without the password", msg)
				}
			}
			if d := o.Describe(); strings.Contains(d, secret) {
				t.Errorf("Describe() = %q contains the password", d)
			}
		})
	}

	t.Run("good DSN", func(t *testing.T) {
		isolate(t)
		t.Setenv("MYSQL_PWD", "env")
		o := Options{DSN: "root:" + secret + "@tcp(db.example:3307)/shop?tls=skip-verify", Database: "other", PasswordFile: "/nonexistent"}
		cfg, err := o.Config()
		if err != nil {
			t.Fatalf("Config: %v", err)
		}
		if cfg.User != "root" || cfg.Passwd != secret || cfg.Addr != "db.example:3307" || cfg.DBName != "other" {
			t.Errorf("got user %q addr %q db %q; password kept: %v", cfg.User, cfg.Addr, cfg.DBName, cfg.Passwd == secret)
		}
		if cfg.TLS == nil || !cfg.TLS.InsecureSkipVerify {
			t.Errorf("the DSN's tls=skip-verify was not kept: %+v", cfg.TLS)
		}
		if d := o.Describe(); d != "root@db.example:3307" {
			t.Errorf("Describe() = %q", d)
		}
	})

	t.Run("DSN without password takes the password file", func(t *testing.T) {
		isolate(t)
		t.Setenv("MYSQL_PWD", "env")
		pw := writeFile(t, t.TempDir(), "pw", secret+"\n")
		cfg, err := Options{DSN: "root@unix(/tmp/my.sock)/", PasswordFile: pw, SSLMode: "required"}.Config()
		if err != nil {
			t.Fatalf("Config: %v", err)
		}
		if cfg.Passwd != secret || cfg.TLS == nil || !cfg.TLS.InsecureSkipVerify {
			t.Errorf("password from file: %v, TLS %+v", cfg.Passwd == secret, cfg.TLS)
		}
	})

	t.Run("DSN without password takes MYSQL_PWD", func(t *testing.T) {
		isolate(t)
		t.Setenv("MYSQL_PWD", "env")
		cfg, err := Options{DSN: "root@tcp(db)/"}.Config()
		if err != nil {
			t.Fatalf("Config: %v", err)
		}
		if cfg.Passwd != "env" {
			t.Errorf("password = %q, want MYSQL_PWD", cfg.Passwd)
		}
	})
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		defaults string
		want     string
	}{
		{name: "socket", opts: Options{User: "root", Password: secret}, want: "root@unix(/run/mysqld/mysqld.sock)"},
		{name: "tcp", opts: Options{User: "bob", Host: "127.0.0.1", Password: secret}, want: "bob@127.0.0.1:3306"},
		{name: "ipv6", opts: Options{User: "bob", Host: "::1", Port: 3307}, want: "bob@[::1]:3307"},
		{name: "DSN", opts: Options{DSN: "bob:" + secret + "@unix(/tmp/s.sock)/x"}, want: "bob@unix(/tmp/s.sock)"},
		{
			name:     "defaults file",
			opts:     Options{Password: secret},
			defaults: "[client]\nuser=cnf\npassword=" + secret + "\nhost=db\nport=3310\n",
			want:     "cnf@db:3310",
		},
		{
			name:     "broken defaults file falls back to the options",
			opts:     Options{User: "bob"},
			defaults: "[client]\npassword=" + secret + "\nport=x\n",
			want:     "bob@unix(/run/mysqld/mysqld.sock)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o := tt.opts
			if tt.defaults != "" {
				o.DefaultsFile = writeFile(t, t.TempDir(), "my.cnf", tt.defaults)
			}
			got := o.Describe()
			if got != tt.want {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("Describe() = %q contains the password", got)
			}
		})
	}
}

// testPKI is a CA and a server certificate for db.example signed by it, as
// PEM files in a temp folder.
type testPKI struct {
	caFile, certFile, keyFile string
	leaf                      *x509.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "db.example"}, DNSNames: []string{"db.example"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caFile:   writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))),
		certFile: writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}))),
		keyFile:  writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))),
		leaf:     leaf,
	}
}

func TestTLSModes(t *testing.T) {
	pki := newTestPKI(t)
	type want struct {
		tlsConfig  string // cfg.TLSConfig
		tls        bool   // cfg.TLS set
		skipVerify bool
		chainCheck bool // VerifyConnection set
		roots      bool // RootCAs set
		serverName string
		fallback   bool
		clientCert bool
	}
	tests := []struct {
		name string
		opts Options
		want want
	}{
		{name: "default is preferred", opts: Options{Host: "db"}, want: want{tlsConfig: "preferred", fallback: true}},
		{name: "preferred over the socket is off", opts: Options{}, want: want{tlsConfig: "false"}},
		{name: "disabled", opts: Options{Host: "db", SSLMode: "disabled"}, want: want{tlsConfig: "false"}},
		{name: "preferred with CA verifies the chain", opts: Options{Host: "db", SSLCA: pki.caFile}, want: want{tls: true, skipVerify: true, chainCheck: true}},
		{
			name: "preferred with client cert",
			opts: Options{Host: "db", SSLCert: pki.certFile, SSLKey: pki.keyFile},
			want: want{tls: true, skipVerify: true, fallback: true, clientCert: true},
		},
		{name: "required", opts: Options{Host: "db", SSLMode: "REQUIRED"}, want: want{tls: true, skipVerify: true}},
		{name: "required over the socket", opts: Options{SSLMode: "REQUIRED"}, want: want{tls: true, skipVerify: true}},
		{name: "required ignores the CA", opts: Options{Host: "db", SSLMode: "REQUIRED", SSLCA: pki.caFile}, want: want{tls: true, skipVerify: true}},
		{name: "verify_ca with system roots", opts: Options{Host: "db", SSLMode: "verify_ca"}, want: want{tls: true, skipVerify: true, chainCheck: true}},
		{name: "verify_ca with CA", opts: Options{Host: "db", SSLMode: "VERIFY_CA", SSLCA: pki.caFile}, want: want{tls: true, skipVerify: true, chainCheck: true}},
		{name: "verify_identity", opts: Options{Host: "db.example", SSLMode: "VERIFY_IDENTITY", SSLCA: pki.caFile}, want: want{tls: true, roots: true, serverName: "db.example"}},
		{
			name: "verify_identity with client cert, system roots",
			opts: Options{Host: "db.example", SSLMode: "VERIFY_IDENTITY", SSLCert: pki.certFile, SSLKey: pki.keyFile},
			want: want{tls: true, serverName: "db.example", clientCert: true},
		},
		{name: "DSN keeps its tls without SSL options", opts: Options{DSN: "u@tcp(db:3306)/?tls=false"}, want: want{tlsConfig: "false"}},
		{name: "DSN with ssl-mode", opts: Options{DSN: "u@tcp(db.example:3306)/?tls=false", SSLMode: "verify_identity"}, want: want{tls: true, serverName: "db.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			o := tt.opts
			if o.DSN == "" {
				o.NoDefaults, o.User = true, "bob"
			}
			cfg, err := o.Config()
			if err != nil {
				t.Fatalf("Config: %v", err)
			}
			got := want{tlsConfig: cfg.TLSConfig, tls: cfg.TLS != nil, fallback: cfg.AllowFallbackToPlaintext}
			if c := cfg.TLS; c != nil {
				got.skipVerify = c.InsecureSkipVerify
				got.chainCheck = c.VerifyConnection != nil
				got.roots = c.RootCAs != nil
				got.serverName = c.ServerName
				got.clientCert = len(c.Certificates) == 1
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t)
	tests := []struct {
		name    string
		caFile  string // "" means the system roots
		wantErr bool
	}{
		{name: "signed by the CA, host name not checked", caFile: pki.caFile},
		{name: "other CA", caFile: other.caFile, wantErr: true},
		{name: "system roots", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var roots *x509.CertPool
			if tt.caFile != "" {
				var err error
				if roots, err = loadCA(tt.caFile); err != nil {
					t.Fatal(err)
				}
			}
			err := verifyChain(roots)(tls.ConnectionState{ServerName: "elsewhere", PeerCertificates: []*x509.Certificate{pki.leaf}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("verify: %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !isTLSError(err) {
				t.Errorf("%v is not classified as a TLS error", err)
			}
		})
	}
	if err := verifyChain(nil)(tls.ConnectionState{}); err == nil {
		t.Error("no error without a server certificate")
	}
}
