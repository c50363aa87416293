package tcpprobe

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// DefaultMaxReadBytes bounds what one expect step reads looking for its line.
const DefaultMaxReadBytes = 64 << 10

// Config is the `tcp` block of a check. Keys follow blackbox_exporter's tcp
// module where the meaning is the same. A zero field means its documented
// default.
type Config struct {
	// Target is "host:port".
	Target string `yaml:"target" json:"target"`
	// QueryResponse is the dialogue, step by step; empty checks only that the
	// connection opens (and the TLS handshake, with TLS).
	QueryResponse []QueryResponse `yaml:"query_response,omitempty" json:"query_response,omitempty"`
	// TLS makes the handshake right after connecting.
	TLS bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// TLSConfig is used with tls or a starttls step; server_name defaults to
	// the target's host.
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitzero"`
	// MaxReadBytes is the most one expect step reads (lines included) before
	// it gives up; default DefaultMaxReadBytes.
	MaxReadBytes int `yaml:"max_read_bytes,omitempty" json:"max_read_bytes,omitempty"`

	probeconfig.IPConfig `yaml:",inline"`
}

// QueryResponse is one step of the dialogue, done in this order: expect, send,
// starttls.
type QueryResponse struct {
	// Expect waits for a line (without its line ending) that matches.
	Expect probeconfig.Regexp `yaml:"expect,omitempty" json:"expect,omitzero"`
	// Send is written followed by "\n". After an expect, ${1} or ${name} are
	// replaced by the match's groups.
	Send string `yaml:"send,omitempty" json:"send,omitempty"`
	// StartTLS upgrades the connection to TLS.
	StartTLS bool `yaml:"starttls,omitempty" json:"starttls,omitempty"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	endpoint  *probeconfig.Endpoint
	steps     []QueryResponse
	tls       bool
	tlsConfig *tls.Config // nil unless tls or a starttls step
	maxRead   int
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{steps: c.QueryResponse, tls: c.TLS, maxRead: c.MaxReadBytes}
	if p.maxRead == 0 {
		p.maxRead = DefaultMaxReadBytes
	}
	var errs []error
	endpoint, err := c.HostPort("target", c.Target, 0)
	errs = append(errs, err)
	p.endpoint = endpoint
	if c.MaxReadBytes < 0 {
		errs = append(errs, probeconfig.Errorf("max_read_bytes", "%d is negative", c.MaxReadBytes))
	}

	usesTLS := c.TLS
	for i, step := range c.QueryResponse {
		key := fmt.Sprintf("query_response[%d]", i)
		switch {
		case step.Expect.Regexp == nil && step.Send == "" && !step.StartTLS:
			errs = append(errs, probeconfig.Errorf(key, "empty step: set expect, send or starttls"))
		case step.Expect.Regexp != nil && step.Expect.String() == "":
			errs = append(errs, probeconfig.Errorf(key+".expect", "empty regexp: it matches every line"))
		case step.StartTLS && usesTLS:
			errs = append(errs, probeconfig.Errorf(key+".starttls", "the connection is already TLS"))
		}
		usesTLS = usesTLS || step.StartTLS
	}

	if usesTLS {
		cfg, err := c.TLSConfig.Build()
		if err != nil {
			errs = append(errs, probeconfig.Prefix("tls_config", err))
		} else if endpoint != nil && cfg.ServerName == "" {
			cfg.ServerName = endpoint.Host
		}
		p.tlsConfig = cfg
	} else if c.TLSConfig != (probeconfig.TLSConfig{}) {
		errs = append(errs, probeconfig.Errorf("tls_config", "is only used with tls: true or a starttls step"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}
