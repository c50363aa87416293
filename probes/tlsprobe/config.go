package tlsprobe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// defaultPort is HTTPS's, the commonest TLS service.
const defaultPort = 443

// Config is the `tls` block of a check. A zero field means its documented
// default.
type Config struct {
	// Target is "host:port" or "host" (port 443).
	Target string `yaml:"target" json:"target"`
	// TLSConfig verifies the server; its server_name defaults to the target's host.
	TLSConfig probeconfig.TLSConfig `yaml:"tls_config,omitempty" json:"tls_config,omitzero"`
	// MinDaysRemaining fails the run when the chain's earliest expiry is fewer
	// than this many days away; 0 checks only that the chain is valid now.
	MinDaysRemaining int `yaml:"min_days_remaining,omitempty" json:"min_days_remaining,omitempty"`
	// RequiredSANs lists names (or IP addresses) the leaf must hold among its
	// subject alternative names, compared ignoring case.
	RequiredSANs []string `yaml:"required_sans,omitempty" json:"required_sans,omitempty"`
	// FailIfIssuerNotMatchesRegexp fails the run unless the leaf's issuer, in
	// RFC 2253 form ("CN=R11,O=Let's Encrypt,C=US"), matches.
	FailIfIssuerNotMatchesRegexp probeconfig.Regexp `yaml:"fail_if_issuer_not_matches_regexp,omitempty" json:"fail_if_issuer_not_matches_regexp,omitzero"`

	probeconfig.IPConfig `yaml:",inline"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	endpoint    *probeconfig.Endpoint
	tlsConfig   *tls.Config
	minDays     int
	sans        []string
	issuerMatch *regexp.Regexp
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{minDays: c.MinDaysRemaining, issuerMatch: c.FailIfIssuerNotMatchesRegexp.Regexp}
	var errs []error
	endpoint, err := c.HostPort("target", c.Target, defaultPort)
	errs = append(errs, err)
	p.endpoint = endpoint

	cfg, err := c.TLSConfig.Build()
	if err != nil {
		errs = append(errs, probeconfig.Prefix("tls_config", err))
	} else if endpoint != nil && cfg.ServerName == "" {
		cfg.ServerName = endpoint.Host
	}
	p.tlsConfig = cfg

	if c.MinDaysRemaining < 0 {
		errs = append(errs, probeconfig.Errorf("min_days_remaining", "%d is negative", c.MinDaysRemaining))
	}
	for i, san := range c.RequiredSANs {
		if strings.TrimSpace(san) == "" {
			errs = append(errs, probeconfig.Errorf(fmt.Sprintf("required_sans[%d]", i), "empty name"))
			continue
		}
		if ip, err := netip.ParseAddr(san); err == nil {
			san = ip.Unmap().String() // the form TLSInfo.SANs holds
		}
		p.sans = append(p.sans, san)
	}
	if re := c.FailIfIssuerNotMatchesRegexp.Regexp; re != nil && re.String() == "" {
		errs = append(errs, probeconfig.Errorf("fail_if_issuer_not_matches_regexp", "empty regexp: it matches every issuer"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}
