// Package tcpprobe is the tcp probe kind: it connects to a host:port, over TLS
// if asked, and walks a dialogue of query_response steps the way
// blackbox_exporter's tcp prober does: wait for a line matching `expect`,
// `send` a line built from its groups (${1}), and upgrade the connection with
// `starttls`. Every read is bounded by max_read_bytes.
//
// Files: config.go (the `tcp:` block and its validation), tcpprobe.go (the
// run), lines.go (the bounded line reader).
package tcpprobe
