package grpcprobe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Config is the `grpc` block of a check. Keys follow blackbox_exporter's grpc
// module where the meaning is the same. A zero field means its documented
// default.
type Config struct {
	// Target is "host:port".
	Target string `yaml:"target" json:"target"`
	// Service is the service name asked about; "" asks about the server as a
	// whole.
	Service string `yaml:"service,omitempty" json:"service,omitempty"`
	// TLS connects over TLS.
	TLS bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// TLSConfig is used with tls; server_name defaults to the target's host.
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitzero"`
	// Metadata is sent with the call; values are secrets (an authorization
	// token) and may be ${ENV}.
	Metadata map[string]probeconfig.Secret `yaml:"metadata,omitempty" json:"metadata,omitempty"`

	probeconfig.IPConfig `yaml:",inline"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	endpoint  *probeconfig.Endpoint
	service   string
	tlsConfig *tls.Config // nil without tls
	metadata  []string    // key, value, key, value... in key order
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{service: c.Service}
	endpoint, err := c.HostPort("target", c.Target, 0)
	p.endpoint = endpoint
	errs := []error{err}
	switch {
	case c.TLS:
		cfg, err := c.TLSConfig.Build()
		if err != nil {
			errs = append(errs, probeconfig.Prefix("tls_config", err))
		} else if endpoint != nil && cfg.ServerName == "" {
			cfg.ServerName = endpoint.Host
		}
		p.tlsConfig = cfg
	case c.TLSConfig != (probeconfig.TLSConfig{}):
		errs = append(errs, probeconfig.Errorf("tls_config", "is only used with tls: true"))
	}
	keys := make([]string, 0, len(c.Metadata))
	for k := range c.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkMetadataKey(k); err != nil {
			errs = append(errs, probeconfig.Errorf("metadata."+k, "%v", err))
			continue
		}
		p.metadata = append(p.metadata, strings.ToLower(k), c.Metadata[k].Reveal())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// checkMetadataKey refuses keys gRPC would reject or reserve: HTTP/2 header
// names in lower case, not starting with "grpc-" or ":", and no binary
// ("-bin") values, which would need base64 here.
func checkMetadataKey(k string) error {
	lower := strings.ToLower(k)
	switch {
	case k == "":
		return errors.New("empty key")
	case strings.HasPrefix(lower, "grpc-") || strings.HasPrefix(lower, ":"):
		return fmt.Errorf("key %q is reserved by gRPC", k)
	case strings.HasSuffix(lower, "-bin"):
		return fmt.Errorf("binary key %q is not supported", k)
	}
	for _, r := range lower {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("key %q may hold only letters, digits, '-', '_' and '.'", k)
		}
	}
	return nil
}
