// Package probeconfig is the kit every probe kind builds its config block
// from: durations in Prometheus' form, secrets (never shown, ${ENV} expanded,
// or read from a *_file), regular expressions, the tls_config block with its
// shared CA pools, the bounded reader for files a config names, and FieldError,
// the error of one key that internal/config turns into "file:line: key: msg".
// It knows no kind and no check: kinds import it, it imports none of them.
package probeconfig
