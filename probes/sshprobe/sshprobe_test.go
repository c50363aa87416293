package sshprobe

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// testKey makes an ed25519 key as a signer.
func testKey(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv
}

// keyFile writes priv in OpenSSH PEM form to a file.
func keyFile(t *testing.T, priv ed25519.PrivateKey) string {
	t.Helper()
	return encryptedKeyFile(t, priv, "")
}

// encryptedKeyFile writes priv in OpenSSH PEM form, encrypted with
// passphrase unless it is empty, to a file.
func encryptedKeyFile(t *testing.T, priv ed25519.PrivateKey, passphrase string) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveSSH runs an x/crypto/ssh server on 127.0.0.1 that lets "vigil" in
// with password "s3cret" or the client key, and opens no channels.
func serveSSH(t *testing.T, hostKey ssh.Signer, clientKey ssh.PublicKey) string {
	t.Helper()
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-VigilTest_1.0",
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == "vigil" && string(pw) == "s3cret" {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == "vigil" && string(key.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(hostKey)
	return serveRaw(t, func(conn net.Conn) {
		_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			_ = ch.Reject(ssh.Prohibited, "no channels")
		}
	})
}

// serveRaw runs handle for each connection to a 127.0.0.1 listener.
func serveRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				handle(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

// writes serves a fixed text and closes.
func writes(text string) func(net.Conn) {
	return func(conn net.Conn) { _, _ = conn.Write([]byte(text)) }
}

func TestProbe(t *testing.T) {
	hostKey, _ := testKey(t)
	otherKey, _ := testKey(t)
	clientKey, clientPriv := testKey(t)
	addr := serveSSH(t, hostKey, clientKey.PublicKey())
	preBanner := serveRaw(t, writes("hello there\r\nSSH-2.0-Raw_1\r\n"))
	longLine := serveRaw(t, writes(strings.Repeat("x", 300)+"\r\n"))
	httpServer := serveRaw(t, writes(strings.Repeat("HTTP/1.1 400 Bad Request\r\n", 40)))
	refused := serveRaw(t, func(net.Conn) {})
	hostLine := string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))
	fingerprint := ssh.FingerprintSHA256(hostKey.PublicKey())
	const banner = "SSH-2.0-VigilTest_1.0"

	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		phases  []string
		banner  string
		authed  bool
	}{
		{"banner only", Config{Target: addr, FailIfBannerNotMatchesRegexp: re(t, `^SSH-2\.0-VigilTest`)}, "",
			[]string{"connect", "banner"}, banner, false},
		{"banner mismatch", Config{Target: addr, FailIfBannerNotMatchesRegexp: re(t, `OpenSSH`)},
			"ssh probe s/f/c: banner of " + addr + `: "SSH-2.0-VigilTest_1.0" does not match fail_if_banner_not_matches_regexp "OpenSSH"`, nil, banner, false},
		{"pinned key line", Config{Target: addr, HostKey: hostLine}, "", []string{"connect", "banner", "handshake"}, banner, false},
		{"pinned fingerprint", Config{Target: addr, HostKey: fingerprint}, "", []string{"connect", "banner", "handshake"}, banner, false},
		{"wrong host key", Config{Target: addr, HostKey: string(ssh.MarshalAuthorizedKey(otherKey.PublicKey()))},
			"ssh probe s/f/c: handshake " + addr + ": host key ssh-ed25519 " + fingerprint + " is not the pinned host_key", nil, banner, false},
		{"password", Config{Target: addr, HostKey: fingerprint, Username: "vigil", Password: "s3cret"}, "",
			[]string{"connect", "banner", "handshake", "auth"}, banner, true},
		{"wrong password", Config{Target: addr, Username: "vigil", Password: "nope"},
			"ssh probe s/f/c: login " + addr + " as vigil: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none password], no supported methods remain",
			[]string{"connect", "banner", "handshake", "auth"}, banner, false},
		{"private key file", Config{Target: addr, Username: "vigil", PrivateKeyFile: keyFile(t, clientPriv)}, "",
			[]string{"connect", "banner", "handshake", "auth"}, banner, true},
		{"encrypted private key", Config{Target: addr, Username: "vigil", PrivateKeyFile: encryptedKeyFile(t, clientPriv, "open sesame"),
			PrivateKeyPassphrase: "open sesame"}, "", []string{"connect", "banner", "handshake", "auth"}, banner, true},
		{"lines before the banner", Config{Target: preBanner}, "", []string{"connect", "banner"}, "SSH-2.0-Raw_1", false},
		{"line too long", Config{Target: longLine}, "ssh probe s/f/c: banner of " + longLine + ": a line longer than 255 bytes (RFC 4253)", nil, "", false},
		{"not ssh", Config{Target: httpServer}, "ssh probe s/f/c: banner of " + httpServer + ": no SSH identification line in the first 33 lines", nil, "", false},
		{"closed at once", Config{Target: refused}, "ssh probe s/f/c: banner of " + refused + ": read: EOF", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(&tt.cfg, probes.Options{CheckID: "s/f/c"})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Probe(context.Background())
			if got := r.ErrorString(); got != tt.wantErr || r.Success != (tt.wantErr == "") {
				t.Fatalf("Probe: success %v, err %q\nwant err %q", r.Success, got, tt.wantErr)
			}
			if tt.phases != nil {
				var names []string
				for _, ph := range r.Phases {
					names = append(names, ph.Name)
				}
				if !slices.Equal(names, tt.phases) {
					t.Errorf("phases %q, want %q", names, tt.phases)
				}
			}
			if tt.banner != "" && (r.SSH == nil || r.SSH.Banner != tt.banner || r.SSH.Authenticated != tt.authed) {
				t.Errorf("SSH info %+v, want banner %q, authenticated %v", r.SSH, tt.banner, tt.authed)
			}
			if slices.Contains(tt.phases, "handshake") && r.SSH.HostKeyFingerprint != fingerprint {
				t.Errorf("fingerprint %q, want %q", r.SSH.HostKeyFingerprint, fingerprint)
			}
		})
	}
}

// TestProbeTimeout: a server that accepts and says nothing ends the run at
// its deadline, as a timeout of the banner.
func TestProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	addr := serveRaw(t, func(net.Conn) { <-release })
	p, err := New(&Config{Target: addr}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	if want := "ssh probe s/f/c: banner of " + addr + ": read: i/o timeout"; !r.TimedOut || r.ErrorString() != want {
		t.Errorf("timed out %v, err %q, want %q", r.TimedOut, r.ErrorString(), want)
	}
}

func TestValidate(t *testing.T) {
	_, priv := testKey(t)
	good := keyFile(t, priv)
	encrypted := encryptedKeyFile(t, priv, "correct horse")
	phraseFile := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(phraseFile, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notKey := filepath.Join(t.TempDir(), "not-a-key")
	if err := os.WriteFile(notKey, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Target: "bastion.example.com", Username: "u", PrivateKeyFile: good}, ""},
		{"password without user", Config{Target: "127.0.0.1", Password: "x"}, "username: required with password or private_key"},
		{"user without credentials", Config{Target: "127.0.0.1", Username: "u"}, "username: set password, password_file, private_key or private_key_file to log in"},
		{"bad host key", Config{Target: "127.0.0.1", HostKey: "ssh-ed25519 nope"},
			"host_key: neither an authorized_keys line (ssh-ed25519 AAAA...) nor a SHA256:... fingerprint"},
		{"bad private key", Config{Target: "127.0.0.1", Username: "u", PrivateKeyFile: notKey},
			"private_key_file: cannot parse the private key: ssh: no key found"},
		{"both password forms", Config{Target: "127.0.0.1", Username: "u", Password: "x", PasswordFile: good},
			"password: set only one of password and password_file"},
		{"encrypted key without passphrase", Config{Target: "127.0.0.1", Username: "u", PrivateKeyFile: encrypted},
			"private_key_file: the private key is encrypted: set private_key_passphrase or private_key_passphrase_file"},
		{"wrong passphrase", Config{Target: "127.0.0.1", Username: "u", PrivateKeyFile: encrypted, PrivateKeyPassphrase: "guess"},
			"private_key_passphrase: does not decrypt the private key"},
		{"passphrase from a file", Config{Target: "127.0.0.1", Username: "u", PrivateKeyFile: encrypted, PrivateKeyPassphraseFile: phraseFile}, ""},
		{"passphrase without a key", Config{Target: "127.0.0.1", Username: "u", Password: "x", PrivateKeyPassphrase: "p"},
			"private_key_passphrase: set only with private_key or private_key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func re(t *testing.T, s string) probeconfig.Regexp {
	t.Helper()
	var r probeconfig.Regexp
	if err := r.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: s}); err != nil {
		t.Fatal(err)
	}
	return r
}
