package icmpprobe

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Payload bounds: ping's default size, and the most an IPv4 datagram carries
// after its header (20) and the ICMP header (8).
const (
	DefaultPayloadSize = 56
	MaxPayloadSize     = 65535 - 20 - 8
)

// Config is the `icmp` block of a check. Keys follow blackbox_exporter's icmp
// module where the meaning is the same. A zero field means its documented
// default.
type Config struct {
	// Target is a host name or an IP address (no port).
	Target string `yaml:"target" json:"target"`
	// PayloadSize is the echo's data size in bytes; default DefaultPayloadSize.
	PayloadSize int `yaml:"payload_size,omitempty" json:"payload_size,omitempty"`
	// DontFragment sets the IPv4 DF bit, so a path with a smaller MTU fails
	// the run instead of fragmenting; IPv4 only.
	DontFragment bool `yaml:"dont_fragment,omitempty" json:"dont_fragment,omitempty"`
	// TTL is the request's TTL (hop limit for IPv6), 1 to 255; default the
	// system's.
	TTL int `yaml:"ttl,omitempty" json:"ttl,omitempty"`

	probeconfig.IPConfig `yaml:",inline"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to it.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked and turned into the values a run needs.
type plan struct {
	endpoint     *probeconfig.Endpoint
	payloadSize  int
	dontFragment bool
	ttl          int
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{payloadSize: c.PayloadSize, dontFragment: c.DontFragment, ttl: c.TTL}
	if p.payloadSize == 0 {
		p.payloadSize = DefaultPayloadSize
	}
	endpoint, err := c.HostOnly("target", c.Target)
	p.endpoint = endpoint
	errs := []error{err}
	if c.PayloadSize < 0 || c.PayloadSize > MaxPayloadSize {
		errs = append(errs, probeconfig.Errorf("payload_size", "%d is out of range: want 0 to %d bytes", c.PayloadSize, MaxPayloadSize))
	}
	if c.TTL < 0 || c.TTL > 255 {
		errs = append(errs, probeconfig.Errorf("ttl", "%d is out of range: want 1 to 255", c.TTL))
	}
	if ip, err := netip.ParseAddr(strings.Trim(c.Target, "[]")); err == nil && c.DontFragment && !ip.Unmap().Is4() {
		errs = append(errs, probeconfig.Errorf("dont_fragment", "is for IPv4 only: IPv6 never fragments in transit"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}
