package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults of the global block.
const (
	DefaultReplica             = "0"
	DefaultGlobalStream        = "VIGIL"
	DefaultGlobalSubjectPrefix = "vigil"
	DefaultGlobalReplicas      = 1
	// MaxGlobalReplicas is JetStream's limit on a stream's replicas.
	MaxGlobalReplicas = 5
)

var (
	// streamRe: a JetStream stream name that is also safe as a file name.
	streamRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// subjectTokenRe: one token of the subject prefix (no wildcard, no dot).
	subjectTokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// Global is the `global` block: the agent publishes its record (state
// transitions, outages, degraded and presence spans, gaps and heartbeats)
// to a NATS JetStream stream, for the view across regions. Changing it
// takes a restart: a reload that changes it is refused.
type Global struct {
	NATS `yaml:",inline"`
	// Replicas are the stream's, used when the agent creates it.
	Replicas int `yaml:"replicas,omitempty" json:"replicas"`
	// AgentID names this agent in subjects, records and message ids; it
	// must stay the same across restarts and differ between agents.
	// Default: <agent.region>-<agent.replica>.
	AgentID string `yaml:"agent_id,omitempty" json:"agent_id"`
}

// NATS is the connection to the JetStream stream of the records: the
// agent's global block and the nats block of `vigil global` share it.
type NATS struct {
	// URL is the NATS server, or several separated by commas (a cluster):
	// nats://host:4222 or tls://host:4222.
	URL string `yaml:"url" json:"url"`
	// Stream is the JetStream stream; an agent creates it if missing
	// (subjects SubjectPrefix.>, file storage, 2m duplicate window).
	Stream          string                 `yaml:"stream,omitempty" json:"stream"`
	SubjectPrefix   string                 `yaml:"subject_prefix,omitempty" json:"subject_prefix"`
	CredentialsFile string                 `yaml:"credentials_file,omitempty" json:"credentials_file,omitempty"`
	Username        string                 `yaml:"username,omitempty" json:"username,omitempty"`
	Password        probeconfig.Secret     `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordFile    string                 `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	Token           probeconfig.Secret     `yaml:"token,omitempty" json:"token,omitempty"`
	TokenFile       string                 `yaml:"token_file,omitempty" json:"token_file,omitempty"`
	TLSConfig       *probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitempty"`
}

// Secrets returns the password and the token, read from their files if
// so configured. Errors are FieldErrors naming the key.
func (g *NATS) Secrets() (password, token probeconfig.Secret, err error) {
	if password, err = probeconfig.ResolveSecret("password", g.Password, g.PasswordFile); err != nil {
		return "", "", err
	}
	token, err = probeconfig.ResolveSecret("token", g.Token, g.TokenFile)
	return password, token, err
}

// global fills the global block's defaults and checks it.
func (p *parser) global(c *Config) {
	if c.Agent.Replica == "" {
		c.Agent.Replica = DefaultReplica
	} else if !nameRe.MatchString(c.Agent.Replica) {
		p.add("agent.replica", "%q must match [a-z0-9_-]+", c.Agent.Replica)
	}
	g := c.Global
	if g == nil {
		return
	}
	p.nats("global", &g.NATS)
	if !p.present("global.replicas") {
		g.Replicas = DefaultGlobalReplicas
	} else if g.Replicas < 1 || g.Replicas > MaxGlobalReplicas {
		p.add("global.replicas", "%d must be between 1 and %d", g.Replicas, MaxGlobalReplicas)
	}
	if g.AgentID == "" {
		g.AgentID = c.Agent.Region + "-" + c.Agent.Replica
	} else if !nameRe.MatchString(g.AgentID) {
		p.add("global.agent_id", "%q must match [a-z0-9_-]+ (it is a subject token)", g.AgentID)
	}
}

// nats fills the connection's defaults and checks it; base is its key
// ("global" in vigil.yml, "nats" in vigil global's file).
func (p *parser) nats(base string, n *NATS) {
	p.globalURL(base, n.URL)
	if n.Stream == "" {
		n.Stream = DefaultGlobalStream
	} else if !streamRe.MatchString(n.Stream) {
		p.add(base+".stream", "%q must match [A-Za-z0-9_-]+", n.Stream)
	}
	if n.SubjectPrefix == "" {
		n.SubjectPrefix = DefaultGlobalSubjectPrefix
	} else {
		for _, tok := range strings.Split(n.SubjectPrefix, ".") {
			if !subjectTokenRe.MatchString(tok) {
				p.add(base+".subject_prefix", "%q must be tokens [A-Za-z0-9_-]+ separated by dots (no wildcards, no empty token)", n.SubjectPrefix)
				break
			}
		}
	}
	p.globalAuth(base, n)
}

// globalURL checks the server URLs.
func (p *parser) globalURL(base, raw string) {
	if raw == "" {
		p.add(base+".url", "is required (nats://host:4222)")
		return
	}
	for _, one := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil {
			p.add(base+".url", "%v", redactURLError(err))
			return
		}
		if u.Scheme != "nats" && u.Scheme != "tls" || u.Host == "" {
			p.add(base+".url", "%q must be nats://host:port or tls://host:port", u.Redacted())
			return
		}
	}
}

// redactURLError keeps a password in a URL out of the error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("cannot parse the URL: %v", ue.Err)
	}
	return err
}

// globalAuth checks that at most one way of authenticating is set and that
// its files can be read.
func (p *parser) globalAuth(base string, g *NATS) {
	var ways []string
	if g.CredentialsFile != "" {
		ways = append(ways, "credentials_file")
		if _, err := probeconfig.ReadConfigFile(g.CredentialsFile); err != nil {
			p.add(base+".credentials_file", "cannot read: %v", err)
		}
	}
	if g.Username != "" || g.Password != "" || g.PasswordFile != "" {
		ways = append(ways, "username/password")
		if g.Username == "" {
			p.add(base+".username", "is required with a password")
		}
		if g.Password == "" && g.PasswordFile == "" {
			p.add(base+".password", "is required with a username (or password_file)")
		}
	}
	if g.Token != "" || g.TokenFile != "" {
		ways = append(ways, "token")
	}
	if len(ways) > 1 {
		p.add(base, "set only one of credentials_file, username/password and token (has %s)", strings.Join(ways, ", "))
	}
	if _, _, err := g.Secrets(); err != nil {
		p.fieldErrors(base, err)
	}
	if g.TLSConfig != nil {
		if _, err := g.TLSConfig.Build(); err != nil {
			p.fieldErrors(base+".tls_config", err)
		}
	}
}
