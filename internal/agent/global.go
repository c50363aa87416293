package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/global"
)

// globalPublisher is the running publisher of the agent's record (the
// config's global block), stopped by Shutdown.
type globalPublisher struct {
	cfg    *config.Global // as started: a reload does not change it
	cancel context.CancelFunc
	done   chan struct{}
}

// startGlobal starts publishing the engine's outbox as cfg's global block
// says, and registers the publisher's metrics. No block: nothing.
func (a *Agent) startGlobal(cfg *config.Config, reg prometheus.Registerer) error {
	g := cfg.Global
	if g == nil {
		return nil
	}
	gc, err := publisherConfig(g)
	if err != nil {
		return fmt.Errorf("%s: global: %w", cfg.File, err)
	}
	gc.Name = "vigil " + g.AgentID
	gc.Logger = a.logger
	p := global.NewPublisher(gc, a.engine)
	if err := reg.Register(p); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.global = &globalPublisher{cfg: g, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.global.done)
		p.Run(ctx)
	}()
	a.logger.Info("publishing the record to NATS JetStream", "agent_id", g.AgentID, "stream", g.Stream,
		"subject_prefix", g.SubjectPrefix)
	return nil
}

// publisherConfig is the publisher's view of the block: secrets read, TLS
// built.
func publisherConfig(g *config.Global) (global.Config, error) {
	password, token, err := g.Secrets()
	if err != nil {
		return global.Config{}, err
	}
	var tlsConfig *tls.Config
	if g.TLSConfig != nil {
		if tlsConfig, err = g.TLSConfig.Build(); err != nil {
			return global.Config{}, fmt.Errorf("tls_config: %w", err)
		}
	}
	return global.Config{URL: g.URL, Stream: g.Stream, SubjectPrefix: g.SubjectPrefix, Replicas: g.Replicas,
		CredentialsFile: g.CredentialsFile, Username: g.Username, Password: password.Reveal(), Token: token.Reveal(),
		TLS: tlsConfig}, nil
}

// noteGlobalReload says in the log that a changed global block (or
// agent.replica, part of the agent id) waits for a restart: the publisher
// and the engine's outbox keep the settings they started with.
func (a *Agent) noteGlobalReload(old, cfg *config.Config) {
	if reflect.DeepEqual(old.Global, cfg.Global) && old.Agent.Replica == cfg.Agent.Replica {
		return
	}
	a.logger.Warn("config reload: the global block or agent.replica changed; restart the agent to apply it "+
		"(publishing goes on as started)", "file", cfg.File)
}

// stopGlobal stops the publisher; what it did not publish stays in the
// outbox for the next start.
func (a *Agent) stopGlobal() {
	if a.global != nil {
		a.global.cancel()
		<-a.global.done
	}
}
