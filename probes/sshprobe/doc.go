// Package sshprobe is the ssh probe kind: it reads the server's identification
// line (the banner), checks it, and optionally makes the key exchange (pinning
// the host key) and logs in with a password or a private key, through
// golang.org/x/crypto/ssh.
//
// Files: config.go (the `ssh:` block and its validation), sshprobe.go (the
// run), banner.go (the bounded banner reader).
package sshprobe
