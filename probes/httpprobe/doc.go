// Package httpprobe is the http probe: one HTTP(S) request per run over a fresh
// connection, timed by phase (resolve, connect, tls, processing, transfer) and
// validated against the check's expectations (status, version, TLS, headers,
// body). Keys follow blackbox_exporter's http prober where the meaning is the same.
//
// Files: config.go (the `http:` block and its validation), httpprobe.go (a run:
// request, redirects, validation), trace.go (phase timing), dial.go (address
// family choice), direct.go (plain HTTP on the probe's own goroutine),
// conn_linux.go and rxstamp_linux.go (its connection on Linux: connect checked
// at once, the kernel's receive times), body.go (bounded body reads and
// decompression), tlserror.go (short TLS failure texts), client.go (the keys
// of prometheus/common's HTTP client config: authorization, oauth2, proxies,
// enable_http2; cookies across redirects).
package httpprobe
