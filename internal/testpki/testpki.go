// Package testpki makes the certificates tests need: a CA per test, leaves it
// issues for the loopback addresses, and their PEM files under t.TempDir().
// It is imported only by _test.go files.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serial numbers every certificate of the test binary apart.
var serial atomic.Int64

// CA is a certificate authority made for one test.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// PEMFile holds Cert in PEM, for a ca_file setting.
	PEMFile string

	key *ecdsa.PrivateKey
}

// Cert is a leaf certificate a CA issued, in memory and on disk.
type Cert struct {
	// TLS is the certificate and key, with Leaf set.
	TLS tls.Certificate
	// CertFile and KeyFile hold the certificate and the key (PKCS #8) in PEM.
	CertFile, KeyFile string
}

// Option adjusts the template of a leaf before it is signed.
type Option func(*x509.Certificate)

// NewCA makes a CA named name, valid from an hour ago for a year, and writes
// its certificate to PEMFile.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	cert := sign(t, tmpl, tmpl, &key.PublicKey, key)
	return &CA{Cert: cert, key: key, PEMFile: writePEM(t, fileName(name)+".pem", "CERTIFICATE", cert.Raw)}
}

// Pool returns a pool that trusts only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Issue signs a server certificate for 127.0.0.1 and ::1, valid from an hour
// ago for 30 days, after applying opts, and writes it and its key to files.
func (ca *CA) Issue(t testing.TB, opts ...Option) *Cert {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: "vigil test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, opt := range opts {
		opt(tmpl)
	}
	leaf := sign(t, tmpl, ca.Cert, &key.PublicKey, ca.key)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal the key of %q: %v", tmpl.Subject.CommonName, err)
	}
	name := fileName(tmpl.Subject.CommonName)
	return &Cert{
		TLS:      tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf},
		CertFile: writePEM(t, name+".pem", "CERTIFICATE", leaf.Raw),
		KeyFile:  writePEM(t, name+"-key.pem", "PRIVATE KEY", keyDER),
	}
}

// DNSNames adds names to the leaf; the first becomes its common name.
func DNSNames(names ...string) Option {
	return func(c *x509.Certificate) {
		c.DNSNames = append(c.DNSNames, names...)
		if len(names) > 0 {
			c.Subject.CommonName = names[0]
		}
	}
}

// CommonName sets the leaf's subject common name.
func CommonName(name string) Option {
	return func(c *x509.Certificate) { c.Subject.CommonName = name }
}

// ValidBetween sets the leaf's validity period.
func ValidBetween(notBefore, notAfter time.Time) Option {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter }
}

// Expired makes a leaf that expired a day ago.
func Expired() Option {
	return ValidBetween(time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour).Truncate(time.Second))
}

// NotYetValid makes a leaf that becomes valid in a day.
func NotYetValid() Option {
	return ValidBetween(time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour).Truncate(time.Second))
}

// ExpiresIn makes a leaf, valid since an hour ago, that expires d from now.
func ExpiresIn(d time.Duration) Option {
	return ValidBetween(time.Now().Add(-time.Hour), time.Now().Add(d).Truncate(time.Second))
}

// ClientAuth lets the leaf authenticate a client as well as a server.
func ClientAuth() Option {
	return func(c *x509.Certificate) { c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) }
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: generate a key: %v", err)
	}
	return key
}

// sign creates tmpl signed by parent's key and parses it back.
func sign(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("testpki: sign %q by %q: %v", tmpl.Subject.CommonName, parent.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}

// writePEM writes one PEM block to a new file under t.TempDir().
func writePEM(t testing.TB, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return path
}

// fileName makes a certificate name safe as a file name.
func fileName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, name)
	if name == "" || name == "." || name == ".." {
		return "cert"
	}
	return name
}
