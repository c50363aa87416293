package tcpprobe

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func re(t *testing.T, s string) probeconfig.Regexp {
	t.Helper()
	var r probeconfig.Regexp
	if err := r.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: s}); err != nil {
		t.Fatal(err)
	}
	return r
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbe(t *testing.T) {
	ca := testpki.NewCA(t, "vigil test ca")
	cert := ca.Issue(t).TLS
	plain := (&lineServer{cert: &cert}).start(t, "tcp")
	implicit := (&lineServer{cert: &cert, implicitTLS: true}).start(t, "tcp")
	plain6 := (&lineServer{cert: &cert}).start(t, "tcp6")
	refused := closedPort(t)
	trust := probeconfig.TLSConfig{CAFile: ca.PEMFile}
	qr := func(expect, send string, starttls bool) QueryResponse {
		q := QueryResponse{Send: send, StartTLS: starttls}
		if expect != "" {
			q.Expect = re(t, expect)
		}
		return q
	}
	hello := []QueryResponse{qr(`^220 (\w+)`, "HELLO ${1}", false), qr(`^250 hello vigil$`, "QUIT", false)}
	starttls := []QueryResponse{qr(`^220 `, "STARTTLS", false), qr(`^220 go ahead$`, "", true),
		qr("", "HELLO tls", false), qr(`^250 hello tls$`, "", false)}

	tests := []struct {
		name      string
		cfg       Config
		wantErr   string
		exchanges int
		phases    []string
		tls       bool
	}{
		{"connect only", Config{Target: plain}, "", 0, []string{"connect"}, false},
		{"banner and group substitution", Config{Target: plain, QueryResponse: hello}, "", 2,
			[]string{"connect", "exchange_1", "exchange_2"}, false},
		{"ipv6", Config{Target: plain6, QueryResponse: hello}, "", 2, []string{"connect", "exchange_1", "exchange_2"}, false},
		{"starttls", Config{Target: plain, QueryResponse: starttls, TLSConfig: trust}, "", 4,
			[]string{"connect", "exchange_1", "exchange_2", "tls", "exchange_3", "exchange_4"}, true},
		{"implicit tls", Config{Target: implicit, TLS: true, TLSConfig: trust, QueryResponse: hello}, "", 2,
			[]string{"connect", "tls", "exchange_1", "exchange_2"}, true},
		{"starttls untrusted", Config{Target: plain, QueryResponse: starttls},
			"tcp probe s/f/c: " + plain + ": query_response[1]: starttls: tls: certificate signed by unknown authority (issuer vigil test ca)", 1, nil, false},
		{"starttls injection", Config{Target: plain, TLSConfig: trust,
			QueryResponse: []QueryResponse{qr(`^220 `, "INJECT", false), qr(`^220 go ahead$`, "", true)}},
			"tcp probe s/f/c: " + plain + ": query_response[1]: starttls: the server sent 14 bytes before the handshake", 1, nil, false},
		{"closed before match", Config{Target: plain, QueryResponse: []QueryResponse{qr(`^220 `, "QUIT", false), qr(`^250 `, "", false)}},
			"tcp probe s/f/c: " + plain + `: query_response[1]: expect "^250 ": connection closed before a line matched`, 1, nil, false},
		{"flood past max_read_bytes", Config{Target: plain, MaxReadBytes: 1024,
			QueryResponse: []QueryResponse{qr(`^220 `, "FLOOD", false), qr(`^never`, "", false)}},
			"tcp probe s/f/c: " + plain + `: query_response[1]: expect "^never": no line matched within max_read_bytes (1024)`, 1, nil, false},
		{"implicit tls untrusted", Config{Target: implicit, TLS: true},
			"tcp probe s/f/c: handshake " + implicit + ": tls: certificate signed by unknown authority (issuer vigil test ca)", 0, nil, false},
		{"refused", Config{Target: refused}, "tcp probe s/f/c: connect " + refused + ": connection refused", 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(&tt.cfg, probes.Options{CheckID: "s/f/c"})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Probe(context.Background())
			if got := r.ErrorString(); got != tt.wantErr || r.Success != (tt.wantErr == "") {
				t.Fatalf("Probe: success %v, err %q\nwant err %q", r.Success, got, tt.wantErr)
			}
			if r.TCP != nil && r.TCP.Exchanges != tt.exchanges {
				t.Errorf("exchanges %d, want %d", r.TCP.Exchanges, tt.exchanges)
			}
			if tt.phases != nil {
				var names []string
				for _, ph := range r.Phases {
					names = append(names, ph.Name)
				}
				if !slices.Equal(names, tt.phases) {
					t.Errorf("phases %q, want %q", names, tt.phases)
				}
			}
			if (r.TLS != nil) != tt.tls || (r.TLS != nil && (r.TLS.Version != "TLS 1.3" || !r.TLS.CertExpiry.Equal(cert.Leaf.NotAfter))) {
				t.Errorf("TLS info %+v, want one: %v", r.TLS, tt.tls)
			}
		})
	}
}

// TestProbeTimeout: an expect that never comes ends at the deadline, as a
// timeout naming the step.
func TestProbeTimeout(t *testing.T) {
	addr := (&lineServer{}).start(t, "tcp")
	never := re(t, "^never")
	p, err := New(&Config{Target: addr, QueryResponse: []QueryResponse{{Expect: never}}}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	want := "tcp probe s/f/c: " + addr + `: query_response[0]: expect "^never": read: i/o timeout`
	if !r.TimedOut || r.ErrorString() != want {
		t.Errorf("timed out %v, err %q\nwant %q", r.TimedOut, r.ErrorString(), want)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if r := p.Probe(ctx); r.TimedOut || !strings.HasSuffix(r.ErrorString(), "run canceled: context canceled") {
		t.Errorf("canceled: timed out %v, err %v", r.TimedOut, r.Err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Target: "mail.example.com:25"}, ""},
		{"no port", Config{Target: "mail.example.com"}, `target: bad address "mail.example.com": want host:port`},
		{"empty step", Config{Target: "127.0.0.1:25", QueryResponse: []QueryResponse{{}}}, "query_response[0]: empty step: set expect, send or starttls"},
		{"starttls over tls", Config{Target: "127.0.0.1:25", TLS: true, QueryResponse: []QueryResponse{{StartTLS: true}}},
			"query_response[0].starttls: the connection is already TLS"},
		{"tls_config without tls", Config{Target: "127.0.0.1:25", TLSConfig: probeconfig.TLSConfig{ServerName: "x"}},
			"tls_config: is only used with tls: true or a starttls step"},
		{"negative max", Config{Target: "127.0.0.1:25", MaxReadBytes: -1}, "max_read_bytes: -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}
