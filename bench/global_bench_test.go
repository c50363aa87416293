package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
)

// BenchmarkAgentHTTPGlobal is BenchmarkAgentHTTP with the agent publishing
// its record (issue 17: `global:`) to an embedded NATS JetStream server: the
// difference in cpu-ns/run is what publishing costs the agent. Records are
// written on changes and heartbeats only, never per result.
func BenchmarkAgentHTTPGlobal(b *testing.B) {
	addrs := startTargets(b)
	url := startJetStream(b)
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			w := workload.HTTP(n, 10*time.Second, 0, 0, addrs, nil)
			benchAgentConfig(b, w, addrs[0], withGlobal(workload.VigilConfig(w), url, fmt.Sprintf("BENCH%d", n)))
		})
	}
}

// withGlobal adds a global block to a generated config (after its agent
// block, before defaults).
func withGlobal(cfg, url, stream string) string {
	block := fmt.Sprintf("global:\n  url: %s\n  stream: %s\n", url, stream)
	return strings.Replace(cfg, "defaults:\n", block+"defaults:\n", 1)
}

// startJetStream runs a NATS server with JetStream on a loopback port for
// the benchmark's life and returns its URL.
func startJetStream(b *testing.B) string {
	b.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT,
		JetStream: true, StoreDir: b.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("embedded NATS server not ready")
	}
	b.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// writeConfig writes cfg to dir/vigil.yml.
func writeConfig(b *testing.B, dir, cfg string) string {
	b.Helper()
	path := filepath.Join(dir, "vigil.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}
