// Package msgprobe is the messaging round-trip probe: it subscribes, publishes N
// messages carrying the agent id, run id, sequence number and send time, waits for
// them to arrive, and counts lost, duplicated, reordered and corrupted ones. The
// round-trip core (msgprobe.go: the Prober and its connection policy;
// roundtrip.go: one run and its counting; payload.go: the message format and
// client ids) is shared; each protocol is one file implementing Transport
// (mqtt.go, nats.go, amqp.go, redis.go, kafka.go, websocket.go, httpmsg.go,
// mail.go) with a compile function, listed in the one table of transports in
// transport.go. A check's block is compiled once, when the Prober is built;
// runs only connect, subscribe, publish and receive.
package msgprobe
