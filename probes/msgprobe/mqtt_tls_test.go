package msgprobe

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// TestMQTTTLSAndAuth runs a private Mosquitto with TLS and a password file:
// mqtts:// with the right CA and credentials passes for both versions; a wrong
// password, an unknown CA and a plain-TCP client fail with clear errors.
func TestMQTTTLSAndAuth(t *testing.T) {
	passwd := testenv.NeedTool(t, "mosquitto_passwd", "mosquitto")
	ca := testpki.NewCA(t, "vigil test broker CA")
	broker := ca.Issue(t)
	pwFile := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, "prober", "R1ghtPassw0rd").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	m := startMosquitto(t,
		"allow_anonymous false", "password_file "+pwFile,
		"cafile "+ca.PEMFile, "certfile "+broker.CertFile, "keyfile "+broker.KeyFile)
	otherCA := testpki.NewCA(t, "vigil other CA").PEMFile

	tests := []struct {
		name     string
		scheme   string
		caFile   string
		password string
		want     string // "" for a pass
	}{
		{name: "tls and password", scheme: "mqtts", caFile: ca.PEMFile, password: "R1ghtPassw0rd"},
		{name: "ssl scheme", scheme: "ssl", caFile: ca.PEMFile, password: "R1ghtPassw0rd"},
		{name: "wrong password", scheme: "mqtts", caFile: ca.PEMFile, password: "Wr0ngPassw0rd", want: "not authorized"},
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
