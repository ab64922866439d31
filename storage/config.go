package storage

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Defaults for Config's zero values.
const (
	DefaultPartSize = 8 << 20 // bytes buffered per part: the writer's memory
	DefaultMaxParts = 10000   // S3's limit on the parts of one upload
	DefaultTimeout  = 30 * time.Second
	DefaultLockTTL  = 10 * time.Minute
	minPartSize     = 5 << 20 // S3's smallest part but the last
)

// Config says how to reach an S3-compatible service. Zero values mean
// defaults. ConfigFromEnv fills it from the AWS environment variables; the
// command layer may then override fields from a defaults file. It holds
// secrets: never print it (String hides them).
type Config struct {
	AccessKeyID     string // AWS_ACCESS_KEY_ID; empty: read the shared credentials file
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY
	SessionToken    string // AWS_SESSION_TOKEN
	Region          string // AWS_REGION (AWS_DEFAULT_REGION); default us-east-1
	// Endpoint is the service URL for non-AWS services (AWS_ENDPOINT_URL),
	// e.g. "https://s3.eu-central-003.backblazeb2.com". Empty means AWS.
	// A custom endpoint is addressed path-style (https://host/bucket/key).
	Endpoint        string
	Profile         string // AWS_PROFILE; default "default"
	CredentialsFile string // AWS_SHARED_CREDENTIALS_FILE; default ~/.aws/credentials
	CABundle        string // AWS_CA_BUNDLE: PEM file of extra trusted CAs

	// PartSize is the size of each multipart part and of the writer's one
	// buffer (default 8 MiB). An object can be at most MaxParts x PartSize.
	PartSize int64
	// MaxParts is the most parts of one upload (default and S3 limit
	// 10,000); lower only for tests.
	MaxParts int
	// Timeout bounds connecting and waiting for each response's headers
	// (default 30 s), so an endpoint that does not answer is
	// ErrUnreachable after a bounded time.
	Timeout time.Duration
	// Retries is how often a failed request is retried (default 3).
	Retries int
	// LockTTL is how long a bucket lock lasts without being renewed
	// (default 10 min); the holder renews it every LockTTL/3.
	LockTTL time.Duration
	// AllowSmallParts lets tests use parts below S3's 5 MiB minimum
	// (servers that accept them, like versitygw).
	AllowSmallParts bool
}

// ConfigFromEnv reads the AWS conventions from the environment.
func ConfigFromEnv() Config {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	return Config{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Region:          region,
		Endpoint:        os.Getenv("AWS_ENDPOINT_URL"),
		Profile:         os.Getenv("AWS_PROFILE"),
		CredentialsFile: os.Getenv("AWS_SHARED_CREDENTIALS_FILE"),
		CABundle:        os.Getenv("AWS_CA_BUNDLE"),
	}
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	ep := c.Endpoint
	if ep == "" {
		ep = "AWS"
	}
	return fmt.Sprintf("endpoint %s, region %s, part size %d", ep, c.region(), c.partSize())
}

// Validate checks the configuration before any I/O.
func (c Config) Validate() error {
	if c.PartSize != 0 && c.PartSize < minPartSize && !c.AllowSmallParts {
		return fmt.Errorf("storage: part size %d is below S3's minimum of 5 MiB", c.PartSize)
	}
	if c.PartSize < 0 || c.MaxParts < 0 || c.MaxParts > DefaultMaxParts {
		return fmt.Errorf("storage: part size %d or max parts %d out of range", c.PartSize, c.MaxParts)
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return fmt.Errorf("storage: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use %s)", c.credentialsFile())
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("storage: endpoint %q is not an http(s) URL (AWS_ENDPOINT_URL=https://host[:port])", c.Endpoint)
		}
	}
	return nil
}

func (c Config) partSize() int64 {
	if c.PartSize > 0 {
		return c.PartSize
	}
	return DefaultPartSize
}

func (c Config) maxParts() int {
	if c.MaxParts > 0 {
		return c.MaxParts
	}
	return DefaultMaxParts
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) lockTTL() time.Duration {
	if c.LockTTL > 0 {
		return c.LockTTL
	}
	return DefaultLockTTL
}

func (c Config) region() string {
	if c.Region != "" {
		return c.Region
	}
	return "us-east-1"
}

func (c Config) credentialsFile() string {
	if c.CredentialsFile != "" {
		return c.CredentialsFile
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".aws", "credentials")
}

func (c Config) profile() string {
	if c.Profile != "" {
		return c.Profile
	}
	return "default"
}

// creds returns the static keys when given, else the profile of the
// shared credentials file.
func (c Config) creds() *credentials.Credentials {
	if c.AccessKeyID != "" {
		return credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	return credentials.NewFileAWSCredentials(c.credentialsFile(), c.profile())
}

// credentialsHint says where the credentials in use came from.
func (c Config) credentialsHint() string {
	if c.AccessKeyID != "" {
		return "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the key's permissions"
	}
	return fmt.Sprintf("check profile [%s] in %s (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", c.profile(), c.credentialsFile())
}

// secrets returns the strings that must never appear in an error.
func (c Config) secrets() []string {
	var s []string
	for _, v := range []string{c.SecretAccessKey, c.SessionToken} {
		if len(v) >= 4 {
			s = append(s, v)
		}
	}
	return s
}

// transport is an HTTP transport with bounded connect and header waits and
// TLS verified against the system roots plus CABundle.
func (c Config) transport() (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CABundle != "" {
		pem, err := os.ReadFile(c.CABundle)
		if err != nil {
			return nil, fmt.Errorf("storage: read CA bundle (AWS_CA_BUNDLE): %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("storage: CA bundle %s holds no PEM certificate", c.CABundle)
		}
		tlsConf.RootCAs = pool
	}
	d := &net.Dialer{Timeout: c.timeout(), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   c.timeout(),
		ResponseHeaderTimeout: c.timeout(),
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		// Dumps are compressed already.
		DisableCompression: true,
	}, nil
}
