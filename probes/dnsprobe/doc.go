// Package dnsprobe is the dns probe kind: it sends one query per run to one
// server over UDP, TCP or DNS-over-TLS, retries a truncated UDP answer over TCP,
// and checks the answer's rcode and resource records the way blackbox_exporter's
// dns prober does.
//
// Files: config.go (the `dns:` block and its validation), dnsprobe.go (the run),
// validate.go (rcode and RR checks of an answer), udp_linux.go (the UDP socket
// of a query to an address, on Linux).
package dnsprobe
