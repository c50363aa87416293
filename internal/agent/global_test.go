package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestAgentPublishesRecord: with a global block the agent publishes its
// record to the stream (a heartbeat, the feature's presence and its first
// transition, on the subjects of issue 17), exports the publisher's
// metrics, and a reload that changes the block is applied without it and
// says a restart is needed.
func TestAgentPublishesRecord(t *testing.T) {
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	tg := startTargets(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, tg.config("global: {url: \""+s.ClientURL()+"\", stream: AGENTTEST}\n"))
	var logs lockedBuffer
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	seen := map[string]bool{}
	eventually(t, 10*time.Second, "heartbeat, presence and the first transition in the stream", func() bool {
		str, err := js.Stream(context.Background(), "AGENTTEST")
		if err != nil {
			return false
		}
		info, err := str.Info(context.Background())
		if err != nil {
			return false
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := str.GetMsg(context.Background(), seq)
			if err != nil {
				return false
			}
			var r struct{ To string }
			_ = json.Unmarshal(m.Data, &r)
			seen[m.Subject+" "+r.To] = true
		}
		return seen["vigil.kr-central-1.kr-central-1-0._agent.heartbeat "] &&
			seen["vigil.kr-central-1.kr-central-1-0.talk.message-send-receive.presence "] &&
			seen["vigil.kr-central-1.kr-central-1-0.talk.message-send-receive.transition up"]
	})
	families, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var published float64
	for _, f := range families {
		if f.GetName() == "vigil_global_published_total" {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" && l.GetValue() == "ok" {
						published = m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	if published < 3 {
		t.Errorf("vigil_global_published_total{result=\"ok\"} = %g, want at least 3", published)
	}

	writeFile(t, cfgFile, tg.config("global: {url: \""+s.ClientURL()+"\", stream: OTHER}\n"))
	if err := a.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !strings.Contains(logs.String(), "restart the agent to apply it") {
		t.Errorf("a changed global block is not said to need a restart:\n%s", logs.String())
	}
}
