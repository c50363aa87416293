package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/vigil-monitoring/vigil/internal/globalrole"
	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/web"
)

// The stream the demo's agents publish their records to, and how many
// regions must see a feature down for it to be down globally.
const (
	globalStream     = "VIGIL_DEMO"
	globalMinRegions = 2
)

// Global is the view across regions: an embedded NATS server with
// JetStream, outside both data centers (it survives the fire), that the
// agents publish their records to, and the `vigil global` role reading them,
// with its web server.
type Global struct {
	// NATSURL is the embedded server's nats:// URL; Stream the agents' stream.
	NATSURL string
	Stream  string
	// StorePath holds the stream (JetStream's store directory).
	StorePath string
	Role      *globalrole.Role
	Web       *web.Server
	// URL is the web server's base URL, e.g. http://localhost:9799.
	URL string

	nats    *natsserver.Server
	stopped context.CancelFunc // stops the role
	done    chan struct{}      // closed when the role has stopped
}

// startGlobalNATS starts the stream's server on a free loopback port, its
// store under storage/global.
func startGlobalNATS(storage string) (*Global, error) {
	g := &Global{Stream: globalStream, StorePath: filepath.Join(storage, "global")}
	if err := os.MkdirAll(g.StorePath, 0o750); err != nil {
		return nil, fmt.Errorf("demo global: storage: %w", err)
	}
	s, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "vigil-demo-global", Host: "127.0.0.1", Port: natsserver.RANDOM_PORT,
		JetStream: true, StoreDir: g.StorePath, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("demo global: embedded NATS server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(brokerReady) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("demo global: embedded NATS server: not accepting clients after %s", brokerReady)
	}
	g.nats, g.NATSURL = s, "nats://"+s.Addr().String()
	return g, nil
}

// startRole starts the global role reading the stream, and its web server on
// listen (or any free port of that host, when the next port is taken).
func (g *Global) startRole(listen string, logger *slog.Logger) error {
	src := globalrole.Source{URL: g.NATSURL, Stream: g.Stream, SubjectPrefix: "vigil", Name: "vigil demo global"}
	// The agents create the stream a moment after the role starts: retry soon.
	g.Role = globalrole.New(src, globalrole.Options{View: globalview.New(globalview.Options{MinRegions: globalMinRegions}),
		Logger: logger, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	g.Web = web.NewServer(g.Role.Handler(), web.Options{ListenAddress: listen, Logger: logger})
	err := g.Web.Start()
	if err != nil {
		host, _, _ := net.SplitHostPort(listen)
		g.Web = web.NewServer(g.Role.Handler(), web.Options{ListenAddress: net.JoinHostPort(host, "0"), Logger: logger})
		err = g.Web.Start()
	}
	if err != nil {
		g.Web = nil
		return fmt.Errorf("demo global: %w", err)
	}
	g.URL = "http://" + displayAddr(g.Web.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	g.stopped, g.done = cancel, make(chan struct{})
	go func() {
		defer close(g.done)
		g.Role.Run(ctx)
	}()
	return nil
}

// stopRole stops the web server and the role; the NATS server stays for the
// agents, which are stopped after.
func (g *Global) stopRole(ctx context.Context) error {
	var err error
	if g.Web != nil {
		if err = g.Web.Shutdown(ctx); err != nil {
			err = fmt.Errorf("demo global: stop web server: %w", err)
		}
	}
	if g.stopped != nil {
		g.stopped()
		<-g.done
	}
	return err
}

// stopNATS stops the stream's server (its store stays on disk).
func (g *Global) stopNATS() {
	if g.nats != nil {
		g.nats.Shutdown()
		g.nats.WaitForShutdown()
		g.nats = nil
	}
}
