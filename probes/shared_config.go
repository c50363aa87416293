package probes

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration read from YAML in Prometheus' form: "250ms", "30s",
// "5m", "1h", "30d", "1w".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("duration must be a string like 30s: %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON renders the duration as a string like "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d Duration) String() string { return model.Duration(d).String() }

// ParseDuration parses a Prometheus-style duration ("30s", "1h30m", "30d").
func ParseDuration(s string) (time.Duration, error) {
	v, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a number and unit such as 500ms, 30s, 5m, 1h, 30d", s)
	}
	return time.Duration(v), nil
}

// Secret is a string that is never shown: in logs, JSON, YAML output and errors it
// reads "<secret>". In YAML it may be "${NAME}" to take the value of environment
// variable NAME; an unset variable is an error.
type Secret string

const redacted = "<secret>"

// UnmarshalYAML implements yaml.Unmarshaler, expanding ${NAME}.
func (s *Secret) UnmarshalYAML(node *yaml.Node) error {
	var raw string
	if err := node.Decode(&raw); err != nil {
		return fmt.Errorf("secret must be a string")
	}
	v, err := ExpandEnv(raw)
	if err != nil {
		return err
	}
	*s = Secret(v)
	return nil
}

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ExpandEnv replaces every ${NAME} in s by the environment variable's value; an
// unset variable is an error naming it (never its value).
func ExpandEnv(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// ResolveSecret returns the secret from value, or from the file named by file
// (trailing newline trimmed). Both set is an error; key names the value's key.
func ResolveSecret(key string, value Secret, file string) (Secret, error) {
	if value != "" && file != "" {
		return "", Errorf(key, "set only one of %s and %s_file", key, key)
	}
	if file == "" {
		return value, nil
	}
	b, err := ReadConfigFile(file)
	if err != nil {
		return "", Errorf(key+"_file", "cannot read secret file: %v", err)
	}
	return Secret(strings.TrimRight(string(b), "\r\n")), nil
}

// MaxConfigFileBytes bounds a file that a config names (a secret, a CA bundle,
// a client certificate): a mistyped path such as /dev/zero must fail, not fill
// memory.
const MaxConfigFileBytes = 4 << 20

// ReadConfigFile reads a file named by a config key: a regular file (a symlink
// to one is fine) of at most MaxConfigFileBytes. Devices and pipes are refused
// because reading them may never end. Errors name the path and the reason.
func ReadConfigFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigFileBytes+1))
	if err != nil {
		return nil, pathError(err)
	}
	if len(b) > MaxConfigFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxConfigFileBytes>>20)
	}
	return b, nil
}

// pathError drops the Go wrapping of os errors but keeps the path and reason.
func pathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// Regexp is a regular expression read from YAML; a bad one is a config error.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("regexp must be a string")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return fmt.Errorf("bad regexp %q: %v", s, err)
	}
	r.Regexp = re
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (r Regexp) MarshalYAML() (any, error) {
	if r.Regexp == nil {
		return "", nil
	}
	return r.String(), nil
}

// MarshalJSON renders the pattern.
func (r Regexp) MarshalJSON() ([]byte, error) {
	if r.Regexp == nil {
		return json.Marshal("")
	}
	return json.Marshal(r.String())
}

// caPools shares a CA pool between the checks whose CA files hold the same
// certificates: a pool parses its certificates again on the first handshake
// and keeps them, about 3.5 KB per https check, the same CA 10,000 times over.
// Weak pointers: a pool no check uses any more (a reload changed the file) is
// collected.
var caPools struct {
	sync.Mutex
	m map[[sha256.Size]byte]weak.Pointer[x509.CertPool]
}

// caPool returns the pool of the certificates in pem; false if it holds none.
// The pool is shared and must not be modified.
func caPool(pem []byte) (*x509.CertPool, bool) {
	key := sha256.Sum256(pem)
	caPools.Lock()
	defer caPools.Unlock()
	if p := caPools.m[key].Value(); p != nil {
		return p, true
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return pool, false
	}
	if caPools.m == nil {
		caPools.m = map[[sha256.Size]byte]weak.Pointer[x509.CertPool]{}
	}
	for k, wp := range caPools.m {
		if wp.Value() == nil {
			delete(caPools.m, k)
		}
	}
	caPools.m[key] = weak.Make(pool)
	return pool, true
}

// TLSConfig is the tls_config block shared by every kind (blackbox_exporter's
// names).
type TLSConfig struct {
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	MinVersion         string `yaml:"min_version,omitempty" json:"min_version,omitempty"` // TLS10, TLS11, TLS12, TLS13
	MaxVersion         string `yaml:"max_version,omitempty" json:"max_version,omitempty"`
}

var tlsVersions = map[string]uint16{
	"TLS10": tls.VersionTLS10, "TLS11": tls.VersionTLS11,
	"TLS12": tls.VersionTLS12, "TLS13": tls.VersionTLS13,
}

// Build reads the files and returns a *tls.Config. Errors are FieldErrors with
// paths relative to the block ("ca_file", "min_version").
func (c *TLSConfig) Build() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // user's explicit choice
	var errs []error
	if c.CAFile != "" {
		pem, err := ReadConfigFile(c.CAFile)
		if err != nil {
			errs = append(errs, Errorf("ca_file", "cannot read: %v", err))
		} else {
			pool, ok := caPool(pem)
			if !ok {
				errs = append(errs, Errorf("ca_file", "%s holds no PEM certificate", c.CAFile))
			}
			cfg.RootCAs = pool
		}
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := loadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			errs = append(errs, Errorf("cert_file", "cannot load client certificate and key: %v", err))
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	case c.CertFile != "":
		errs = append(errs, Errorf("key_file", "cert_file is set but key_file is not"))
	case c.KeyFile != "":
		errs = append(errs, Errorf("cert_file", "key_file is set but cert_file is not"))
	}
	for key, name := range map[string]string{"min_version": c.MinVersion, "max_version": c.MaxVersion} {
		if name == "" {
			continue
		}
		v, ok := tlsVersions[strings.ToUpper(name)]
		if !ok {
			errs = append(errs, Errorf(key, "unknown TLS version %q: want TLS10, TLS11, TLS12 or TLS13", name))
			continue
		}
		if key == "min_version" {
			cfg.MinVersion = v
		} else {
			cfg.MaxVersion = v
		}
	}
	if err := Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadKeyPair is tls.LoadX509KeyPair through ReadConfigFile's bounds.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := ReadConfigFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := ReadConfigFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
