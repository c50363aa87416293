package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Web is the `web` block: how the agent's status page presents itself, and
// the credentials of the API's write endpoints.
type Web struct {
	// Public makes `/` the public status page: states, since, availability
	// and human updates, without probe errors or targets, which stay on
	// /internal and in /api.
	Public bool `yaml:"public,omitempty" json:"public"`
	// Timezone is the IANA zone of every time the pages, feeds and bulletin
	// show, e.g. Asia/Seoul; "" is the machine's zone (TZ).
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`

	// Location is Timezone, loaded by validation; nil when Timezone is "".
	Location *time.Location `yaml:"-" json:"-"`

	// WriteTokenFile holds the bearer token of write requests
	// (Authorization: Bearer <token>): incident updates, maintenance.
	WriteTokenFile string `yaml:"write_token_file,omitempty" json:"write_token_file,omitempty"`
	// Writers are users of --web.config.file's basic_auth_users who may
	// write; the other users there may only read.
	Writers []string `yaml:"writers,omitempty" json:"writers,omitempty"`
}

// web loads web.timezone and checks the write credentials.
func (p *parser) web(w *Web) {
	if w.WriteTokenFile != "" {
		if b, err := probeconfig.ReadConfigFile(w.WriteTokenFile); err != nil {
			p.add("web.write_token_file", "cannot read: %v", err)
		} else if len(strings.TrimSpace(string(b))) < 16 {
			p.add("web.write_token_file", "%s: the token must be at least 16 characters", w.WriteTokenFile)
		}
	}
	for i, u := range w.Writers {
		if u == "" {
			p.add(fmt.Sprintf("web.writers[%d]", i), "is empty: name a user of --web.config.file's basic_auth_users")
		}
	}
	if w.Timezone == "" {
		return
	}
	loc, err := time.LoadLocation(w.Timezone)
	if err != nil {
		p.add("web.timezone", "unknown time zone %q (an IANA name like Asia/Seoul or UTC)", w.Timezone)
		return
	}
	w.Location = loc
}
