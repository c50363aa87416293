// Package tlsprobe is the tls probe kind: it connects to a host:port, makes a
// TLS handshake and nothing more, and checks the certificates: the verified
// chain's earliest expiry against min_days_remaining, the leaf's SANs and its
// issuer.
//
// Files: config.go (the `tls:` block and its validation), tlsprobe.go (the run).
package tlsprobe
