// Package demo runs `vigil demo`: an in-process landscape named after the
// October 2022 Kakao data-center fire (an HTTP API per feature, an
// authoritative DNS zone, embedded NATS and MQTT brokers, a WebSocket echo
// endpoint, all on loopback), two agents watching it from two regions, and a
// scripted game day: a calm start, a fire in data center pangyo, then recovery
// feature by feature in the order of the 17 October bulletin. The agents
// publish their records to an embedded NATS JetStream that survives the fire,
// read by the global view (`vigil global`, in process).
//
// The parts, in the order data flows:
//   - catalog.go: the services and features, which site serves each, and how
//     each is checked;
//   - script.go: the timeline of beats and what it makes each target do;
//   - targets.go, brokers.go: the loopback servers that obey the script;
//   - config.go: the vigil.yml each agent is given;
//   - global.go: the stream of the agents' records and the global view;
//   - demo.go: wiring, the clock that plays the script, and the narration.
package demo
