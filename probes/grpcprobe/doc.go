// Package grpcprobe is the grpc probe kind: one call of the standard health
// checking protocol (grpc.health.v1.Health/Check) per run, over a fresh
// connection, plain or TLS, with the configured metadata; the run passes when
// the call succeeds and the service is SERVING.
//
// Files: config.go (the `grpc:` block and its validation), grpcprobe.go (the
// run), conn.go (the connection's dialer and TLS credentials, which time the
// connect and tls phases).
package grpcprobe
