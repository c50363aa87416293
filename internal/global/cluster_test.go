package global

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
	"github.com/vigil-monitoring/vigil/sla/store"
)

// clusterNode is one nats-server of a test cluster, kept on fixed
// loopback ports and a store directory so that it can be killed and
// started again as the same peer.
type clusterNode struct {
	name            string
	port, routePort int
	dir             string
	s               *natsserver.Server // nil while stopped
	routes          []*url.URL
	url             string
}

// natsCluster is a JetStream cluster of nats-servers run in the test.
type natsCluster struct {
	t     *testing.T
	name  string
	nodes []*clusterNode
}

// newCluster starts n clustered nats-servers with JetStream on loopback
// and waits until they are routed to each other and agree on a meta
// leader. They are shut down when the test ends.
func newCluster(t *testing.T, n int) *natsCluster {
	c := &natsCluster{t: t, name: "vigil-test"}
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{name: fmt.Sprintf("n%d", i+1), port: freePort(t), routePort: freePort(t), dir: t.TempDir()})
	}
	for _, nd := range c.nodes {
		nd.url = fmt.Sprintf("nats://127.0.0.1:%d", nd.port)
		for _, peer := range c.nodes {
			if peer != nd {
				nd.routes = append(nd.routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", peer.routePort)})
			}
		}
	}
	t.Cleanup(c.stopAll)
	c.startAll()
	return c
}

// start starts node i on its ports and directory.
func (c *natsCluster) start(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	o := &natsserver.Options{
		ServerName: nd.name, Host: "127.0.0.1", Port: nd.port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: nd.dir,
		Cluster: natsserver.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: nd.routePort},
		Routes:  nd.routes,
	}
	s, err := natsserver.NewServer(o)
	if err != nil {
		c.t.Fatalf("nats-server %s: %v", nd.name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		c.t.Fatalf("nats-server %s on :%d not ready", nd.name, nd.port)
	}
	nd.s = s
}

// startAll starts every stopped node and waits for the cluster to form.
func (c *natsCluster) startAll() {
	c.t.Helper()
	for i, nd := range c.nodes {
		if nd.s == nil {
			c.start(i)
		}
	}
	c.waitFormed()
}

// stop kills node i (an orderly Shutdown: the process goes away, its
// store stays).
func (c *natsCluster) stop(i int) {
	if s := c.nodes[i].s; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.nodes[i].s = nil
	}
}

func (c *natsCluster) stopAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

// running are the nodes that are up.
func (c *natsCluster) running() []*clusterNode {
	var up []*clusterNode
	for _, nd := range c.nodes {
		if nd.s != nil {
			up = append(up, nd)
		}
	}
	return up
}

// waitFormed waits until every running node has a route to every other
// running node, one of them is the JetStream meta leader and all are
// current with the meta group.
func (c *natsCluster) waitFormed() {
	c.t.Helper()
	up := c.running()
	testenv.WaitFor(c.t, 30*time.Second, "the NATS cluster to form with a JetStream meta leader", func() bool {
		leaders := 0
		for _, nd := range up {
			rz, err := nd.s.Routez(&natsserver.RoutezOptions{})
			if err != nil {
				return false
			}
			peers := map[string]bool{}
			for _, r := range rz.Routes {
				peers[r.RemoteName] = true
			}
			if len(peers) != len(up)-1 || !nd.s.JetStreamIsCurrent() {
				return false
			}
			if nd.s.JetStreamIsLeader() {
				leaders++
			}
		}
		return leaders == 1
	})
}

// urls are the client URLs of every node, for a client's server list.
func (c *natsCluster) urls() string {
	var u []string
	for _, nd := range c.nodes {
		u = append(u, nd.url)
	}
	return strings.Join(u, ",")
}

// streamLeader is the index of the node leading stream, -1 if none does.
func (c *natsCluster) streamLeader(stream string) int {
	for i, nd := range c.nodes {
		if nd.s != nil && nd.s.JetStreamIsStreamLeader(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// waitStream waits until the stream has a leader and every running node's
// replica is current: a reader then finds it wherever it connects.
func (c *natsCluster) waitStream(stream string) {
	c.t.Helper()
	testenv.WaitFor(c.t, 30*time.Second, "stream "+stream+" to have a leader and current replicas", func() bool {
		for _, nd := range c.running() {
			if !nd.s.JetStreamIsStreamCurrent(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream) {
				return false
			}
		}
		return c.streamLeader(stream) >= 0
	})
}

// readOrdered reads the whole stream with an ordered consumer, as the
// global view reads it: every message once, in stream order. Right after
// a node (re)joins, the JetStream API may briefly have no responders
// there; a reader tries again, as a consumer would.
func readOrdered(t *testing.T, urls, stream string) []streamRecord {
	t.Helper()
	var out []streamRecord
	var err error
	if !testenv.Poll(30*time.Second, func() bool { out, err = tryReadOrdered(urls, stream); return err == nil }) {
		t.Fatalf("read stream %s: %v", stream, err)
	}
	return out
}

func tryReadOrdered(urls, stream string) ([]streamRecord, error) {
	nc, err := nats.Connect(urls)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	want := s.CachedInfo().State.Msgs
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer: %w", err)
	}
	var out []streamRecord
	for uint64(len(out)) < want && ctx.Err() == nil {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		for m := range batch.Messages() {
			var h sla.RecordHeader
			if err := json.Unmarshal(m.Data(), &h); err != nil {
				return nil, fmt.Errorf("message on %s: %w: %s", m.Subject(), err, m.Data())
			}
			out = append(out, streamRecord{m.Subject(), m.Headers().Get(jetstream.MsgIDHeader), h})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("fetch: %w", err)
		}
	}
	if uint64(len(out)) != want {
		return nil, fmt.Errorf("read %d messages, the stream says it holds %d", len(out), want)
	}
	return out, nil
}

// checkInOrder asserts that the agent's records are in the stream in seq
// order, so that a consumer reading the stream needs no reordering.
func checkInOrder(t *testing.T, recs []streamRecord) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if recs[i].header.Seq <= recs[i-1].header.Seq {
			t.Errorf("stream message %d has seq %d after seq %d: out of order", i+1, recs[i].header.Seq, recs[i-1].header.Seq)
		}
	}
}

// clusterPublisherConfig publishes to every node of c, creating an R3
// stream, and retries quickly so that the test's load is seconds.
func clusterPublisherConfig(c *natsCluster, stream, prefix string) Config {
	return Config{URL: c.urls(), Stream: stream, SubjectPrefix: prefix, Replicas: 3, Name: "vigil-test-agent",
		Page: 64, Poll: 2 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

// produce drives the engine for n ticks of a 1 ms ticker (one state
// change and a heartbeat each: about 3 records), calling at(i) before
// tick i: a steady load while the cluster is disrupted.
func produce(t *testing.T, a *agent, n int, at func(i int)) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range n {
		if at != nil {
			at(i)
		}
		a.flip(t)
		<-tick.C
	}
}

// drained waits until the publisher has nothing pending.
func drained(t *testing.T, p *Publisher, what string) {
	t.Helper()
	testenv.WaitFor(t, 60*time.Second, what, func() bool { return metric(t, p, "vigil_global_outbox_pending", "") == 0 })
}

// clientNode is the index of the node the client named name is
// connected to, -1 if none.
func (c *natsCluster) clientNode(name string) int {
	for i, nd := range c.nodes {
		if nd.s == nil {
			continue
		}
		cz, err := nd.s.Connz(&natsserver.ConnzOptions{})
		if err != nil {
			continue
		}
		for _, conn := range cz.Conns {
			if conn.Name == name {
				return i
			}
		}
	}
	return -1
}

// moveStreamLeader makes node i the stream's leader (a stepdown with
// node i preferred) and waits until it leads.
func (c *natsCluster) moveStreamLeader(stream string, i int) {
	c.t.Helper()
	if c.streamLeader(stream) == i {
		return
	}
	nc, err := nats.Connect(c.urls())
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, c.nodes[i].name)
	resp, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), 10*time.Second)
	if err != nil {
		c.t.Fatalf("stream %s leader stepdown: %v", stream, err)
	}
	if strings.Contains(string(resp.Data), `"error"`) {
		c.t.Fatalf("stream %s leader stepdown to %s: %s", stream, c.nodes[i].name, resp.Data)
	}
	testenv.WaitFor(c.t, 30*time.Second, "the stream leader to move to "+c.nodes[i].name, func() bool {
		return c.streamLeader(stream) == i && c.nodes[i].s.JetStreamIsStreamCurrent(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream)
	})
}

// TestClusterStreamLeaderKilled: against a 3-node cluster with an R3
// stream the publisher creates, the node that leads the stream and holds
// the publisher's connection is killed while the engine records and the
// publisher sends; the load goes on, then the node comes back. Every
// outbox seq is in the stream exactly once and in order, the outbox
// drains, and the error counter shows the disruption.
func TestClusterStreamLeaderKilled(t *testing.T) {
	c := newCluster(t, 3)
	stream, prefix := uniqueNames(t)
	a := newAgent(t, store.NewMemory(), &clock{t: t0})
	defer a.e.Close()
	cfg := clusterPublisherConfig(c, stream, prefix)
	p := NewPublisher(cfg, a.e)
	stop := startPublisher(t, p)
	// The engine's start wrote a heartbeat: once it is published, the
	// stream exists and the publisher is connected to some node. That
	// node is made the stream's leader: losing it loses the connection,
	// the leader and the acknowledgements in flight at once.
	drained(t, p, "the first record")
	victim := c.clientNode(cfg.Name)
	if victim < 0 {
		t.Fatalf("no node has a connection named %q", cfg.Name)
	}
	c.moveStreamLeader(stream, victim)

	const ticks, killAt = 3000, 1000
	var killedAt time.Time
	produce(t, a, ticks, func(i int) {
		if i != killAt {
			return
		}
		if l, cn := c.streamLeader(stream), c.clientNode(cfg.Name); l != victim || cn != victim {
			t.Logf("at the kill the stream leader is node %d and the publisher on node %d, not both on %d", l, cn, victim)
		}
		killedAt = time.Now()
		c.stop(victim)
	})
	c.startAll() // the killed node comes back and catches up
	last := a.last(t)
	drained(t, p, "the outbox to drain after the leader was killed")
	stall := time.Since(killedAt)
	stop()

	c.waitStream(stream)
	recs := readOrdered(t, c.urls(), stream)
	checkExactlyOnce(t, recs, prefix, last)
	checkInOrder(t, recs)
	if left, _ := a.e.OutboxAfter(0, 0); len(left) != 0 {
		t.Errorf("outbox still holds %d entries", len(left))
	}
	failed := metric(t, p, "vigil_global_published_total", "error")
	if failed == 0 {
		t.Errorf("published error = 0 after killing the stream leader %s: the disruption went unseen", c.nodes[victim].name)
	}
	ok := metric(t, p, "vigil_global_published_total", "ok")
	t.Logf("killed %s (stream leader, the publisher's server) at tick %d of %d; drained %s after the kill; "+
		"%d records, %g publish errors, %g acknowledgements: %g duplicates dropped by the stream's window",
		c.nodes[victim].name, killAt, ticks, stall.Round(time.Millisecond), last, failed, ok, ok-float64(last))
	checkReplicas(t, c, stream)
}

// checkReplicas asserts the stream has three replicas: a leader and two
// followers.
func checkReplicas(t *testing.T, c *natsCluster, stream string) {
	t.Helper()
	nc, err := nats.Connect(c.urls())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.State.Msgs > 0 {
		t.Logf("stream %s: %d messages, %d bytes per replica (%d a message)", stream, info.State.Msgs, info.State.Bytes, info.State.Bytes/info.State.Msgs)
	}
	if info.Config.Replicas != 3 {
		t.Errorf("stream %s has %d replicas, want 3 (config replicas: 3)", stream, info.Config.Replicas)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Errorf("stream %s cluster info %+v, want a leader and 2 replicas", stream, info.Cluster)
	}
}

// TestClusterAllStopped: the whole cluster is stopped while the engine
// records (the outbox grows by every record) and started again on its
// stores: the outbox drains in order, nothing lost or repeated.
func TestClusterAllStopped(t *testing.T) {
	c := newCluster(t, 3)
	stream, prefix := uniqueNames(t)
	a := newAgent(t, store.NewMemory(), &clock{t: t0})
	defer a.e.Close()
	p := NewPublisher(clusterPublisherConfig(c, stream, prefix), a.e)
	startPublisher(t, p)

	produce(t, a, 300, nil)
	drained(t, p, "the outbox to drain before NATS stops")
	before := a.last(t)
	c.stopAll()
	produce(t, a, 2000, nil)
	last := a.last(t)
	if got := metric(t, p, "vigil_global_outbox_pending", ""); got != float64(last-before) {
		t.Errorf("pending while NATS is down = %g, want %d (every record since it stopped)", got, last-before)
	}
	okBefore := metric(t, p, "vigil_global_published_total", "ok")
	c.startAll()
	testenv.WaitFor(t, 60*time.Second, "the first acknowledgement after NATS came back", func() bool {
		return metric(t, p, "vigil_global_published_total", "ok") > okBefore
	})
	back := time.Now()
	drained(t, p, "the outbox to drain after NATS came back")
	took := time.Since(back)
	t.Logf("%d records waited in the outbox; drained %s after the first acknowledgement (%.0f records/s)",
		last-before, took.Round(time.Millisecond), float64(last-before)/took.Seconds())

	c.waitStream(stream)
	recs := readOrdered(t, c.urls(), stream)
	checkExactlyOnce(t, recs, prefix, last)
	checkInOrder(t, recs)
	if got := metric(t, p, "vigil_global_published_total", "error"); got == 0 {
		t.Error("published error = 0 after the cluster was stopped: the disruption went unseen")
	}
	checkReplicas(t, c, stream)
}
