package sshprobe

import (
	"bytes"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// defaultPort is SSH's.
const defaultPort = 22

// Config is the `ssh` block of a check. A zero field means its documented
// default.
type Config struct {
	// Target is "host:port" or "host" (port 22).
	Target string `yaml:"target" json:"target"`
	// FailIfBannerNotMatchesRegexp fails the run unless the server's
	// identification line ("SSH-2.0-OpenSSH_9.6") matches.
	FailIfBannerNotMatchesRegexp probeconfig.Regexp `yaml:"fail_if_banner_not_matches_regexp,omitempty" json:"fail_if_banner_not_matches_regexp,omitzero"`
	// HostKey pins the server's host key: an authorized_keys line
	// ("ssh-ed25519 AAAA...") or a SHA256 fingerprint ("SHA256:..."). Setting
	// it makes the key exchange; without it the key is not checked.
	HostKey string `yaml:"host_key,omitempty" json:"host_key,omitempty"`
	// Username logs in with Password and/or PrivateKey; unset, the run stops
	// after the banner (or the key exchange, with HostKey).
	Username     string             `yaml:"username,omitempty" json:"username,omitempty"`
	Password     probeconfig.Secret `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordFile string             `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// PrivateKey is a PEM private key, or PrivateKeyFile its file; an
	// encrypted one needs PrivateKeyPassphrase (or its file).
	PrivateKey               probeconfig.Secret `yaml:"private_key,omitempty" json:"private_key,omitempty"`
	PrivateKeyFile           string             `yaml:"private_key_file,omitempty" json:"private_key_file,omitempty"`
	PrivateKeyPassphrase     probeconfig.Secret `yaml:"private_key_passphrase,omitempty" json:"private_key_passphrase,omitempty"`
	PrivateKeyPassphraseFile string             `yaml:"private_key_passphrase_file,omitempty" json:"private_key_passphrase_file,omitempty"`

	probeconfig.IPConfig `yaml:",inline"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
// It reads the secret files, as building does.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	endpoint    *probeconfig.Endpoint
	bannerMatch *regexp.Regexp
	// pinned is the host key's wire form, or pinnedFingerprint its
	// fingerprint; both empty when the key is not checked.
	pinned            []byte
	pinnedFingerprint string
	username          string
	auth              []ssh.AuthMethod
}

// handshake says whether a run goes past the banner.
func (p *plan) handshake() bool {
	return p.pinned != nil || p.pinnedFingerprint != "" || p.username != ""
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{bannerMatch: c.FailIfBannerNotMatchesRegexp.Regexp, username: c.Username}
	endpoint, err := c.HostPort("target", c.Target, defaultPort)
	p.endpoint = endpoint
	errs := []error{err, c.compileHostKey(p), c.compileAuth(p)}
	if re := p.bannerMatch; re != nil && re.String() == "" {
		errs = append(errs, probeconfig.Errorf("fail_if_banner_not_matches_regexp", "empty regexp: it matches every banner"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// compileHostKey reads host_key.
func (c *Config) compileHostKey(p *plan) error {
	key := strings.TrimSpace(c.HostKey)
	switch {
	case key == "":
		return nil
	case strings.HasPrefix(key, "SHA256:"):
		p.pinnedFingerprint = key
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		// x/crypto's text ("no key found; last parsing error for ignored
		// line...") says less than this.
		return probeconfig.Errorf("host_key", "neither an authorized_keys line (ssh-ed25519 AAAA...) nor a SHA256:... fingerprint")
	}
	p.pinned = pub.Marshal()
	return nil
}

// compileAuth reads username, password and private_key with their files.
func (c *Config) compileAuth(p *plan) error {
	password, perr := probeconfig.ResolveSecret("password", c.Password, c.PasswordFile)
	keyPEM, kerr := probeconfig.ResolveSecret("private_key", c.PrivateKey, c.PrivateKeyFile)
	phrase, pherr := probeconfig.ResolveSecret("private_key_passphrase", c.PrivateKeyPassphrase, c.PrivateKeyPassphraseFile)
	errs := []error{perr, kerr, pherr}
	if keyPEM != "" {
		signer, err := parseKey(keyPEM, phrase, c.PrivateKeyFile != "")
		if err != nil {
			errs = append(errs, err)
		} else {
			p.auth = append(p.auth, ssh.PublicKeys(signer))
		}
	} else if phrase != "" {
		errs = append(errs, probeconfig.Errorf("private_key_passphrase", "set only with private_key or private_key_file"))
	}
	if password != "" {
		p.auth = append(p.auth, ssh.Password(password.Reveal()))
	}
	switch {
	case c.Username == "" && (password != "" || keyPEM != ""):
		errs = append(errs, probeconfig.Errorf("username", "required with password or private_key"))
	case c.Username != "" && password == "" && keyPEM == "" && perr == nil && kerr == nil:
		errs = append(errs, probeconfig.Errorf("username", "set password, password_file, private_key or private_key_file to log in"))
	}
	return errors.Join(errs...)
}

// parseKey parses a PEM private key, encrypted when phrase is set. Errors
// name the key (fromFile: private_key_file) and never hold the key or the
// passphrase.
func parseKey(keyPEM, phrase probeconfig.Secret, fromFile bool) (ssh.Signer, error) {
	key := "private_key"
	if fromFile {
		key = "private_key_file"
	}
	var signer ssh.Signer
	var err error
	if phrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(keyPEM.Reveal()), []byte(phrase.Reveal()))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, probeconfig.Errorf("private_key_passphrase", "does not decrypt the private key")
		}
	} else {
		signer, err = ssh.ParsePrivateKey([]byte(keyPEM.Reveal()))
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, probeconfig.Errorf(key, "the private key is encrypted: set private_key_passphrase or private_key_passphrase_file")
		}
	}
	if err != nil {
		// The parser's text never holds the key itself.
		return nil, probeconfig.Errorf(key, "cannot parse the private key: %v", err)
	}
	return signer, nil
}

// matches says whether key is the pinned host key.
func (p *plan) matches(key ssh.PublicKey) bool {
	if p.pinnedFingerprint != "" {
		return ssh.FingerprintSHA256(key) == p.pinnedFingerprint
	}
	return bytes.Equal(key.Marshal(), p.pinned)
}
