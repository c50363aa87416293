package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"
	"time"
)

// verify checks cert against pool for name and usage, as a TLS peer would.
func verify(cert *Cert, pool *x509.CertPool, name string, usage x509.ExtKeyUsage) error {
	_, err := cert.TLS.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestIssuedLeafVerifiesForLoopbackAndNames(t *testing.T) {
	ca := NewCA(t, "Vigil Test CA")
	cert := ca.Issue(t, DNSNames("vigil.test", "api.vigil.test"))
	for _, name := range []string{"127.0.0.1", "::1", "vigil.test", "api.vigil.test"} {
		if err := verify(cert, ca.Pool(), name, x509.ExtKeyUsageServerAuth); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if err := verify(cert, ca.Pool(), "other.test", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("verified for a name not in the certificate")
	}
	if err := verify(cert, NewCA(t, "Other CA").Pool(), "vigil.test", x509.ExtKeyUsageServerAuth); err == nil {
		t.Error("verified against another CA")
	}
	if got := cert.TLS.Leaf.Subject.CommonName; got != "vigil.test" {
		t.Errorf("common name %q, want the first DNS name", got)
	}
	if err := verify(cert, ca.Pool(), "vigil.test", x509.ExtKeyUsageClientAuth); err == nil {
		t.Error("a server certificate verified for client auth")
	}
	client := ca.Issue(t, CommonName("vigil-agent"), ClientAuth())
	if err := verify(client, ca.Pool(), "", x509.ExtKeyUsageClientAuth); err != nil || client.TLS.Leaf.Subject.CommonName != "vigil-agent" {
		t.Errorf("client certificate %q: %v", client.TLS.Leaf.Subject.CommonName, err)
	}
}

func TestFilesHoldTheCertificates(t *testing.T) {
	ca := NewCA(t, "a/b CA") // a slash in a name does not make a directory
	cert := ca.Issue(t)
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile) // checks the key matches
	if err != nil {
		t.Fatal(err)
	}
	if !pair.Leaf.Equal(cert.TLS.Leaf) {
		t.Error("CertFile holds another certificate")
	}
	data, err := os.ReadFile(ca.PEMFile)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := x509.NewCertPool()
	if !fromFile.AppendCertsFromPEM(data) || !fromFile.Equal(ca.Pool()) {
		t.Error("PEMFile does not hold the CA certificate")
	}
}

func TestValidity(t *testing.T) {
	ca := NewCA(t, "Vigil Test CA")
	now := time.Now()
	var invalid x509.CertificateInvalidError
	for name, opt := range map[string]Option{"expired": Expired(), "not yet valid": NotYetValid()} {
		cert := ca.Issue(t, opt)
		if err := verify(cert, ca.Pool(), "127.0.0.1", x509.ExtKeyUsageServerAuth); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
			t.Errorf("%s: verify = %v, want an expired error", name, err)
		}
	}
	soon := ca.Issue(t, ExpiresIn(10*24*time.Hour)).TLS.Leaf
	if d := soon.NotAfter.Sub(now); d < 10*24*time.Hour-time.Minute || d > 10*24*time.Hour+time.Minute {
		t.Errorf("ExpiresIn(10 days): expires in %v", d)
	}
	if !soon.NotBefore.Before(now) {
		t.Errorf("ExpiresIn: not valid yet (from %v)", soon.NotBefore)
	}
	fixed := ca.Issue(t, ValidBetween(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))).TLS.Leaf
	if !fixed.NotAfter.Equal(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ValidBetween: NotAfter %v", fixed.NotAfter)
	}
	if def := ca.Issue(t).TLS.Leaf; def.NotAfter.Sub(now) < 29*24*time.Hour {
		t.Errorf("default leaf expires %v, want in 30 days", def.NotAfter)
	}
}
