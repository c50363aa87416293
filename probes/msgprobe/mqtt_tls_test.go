package msgprobe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// writeSelfSignedCert writes a self-signed certificate for 127.0.0.1 and its
// key to dir, returning their paths; it serves as its own CA.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test broker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestMQTTTLSAndAuth runs a private Mosquitto with TLS and a password file:
// mqtts:// with the right CA and credentials passes for both versions; a wrong
// password, an unknown CA and a plain-TCP client fail with clear errors.
func TestMQTTTLSAndAuth(t *testing.T) {
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		msg := "MOSQUITTO_PASSWD MISSING: cannot run the MQTT TLS and auth test: " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	dir := t.TempDir()
	certFile, keyFile := writeSelfSignedCert(t, dir)
	pwFile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, "prober", "R1ghtPassw0rd").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	m := startMosquitto(t,
		"allow_anonymous false", "password_file "+pwFile,
		"cafile "+certFile, "certfile "+certFile, "keyfile "+keyFile)
	otherCA, _ := writeSelfSignedCert(t, t.TempDir())

	tests := []struct {
		name     string
		scheme   string
		caFile   string
		password string
		want     string // "" for a pass
	}{
		{name: "tls and password", scheme: "mqtts", caFile: certFile, password: "R1ghtPassw0rd"},
		{name: "ssl scheme", scheme: "ssl", caFile: certFile, password: "R1ghtPassw0rd"},
		{name: "wrong password", scheme: "mqtts", caFile: certFile, password: "Wr0ngPassw0rd", want: "not authorized"},
		{name: "unknown CA", scheme: "mqtts", caFile: otherCA, password: "R1ghtPassw0rd", want: "certificate signed by unknown authority"},
	}
	for _, version := range []string{"3.1.1", "5"} {
		for _, tc := range tests {
			t.Run("v"+version+" "+tc.name, func(t *testing.T) {
				cfg := &Config{Protocol: "mqtt", URL: tc.scheme + "://" + m.addr, Topic: "vigil/tls", Messages: 2,
					Username: "prober", Password: probeconfig.Secret(tc.password), TLSConfig: &probeconfig.TLSConfig{CAFile: tc.caFile},
					MQTTOptions: MQTTOptions{MQTTVersion: version}}
				r := runRoundTripWith(t, cfg, testOptions(t), 3*time.Second)
				if tc.want == "" {
					assertRoundTrip(t, r, 2)
					return
				}
				if r.Success {
					t.Fatal("run passed")
				}
				t.Logf("error: %v", r.Err)
				msg := strings.ToLower(r.ErrorString())
				if !strings.Contains(msg, strings.ToLower(tc.want)) || !strings.Contains(msg, "connect "+tc.scheme+"://127.0.0.1:") {
					t.Errorf("error %q does not say connect failed with %q", r.ErrorString(), tc.want)
				}
				if strings.Contains(r.ErrorString(), tc.password) {
					t.Errorf("error %q shows the password", r.ErrorString())
				}
			})
		}
	}
}
