package export

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/probes"
)

// TestKindSpecificSeries: what each kind's values show in the cases the
// golden files do not pin: series that must appear with their values, and
// families or series that must not.
func TestKindSpecificSeries(t *testing.T) {
	tlsInfo := &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	cases := []struct {
		name, kind string
		results    []*probes.Result
		want       []string // exposition lines without the check, feature and service labels
		absent     []string // text that must not be in the exposition
	}{
		{"grpc call without an answer", "grpc",
			[]*probes.Result{
				{Start: start, GRPC: &probes.GRPCInfo{ServingStatus: "SERVING", StatusCode: "OK"}, Success: true},
				{Start: start, GRPC: &probes.GRPCInfo{StatusCode: "Unavailable", Code: 14}, Err: errors.New("connection refused")},
			},
			[]string{
				`vigil_grpc_healthcheck_response{kind="grpc",serving_status="NOT_SERVING"} 0`,
				`vigil_grpc_healthcheck_response{kind="grpc",serving_status="SERVICE_UNKNOWN"} 0`,
				`vigil_grpc_healthcheck_response{kind="grpc",serving_status="SERVING"} 0`,
				`vigil_grpc_healthcheck_response{kind="grpc",serving_status="UNKNOWN"} 0`,
				`vigil_grpc_status_code{kind="grpc"} 14`,
			},
			[]string{"vigil_tls_"}},
		{"grpc before any call", "grpc",
			[]*probes.Result{{Start: start, Err: errors.New("resolve: no such host")}},
			nil,
			[]string{"vigil_grpc_"}},
		{"tcp without tls", "tcp",
			[]*probes.Result{{Start: start, Success: true, TCP: &probes.TCPInfo{Addr: "127.0.0.1:22", Exchanges: 0}}},
			[]string{`vigil_tcp_exchanges{kind="tcp"} 0`},
			[]string{"vigil_tls_"}},
		{"tcp connect refused", "tcp",
			[]*probes.Result{{Start: start, Err: errors.New("connect: connection refused")}},
			nil,
			[]string{"vigil_tcp_exchanges"}},
		{"tls version changes", "tls",
			[]*probes.Result{
				{Start: start, Success: true, TLS: &probes.TLSInfo{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", CertExpiry: tlsInfo.CertExpiry}},
				{Start: start, Success: true, TLS: tlsInfo},
				{Start: start, Err: errors.New("handshake: remote error")}, // no handshake: the last one's stay
			},
			[]string{
				`vigil_tls_version_info{kind="tls",version="TLS 1.3"} 1`,
				`vigil_tls_cipher_info{cipher="TLS_AES_128_GCM_SHA256",kind="tls"} 1`,
				`vigil_tls_cert_expiry_timestamp_seconds{kind="tls"} 1.7987616e+09`,
			},
			[]string{`version="TLS 1.2"`, "ECDHE"}},
		{"http over TLS with handshake info", "http",
			[]*probes.Result{{Start: start, Success: true, HTTP: &probes.HTTPInfo{StatusCode: 200, SSL: true, CertExpiry: tlsInfo.CertExpiry}, TLS: tlsInfo}},
			[]string{
				`vigil_tls_version_info{kind="http",version="TLS 1.3"} 1`,
				`vigil_tls_cipher_info{cipher="TLS_AES_128_GCM_SHA256",kind="http"} 1`,
				`vigil_tls_cert_expiry_timestamp_seconds{kind="http"} 1.7987616e+09`,
			},
			nil},
		{"plain http", "http",
			[]*probes.Result{{Start: start, Success: true, HTTP: &probes.HTTPInfo{StatusCode: 200}}},
			[]string{`vigil_http_status_code{kind="http"} 200`},
			[]string{"vigil_tls_"}},
		{"ssh banner only", "ssh",
			[]*probes.Result{{Start: start, Success: true, Phases: []probes.Phase{{Name: "connect"}, {Name: "banner"}, {Name: "handshake"}},
				SSH: &probes.SSHInfo{Banner: "SSH-2.0-OpenSSH_9.6", HostKeyFingerprint: "SHA256:x"}}},
			nil,
			[]string{"vigil_ssh_authenticated"}},
		{"ssh login", "ssh",
			[]*probes.Result{{Start: start, Success: true, Phases: []probes.Phase{{Name: "connect"}, {Name: "banner"}, {Name: "handshake"}, {Name: "auth"}},
				SSH: &probes.SSHInfo{Banner: "SSH-2.0-OpenSSH_9.6", Authenticated: true}}},
			[]string{`vigil_ssh_authenticated{kind="ssh"} 1`},
			nil},
		{"icmp reply without a TTL", "icmp",
			[]*probes.Result{{Start: start, Success: true, ICMP: &probes.ICMPInfo{Socket: "unprivileged", ReplyTTL: -1}}},
			nil,
			[]string{"vigil_icmp_reply_ttl"}},
		{"icmp over IPv6", "icmp",
			[]*probes.Result{{Start: start, Success: true, ICMP: &probes.ICMPInfo{Socket: "raw", ReplyTTL: 255}}},
			[]string{`vigil_icmp_reply_ttl{kind="icmp"} 255`},
			nil},
		// A check's values are its kind's: info of other kinds in a result
		// (a check replaced by one of another kind) shows nowhere.
		{"another kind's info", "tcp",
			[]*probes.Result{{Start: start, GRPC: &probes.GRPCInfo{ServingStatus: "SERVING"}, ICMP: &probes.ICMPInfo{ReplyTTL: 64},
				SSH: &probes.SSHInfo{Authenticated: true}, HTTP: &probes.HTTPInfo{StatusCode: 200}}},
			nil,
			[]string{"vigil_grpc_", "vigil_icmp_", "vigil_ssh_", "vigil_http_", "vigil_tcp_"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry(), nil)
			cm := m.Check("s", "f", "c", tc.kind)
			cm.SetProfile(ProfileFull) // every kind-specific series
			for _, r := range tc.results {
				cm.Observe(r)
			}
			out := string(exposition(t, prometheus.NewRegistry(), m))
			// Shorten each series to its kind and own labels.
			out = strings.NewReplacer(`check="c",`, "", `feature="f",`, "", `,service="s"`, "").Replace(out)
			lines := strings.Split(out, "\n")
			for _, want := range tc.want {
				if !contains(lines, want) {
					t.Errorf("exposition lacks %s", want)
				}
			}
			for _, bad := range tc.absent {
				if strings.Contains(out, bad) {
					t.Errorf("exposition has %q:\n%s", bad, out)
				}
			}
		})
	}
}

func contains(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

// TestObserveAllocatesNothing: recording a result of any kind allocates
// nothing once the check has seen its values, also when the TLS version and
// cipher change on every run (the golden cases' tls results alternate them).
func TestObserveAllocatesNothing(t *testing.T) {
	for kind, results := range goldenCases {
		t.Run(kind, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry(), nil)
			cm := m.Check("s", "f", "c", kind)
			for _, r := range results {
				cm.Observe(r)
			}
			i := 0
			if n := testing.AllocsPerRun(200, func() {
				cm.Observe(results[i%len(results)])
				i++
			}); n != 0 {
				t.Errorf("Observe allocates %v times a run", n)
			}
		})
	}
}
