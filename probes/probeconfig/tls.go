package probeconfig

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"weak"
)

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
// paths relative to the block ("ca_file", "min_version"). The RootCAs pool is
// shared with every other block whose CA file holds the same certificates and
// must not be modified.
func (c *TLSConfig) Build() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // user's explicit choice
	errs := []error{c.rootCAs(cfg), c.clientCertificate(cfg)}
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// rootCAs sets cfg.RootCAs from ca_file, if set.
func (c *TLSConfig) rootCAs(cfg *tls.Config) error {
	if c.CAFile == "" {
		return nil
	}
	pem, err := ReadConfigFile(c.CAFile)
	if err != nil {
		return Errorf("ca_file", "cannot read: %v", err)
	}
	pool, ok := caPools.pool(pem)
	cfg.RootCAs = pool
	if !ok {
		return Errorf("ca_file", "%s holds no PEM certificate", c.CAFile)
	}
	return nil
}

// clientCertificate sets cfg.Certificates from cert_file and key_file, which
// go together.
func (c *TLSConfig) clientCertificate(cfg *tls.Config) error {
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := loadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return Errorf("cert_file", "cannot load client certificate and key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case c.CertFile != "":
		return Errorf("key_file", "cert_file is set but key_file is not")
	case c.KeyFile != "":
		return Errorf("cert_file", "key_file is set but cert_file is not")
	}
	return nil
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

// caPoolCache shares a CA pool between the blocks whose CA files hold the same
// certificates: a pool parses its certificates again on the first handshake
// and keeps them, about 3.5 KB per https check, the same CA 10,000 times over.
// Weak pointers: a pool no check uses any more (a reload changed the file) is
// collected.
type caPoolCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]weak.Pointer[x509.CertPool]
}

// caPools is process-wide on purpose, the one piece of global state here: a
// pool is keyed by the hash of its certificates' bytes and never modified once
// built, so sharing it cannot change what any check verifies, only the memory
// the agent keeps; and it must span every kind and every reload (a new config
// is built while the old one runs), which no narrower owner does. Tests see
// one cache too, which they may rely on only for pool identity.
var caPools caPoolCache

// pool returns the pool of the certificates in pem; false if it holds none.
// The pool is shared and must not be modified.
func (c *caPoolCache) pool(pem []byte) (*x509.CertPool, bool) {
	key := sha256.Sum256(pem)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.m[key].Value(); p != nil {
		return p, true
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return pool, false
	}
	if c.m == nil {
		c.m = map[[sha256.Size]byte]weak.Pointer[x509.CertPool]{}
	}
	for k, wp := range c.m {
		if wp.Value() == nil {
			delete(c.m, k)
		}
	}
	c.m[key] = weak.Make(pool)
	return pool, true
}
