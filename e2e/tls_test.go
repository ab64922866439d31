package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// certPair writes a PEM certificate and key signed by parent (self-signed
// when parent is nil) and returns the certificate and key.
func certPair(t *testing.T, dir, name string, ca bool, parent *x509.Certificate, parentKey *rsa.PrivateKey) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
	}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return cert, key
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestTLS starts a MariaDB with a test certificate on a loopback port and
// dumps over TLS as a user that must use it: VERIFY_IDENTITY with the right
// CA works; a wrong CA, or no TLS, fails with exit 3 and one line.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := certPair(t, dir, "ca", true, nil, nil)
	certPair(t, dir, "server", false, ca, caKey)
	certPair(t, dir, "other-ca", true, nil, nil)
	port := freePort(t)
	srv := testdb.StartExtra(t, "--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--ssl-ca="+filepath.Join(dir, "ca.pem"), "--ssl-cert="+filepath.Join(dir, "server.pem"),
		"--ssl-key="+filepath.Join(dir, "server-key.pem"))
	srv.Exec(t, "", "CREATE DATABASE tlsdb", "CREATE TABLE tlsdb.t (id INT PRIMARY KEY)", "INSERT INTO tlsdb.t VALUES (1)",
		"CREATE USER 'tls'@'127.0.0.1' IDENTIFIED BY 'tls-pw-9' REQUIRE SSL", "GRANT ALL ON *.* TO 'tls'@'127.0.0.1'")

	tcp := []string{"--no-defaults", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--user", "tls"}
	caFile := filepath.Join(dir, "ca.pem")
	env := []string{"MYSQL_PWD=tls-pw-9"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"verify identity", []string{"--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", filepath.Join(dir, "ca.pem")}, 0, ""},
		{"verify ca", []string{"--ssl-mode", "VERIFY_CA", "--ssl-ca", filepath.Join(dir, "ca.pem")}, 0, ""},
		{"wrong ca", []string{"--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", filepath.Join(dir, "other-ca.pem")}, cli.ExitConnect, "certificate"},
		{"tls disabled", []string{"--ssl-mode", "DISABLED"}, cli.ExitConnect, "access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tls.sql.zst")
			r := run(t, nil, env, append(append([]string{"--quiet", "dump", "-D", "tlsdb", "-o", out}, tcp...), tt.args...)...)
			if r.code != tt.code || !strings.Contains(strings.ToLower(r.stderr), tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if tt.code == 0 {
				mustRun(t, "verify", out)
				return
			}
			if strings.Contains(r.stderr, "tls-pw-9") {
				t.Error("the error shows the password")
			}
			if n := len(strings.Split(strings.TrimSpace(r.stderr), "\n")); n != 1 {
				t.Errorf("stderr has %d lines:\n%s", n, r.stderr)
			}
		})
	}

	// The archiver's mariadb-binlog connects with the same TLS settings
	// (the account refuses any other), from its 0600 option file.
	t.Run("binlog archiver", func(t *testing.T) {
		dir := t.TempDir()
		verify := []string{"--ssl-mode", "VERIFY_IDENTITY", "--ssl-ca", caFile}
		r := run(t, nil, env, append(append([]string{"--quiet", "dump", "-D", "tlsdb", "-o", dir + "/"}, tcp...), verify...)...)
		if r.code != 0 {
			t.Fatalf("dump: exit %d\n%s", r.code, r.stderr)
		}
		a := &archiver{stderr: &syncBuffer{}, done: make(chan struct{})}
		a.cmd = exec.Command(bin, append(append([]string{"binlog", "-o", dir}, tcp...), verify...)...)
		a.cmd.Env = append(os.Environ(), env...)
		a.cmd.Stderr = a.stderr
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { a.cmd.Wait(); a.code = a.cmd.ProcessState.ExitCode(); close(a.done) }()
		t.Cleanup(func() { a.cmd.Process.Kill(); <-a.done })
		srv.Exec(t, "", "INSERT INTO tlsdb.t VALUES (2)", "FLUSH BINARY LOGS")
		waitFor(t, "a segment archived over TLS", func() bool {
			if !a.running() {
				t.Fatalf("the archiver exited %d:\n%s", a.code, a.stderr)
			}
			return strings.Contains(a.stderr.String(), "archived a binary log file")
		}, a.stderr.String)
		a.stop(t)
		if strings.Contains(a.stderr.String(), "tls-pw-9") {
			t.Error("the archiver's log shows the password")
		}
	})
}
