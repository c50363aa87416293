// Package kinds is the one table of check kinds: for each kind, the key of its
// block in a check (http, dns, messaging, tcp, tls, ...), how the block is validated and how
// it builds the kind's Prober. internal/config decodes a check's blocks into
// Blocks and asks the table everything else, so a new kind is one field of
// Blocks and one row of table, here. (The table cannot live in package probes:
// every kind imports probes for Result.) The messaging transports have their
// own table in msgprobe.
package kinds

import (
	"fmt"
	"strings"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/browserprobe"
	"github.com/vigil-monitoring/vigil/probes/dnsprobe"
	"github.com/vigil-monitoring/vigil/probes/grpcprobe"
	"github.com/vigil-monitoring/vigil/probes/httpprobe"
	"github.com/vigil-monitoring/vigil/probes/icmpprobe"
	"github.com/vigil-monitoring/vigil/probes/journeyprobe"
	"github.com/vigil-monitoring/vigil/probes/msgprobe"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
	"github.com/vigil-monitoring/vigil/probes/sshprobe"
	"github.com/vigil-monitoring/vigil/probes/tcpprobe"
	"github.com/vigil-monitoring/vigil/probes/tlsprobe"
)

// Blocks are the probe blocks of a check, one field per kind, inlined into the
// check's YAML; a valid check sets exactly one.
type Blocks struct {
	HTTP      *httpprobe.Config `yaml:"http,omitempty" json:"http,omitempty"`
	DNS       *dnsprobe.Config  `yaml:"dns,omitempty" json:"dns,omitempty"`
	Messaging *msgprobe.Config  `yaml:"messaging,omitempty" json:"messaging,omitempty"`
	TCP       *tcpprobe.Config  `yaml:"tcp,omitempty" json:"tcp,omitempty"`
	TLS       *tlsprobe.Config  `yaml:"tls,omitempty" json:"tls,omitempty"`
	SSH       *sshprobe.Config  `yaml:"ssh,omitempty" json:"ssh,omitempty"`
	GRPC      *grpcprobe.Config `yaml:"grpc,omitempty" json:"grpc,omitempty"`
	ICMP      *icmpprobe.Config `yaml:"icmp,omitempty" json:"icmp,omitempty"`
	// Browser drives headless Chromium (agent.browser).
	Browser *browserprobe.Config `yaml:"browser,omitempty" json:"browser,omitempty"`
	// Journey's steps are Blocks of their own: any kind but journey.
	Journey *journeyprobe.Config[Blocks] `yaml:"journey,omitempty" json:"journey,omitempty"`
}

// table lists every kind, in the order errors name them.
var table = [...]Kind{
	// http keeps the plan validation builds for the prober (Forget).
	row("http", func(b *Blocks) *httpprobe.Config { return b.HTTP }, (*httpprobe.Config).ValidateAndKeep, httpprobe.New),
	row("dns", func(b *Blocks) *dnsprobe.Config { return b.DNS }, (*dnsprobe.Config).Validate, dnsprobe.New),
	row("messaging", func(b *Blocks) *msgprobe.Config { return b.Messaging }, (*msgprobe.Config).Validate, msgprobe.New),
	row("tcp", func(b *Blocks) *tcpprobe.Config { return b.TCP }, (*tcpprobe.Config).Validate, tcpprobe.New),
	row("tls", func(b *Blocks) *tlsprobe.Config { return b.TLS }, (*tlsprobe.Config).Validate, tlsprobe.New),
	row("ssh", func(b *Blocks) *sshprobe.Config { return b.SSH }, (*sshprobe.Config).Validate, sshprobe.New),
	row("grpc", func(b *Blocks) *grpcprobe.Config { return b.GRPC }, (*grpcprobe.Config).Validate, grpcprobe.New),
	row("icmp", func(b *Blocks) *icmpprobe.Config { return b.ICMP }, (*icmpprobe.Config).Validate, icmpprobe.New),
	row("browser", func(b *Blocks) *browserprobe.Config { return b.Browser }, (*browserprobe.Config).Validate, browserprobe.New),
	row("journey", func(b *Blocks) *journeyprobe.Config[Blocks] { return b.Journey }, validateJourney, buildJourney),
}

// Kind is one row of the table.
type Kind struct {
	// Name is the key of the kind's block in a check and the kind label of the
	// check's series.
	Name     string
	set      func(*Blocks) bool
	validate func(*Blocks) error
	build    func(*Blocks, probes.Options) (probes.Prober, error)
}

// row makes the table row of a kind whose block is field of Blocks.
func row[C any, P probes.Prober](name string, field func(*Blocks) *C,
	validate func(*C) error, build func(*C, probes.Options) (P, error)) Kind {
	return Kind{
		Name:     name,
		set:      func(b *Blocks) bool { return field(b) != nil },
		validate: func(b *Blocks) error { return validate(field(b)) },
		build: func(b *Blocks, opts probes.Options) (probes.Prober, error) {
			p, err := build(field(b), opts)
			if err != nil {
				return nil, err // not a typed nil in a non-nil interface
			}
			return p, nil
		},
	}
}

// Names lists the kinds' names in table order: "http", "dns", "messaging", ...
func Names() []string {
	out := make([]string, len(table))
	for i := range table {
		out[i] = table[i].Name
	}
	return out
}

// Set lists the kinds whose blocks b sets; a valid check sets exactly one.
func (b *Blocks) Set() []Kind {
	var out []Kind
	for _, k := range table {
		if k.set(b) {
			out = append(out, k)
		}
	}
	return out
}

// Kind is the name of the kind b sets, or "" when it sets none. With more
// than one set (refused by validation), the first in table order.
func (b *Blocks) Kind() string {
	for _, k := range table {
		if k.set(b) {
			return k.Name
		}
	}
	return ""
}

// Validate validates b's block of kind k. Errors are probeconfig.FieldErrors
// relative to the block, whose key is k.Name.
func (k Kind) Validate(b *Blocks) error { return k.validate(b) }

// Build returns the Prober of the kind b sets; the error names opts.CheckID
// when b sets none.
func (b *Blocks) Build(opts probes.Options) (probes.Prober, error) {
	for _, k := range table {
		if k.set(b) {
			return k.build(b, opts)
		}
	}
	return nil, fmt.Errorf("check %s has no probe kind", opts.CheckID)
}

// A journey's steps are checks of any kind in this table but journey: the
// journey package cannot import this one, so the rows below hand it stepKit.

func validateJourney(c *journeyprobe.Config[Blocks]) error { return c.Validate(stepKit{}) }

func buildJourney(c *journeyprobe.Config[Blocks], opts probes.Options) (*journeyprobe.Prober, error) {
	return journeyprobe.New(c, opts, stepKit{})
}

// stepKit is journeyprobe.Kit for Blocks.
type stepKit struct{}

func (stepKit) Kind(b *Blocks) string { return b.Kind() }

func (stepKit) Validate(b *Blocks) error {
	set := b.Set()
	if len(set) != 1 {
		var names []string
		for _, n := range Names() {
			if n != "journey" {
				names = append(names, n)
			}
		}
		return probeconfig.Errorf("", "a step needs exactly one of %s (has %d)", strings.Join(names, ", "), len(set))
	}
	if set[0].Name == "journey" {
		return probeconfig.Errorf("journey", "a journey step cannot be a journey")
	}
	return probeconfig.Prefix(set[0].Name, set[0].Validate(b))
}

func (stepKit) Build(b *Blocks, opts probes.Options) (probes.Prober, error) { return b.Build(opts) }

// Forget drops what validating b kept for building its prober (an http
// block's plan, also in a journey's steps): call it once the probers are
// built, so that a check that was not rebuilt holds nothing more.
func (b *Blocks) Forget() {
	if b.HTTP != nil {
		b.HTTP.Forget()
	}
	if b.Journey != nil {
		for i := range b.Journey.Steps {
			b.Journey.Steps[i].Blocks.Forget()
		}
	}
}

// Uses reports whether b sets a block of kind name, itself or in one of its
// journey's steps (the agent starts a browser pool only for checks that
// use one).
func (b *Blocks) Uses(name string) bool {
	if b.Kind() == name {
		return true
	}
	if b.Journey != nil {
		for i := range b.Journey.Steps {
			if b.Journey.Steps[i].Blocks.Uses(name) {
				return true
			}
		}
	}
	return false
}
