package msgprobe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// BenchmarkProbeNonPersistent runs whole non-persistent probes (the default:
// a fresh connection per run) of one message, with secrets and a CA read from
// files, so that allocs/op shows what a run costs beyond its I/O: building the
// transport from config (before issue 15: on every run) or not (after).
func BenchmarkProbeNonPersistent(b *testing.B) {
	dir := b.TempDir()
	_, caFile := testCertificate(b)
	tokenFile := filepath.Join(dir, "token")
	passwordFile := filepath.Join(dir, "password")
	if err := os.WriteFile(tokenFile, []byte("chat-token\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(passwordFile, []byte(mailTestPassword+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("http", func(b *testing.B) {
		chat := newChatServer(b)
		chat.token = "chat-token"
		cfg := chat.config("poll")
		cfg.BearerTokenFile = tokenFile
		cfg.TLSConfig = &probeconfig.TLSConfig{CAFile: caFile}
		benchNonPersistent(b, cfg)
	})
	b.Run("mail", func(b *testing.B) {
		cfg := newMailServers(b, mailTLSStartTLS).config()
		cfg.Password, cfg.PasswordFile = "", passwordFile
		benchNonPersistent(b, cfg)
	})
	b.Run("nats", func(b *testing.B) {
		cfg := &Config{Protocol: "nats", URL: requireBroker(b, envNATS, defaultNATS), Subject: uniqueTopic(b)}
		benchNonPersistent(b, cfg)
	})
}

func benchNonPersistent(b *testing.B, cfg *Config) {
	cfg.Messages = 1
	p, err := New(cfg, testOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r := p.Probe(ctx)
		cancel()
		if !r.Success {
			b.Fatal(r.Err)
		}
	}
}

// TestCompiledOnce: a Prober reads the files its block names (secrets, CA)
// when it is built, not on each run: runs go on after the files are gone.
// (A changed file reaches the check on reload, which rebuilds it: its
// fingerprint hashes the files' contents.)
func TestCompiledOnce(t *testing.T) {
	dir := t.TempDir()
	_, caFile := testCertificate(t)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("chat-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chat := newChatServer(t)
	chat.token = "chat-token"
	cfg := chat.config("poll")
	cfg.BearerTokenFile = tokenFile
	cfg.TLSConfig = &probeconfig.TLSConfig{CAFile: caFile}
	p, err := New(cfg, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	built := countingFactory(p)
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := p.Probe(ctx)
		cancel()
		assertRoundTrip(t, r, 3)
	}
	if *built != 2 {
		t.Errorf("%d transports opened for 2 non-persistent runs, want 2", *built)
	}
}
