package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// brokerReady bounds how long a (re)started broker may take to accept clients.
const brokerReady = 5 * time.Second

// brokers are a site's message brokers: an embedded NATS server and an
// embedded MQTT broker. They are shut down with the site and started again on
// the same addresses when it comes back, so the agents' round trips fail and
// recover as a messenger's would. Calls are serialised by the owning Target.
type brokers struct {
	NATSAddr string
	MQTTAddr string
	logger   *slog.Logger

	nats *natsserver.Server // nil while stopped
	mqtt *mqtt.Server       // the MQTT broker, created on the first start
	// The MQTT listener: its id in mochi ("" while stopped) and the socket.
	mqttListener  string
	mqttRaw       net.Listener
	mqttListeners int // listeners opened so far, to name the next one
}

// startBrokers starts both brokers on free loopback ports.
func startBrokers(logger *slog.Logger) (*brokers, error) {
	b := &brokers{NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", logger: logger}
	if err := b.start(); err != nil {
		b.close()
		return nil, err
	}
	b.NATSAddr = b.nats.Addr().String()
	return b, nil
}

// start starts whichever broker is stopped, on its address.
func (b *brokers) start() error {
	var errs []error
	if b.nats == nil {
		if err := b.startNATS(); err != nil {
			errs = append(errs, err)
		}
	}
	if b.mqttListener == "" {
		if err := b.startMQTT(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *brokers) startNATS() error {
	host, portText, err := net.SplitHostPort(b.NATSAddr)
	if err != nil {
		return fmt.Errorf("embedded NATS server: address %q: %w", b.NATSAddr, err)
	}
	port, _ := strconv.Atoi(portText)
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	// A restart must get the same port back: a client may hold it for a moment.
	deadline := time.Now().Add(reopenWait)
	for {
		s, err := natsserver.NewServer(&natsserver.Options{
			ServerName: "vigil-demo-pangyo", Host: host, Port: port,
			NoLog: true, NoSigs: true,
		})
		if err != nil {
			return fmt.Errorf("embedded NATS server on %s: %w", b.NATSAddr, err)
		}
		go s.Start()
		if s.ReadyForConnections(brokerReady) {
			b.nats = s
			return nil
		}
		s.Shutdown()
		s.WaitForShutdown()
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded NATS server on %s: not accepting clients after %s (port taken?)", b.NATSAddr, brokerReady)
		}
		time.Sleep(reopenRetry)
	}
}

// startMQTT opens the MQTT listener on its address, creating the broker the
// first time. The broker itself lives as long as the landscape: mochi's Close
// waits for clients with a WaitGroup that a client connecting at that moment
// adds to (a data race), and the fire strikes while the agents connect.
func (b *brokers) startMQTT() error {
	if b.mqtt == nil {
		s := mqtt.New(&mqtt.Options{Logger: b.logger})
		if err := s.AddHook(new(allowAll), nil); err != nil {
			return fmt.Errorf("embedded MQTT broker: %w", err)
		}
		if err := s.Serve(); err != nil {
			_ = s.Close()
			return fmt.Errorf("embedded MQTT broker: %w", err)
		}
		b.mqtt = s
	}
	var l net.Listener
	deadline := time.Now().Add(reopenWait)
	for {
		var err error
		l, err = net.Listen("tcp", b.MQTTAddr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded MQTT broker: listen on %s: %w", b.MQTTAddr, err)
		}
		time.Sleep(reopenRetry)
	}
	b.mqttListeners++
	id := fmt.Sprintf("demo-%d", b.mqttListeners)
	if err := b.mqtt.AddListener(listeners.NewNet(id, l)); err != nil {
		_ = l.Close()
		return fmt.Errorf("embedded MQTT broker on %s: %w", l.Addr(), err)
	}
	b.mqtt.Listeners.Serve(id, b.mqtt.EstablishConnection)
	b.MQTTAddr, b.mqttListener, b.mqttRaw = l.Addr().String(), id, l
	return nil
}

// stopMQTT closes the MQTT listener and drops every client, as a broker going
// dark would.
func (b *brokers) stopMQTT() {
	if b.mqttListener == "" {
		return
	}
	_ = b.mqttRaw.Close() // first, so that no client gets in while the others are dropped
	s := b.mqtt
	s.Listeners.Close(b.mqttListener, func(id string) {
		for _, cl := range s.Clients.GetByListener(id) {
			_ = s.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	})
	s.Listeners.Delete(b.mqttListener)
	b.mqttListener, b.mqttRaw = "", nil
}

// stop shuts both brokers down, dropping every client.
func (b *brokers) stop() {
	if b.nats != nil {
		b.nats.Shutdown()
		b.nats.WaitForShutdown()
		b.nats = nil
	}
	b.stopMQTT()
}

// close stops the brokers for good; nothing may connect any more (the agents
// are stopped).
func (b *brokers) close() {
	b.stop()
	if b.mqtt != nil {
		_ = b.mqtt.Close()
		b.mqtt = nil
	}
}

// allowAll lets every client connect and use every topic: the demo broker
// listens on loopback only. (mochi's own auth hook would pull in a YAML module
// the project does not otherwise need.)
type allowAll struct{ mqtt.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }
