package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// EventType names what happened; webhooks choose by it.
type EventType string

// The event types. Incident events carry an IncidentInfo, maintenance
// events a MaintenanceInfo.
const (
	IncidentOpened       EventType = "incident.opened"
	IncidentUpdated      EventType = "incident.updated"
	IncidentResolved     EventType = "incident.resolved"
	MaintenanceScheduled EventType = "maintenance.scheduled"
	MaintenanceStarted   EventType = "maintenance.started"
	MaintenanceEnded     EventType = "maintenance.ended"
)

// EventTypes lists every event type, in the order of the docs.
var EventTypes = []EventType{IncidentOpened, IncidentUpdated, IncidentResolved,
	MaintenanceScheduled, MaintenanceStarted, MaintenanceEnded}

// Status is an operator's word on an incident.
type Status string

// The statuses of an incident update (Statuspage's).
const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	return s == Investigating || s == Identified || s == Monitoring || s == Resolved
}

// Message is text in one or more languages, by language tag ("en", "ko").
// In JSON it is an object, or a plain string meaning English.
type Message map[string]string

// UnmarshalJSON accepts {"en": "...", "ko": "..."} or "..." (English).
func (m *Message) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = Message{"en": s}
		return nil
	}
	var byLang map[string]string
	if err := json.Unmarshal(b, &byLang); err != nil {
		// A type error, so that encoding/json names the field.
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[Message]()}
	}
	*m = byLang
	return nil
}

// In returns the text in lang, else English, else any language (the
// smallest tag, so the choice is stable).
func (m Message) In(lang string) string {
	if s, ok := m[lang]; ok {
		return s
	}
	if s, ok := m["en"]; ok {
		return s
	}
	langs := make([]string, 0, len(m))
	for l := range m {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	if len(langs) == 0 {
		return ""
	}
	return m[langs[0]]
}

// maxMessageBytes bounds one language's text of an update or a title.
const maxMessageBytes = 8 << 10

// check validates a message: at least one non-empty text, tags like "en",
// "ko" or "pt-BR", each text at most maxMessageBytes.
func (m Message) check(field string) error {
	if len(m) == 0 {
		return fmt.Errorf("%s: is required", field)
	}
	for lang, text := range m {
		if !validLang(lang) {
			return fmt.Errorf("%s: %q is not a language tag like en or ko", field, lang)
		}
		if strings.TrimSpace(text) == "" {
			return fmt.Errorf("%s.%s: is empty", field, lang)
		}
		if len(text) > maxMessageBytes {
			return fmt.Errorf("%s.%s: longer than %d bytes", field, lang, maxMessageBytes)
		}
	}
	return nil
}

// validLang reports whether tag is a BCP 47 language tag (en, ko, pt-BR).
func validLang(tag string) bool {
	_, err := language.Parse(tag)
	return err == nil && len(tag) <= 16
}

// jsonKind names the kind of a JSON value for an error.
func jsonKind(b []byte) string {
	switch t := bytes.TrimSpace(b); {
	case len(t) == 0:
		return "nothing"
	case t[0] == '[':
		return "array"
	case t[0] == '{':
		return "object with a value that is not a string"
	case t[0] == 't' || t[0] == 'f':
		return "bool"
	case t[0] == 'n':
		return "null"
	default:
		return "number"
	}
}

// Update is one operator's word on an incident, kept in the store.
type Update struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Status     Status    `json:"status"`
	Message    Message   `json:"message"`
	Author     string    `json:"author,omitempty"`
	At         time.Time `json:"at"`
	// Outages are the features' outages the automatic incident held when
	// the update was posted. A grouped incident's id is its start and the
	// label it is grouped by, and both can change while it grows (a
	// feature with another shared label joins, one with an earlier
	// backdated start): the update stays with the incident that holds any
	// of these outages.
	Outages []OutageRef `json:"outages,omitempty"`
}

// OutageRef names one feature's outage; the outage id never changes.
type OutageRef struct {
	Service string `json:"service"`
	Feature string `json:"feature"`
	Outage  uint64 `json:"outage_id"`
}

// FeatureRef names a service, or one feature of it (Feature set).
type FeatureRef struct {
	Service string `json:"service"`
	Feature string `json:"feature,omitempty"`
}

// ManualIncident is an incident an operator opened, e.g. for trouble the
// probes cannot see. Its status is its latest update's; it ends with a
// resolved update.
type ManualIncident struct {
	ID       string       `json:"id"`
	Title    Message      `json:"title"`
	Affected []FeatureRef `json:"affected"`
	Status   Status       `json:"status"`
	Author   string       `json:"author,omitempty"`
	Start    time.Time    `json:"start"`
	End      *time.Time   `json:"end"` // nil while open
	Updates  []Update     `json:"updates"`
}

// Event is something subscribers hear of. Publish sets ID (and At, if
// zero).
type Event struct {
	ID          string           `json:"id"`
	Type        EventType        `json:"type"`
	At          time.Time        `json:"at"`
	Incident    *IncidentInfo    `json:"incident,omitempty"`
	Maintenance *MaintenanceInfo `json:"maintenance,omitempty"`
}

// IncidentInfo is what an incident event says of the incident.
type IncidentInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// State is what the probes see (e.g. "down", "recovering",
	// "resolved"); Status the operators' latest word, if any.
	State    string       `json:"state,omitempty"`
	Status   Status       `json:"status,omitempty"`
	Manual   bool         `json:"manual,omitempty"`
	Affected []FeatureRef `json:"affected"`
	Start    time.Time    `json:"start"`
	End      *time.Time   `json:"end,omitempty"`
	// Update is the update this event announces, if it is one.
	Update *Update `json:"update,omitempty"`
	// Outages are an automatic incident's outages (not sent: Affected
	// names the features).
	Outages []OutageRef `json:"-"`
}

// MaintenanceInfo is what a maintenance event says of the window.
type MaintenanceInfo struct {
	ID       string       `json:"id"`
	Mode     string       `json:"mode,omitempty"` // exclude, mute or pause
	Selector string       `json:"selector,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	Author   string       `json:"author,omitempty"`
	Affected []FeatureRef `json:"affected"`
	Start    time.Time    `json:"start"`
	End      time.Time    `json:"end"`
}

// services is the set of services an event touches; nil means it names
// none (then every subscriber hears of it).
func (e *Event) services() []string {
	var refs []FeatureRef
	switch {
	case e.Incident != nil:
		refs = e.Incident.Affected
	case e.Maintenance != nil:
		refs = e.Maintenance.Affected
	}
	var out []string
	for _, r := range refs {
		if !slices.Contains(out, r.Service) {
			out = append(out, r.Service)
		}
	}
	return out
}

// check validates an event given to Publish.
func (e *Event) check() error {
	if !slices.Contains(EventTypes, e.Type) {
		return fmt.Errorf("notify: unknown event type %q", e.Type)
	}
	isIncident := strings.HasPrefix(string(e.Type), "incident.")
	if isIncident && e.Incident == nil {
		return fmt.Errorf("notify: event %s without an incident", e.Type)
	}
	if !isIncident && e.Maintenance == nil {
		return fmt.Errorf("notify: event %s without a maintenance window", e.Type)
	}
	return nil
}

// matchEvent reports whether an events filter (empty: all; "incident.*",
// "*") selects t.
func matchEvent(filter []string, t EventType) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f == "*" || f == string(t) || strings.HasSuffix(f, ".*") && strings.HasPrefix(string(t), strings.TrimSuffix(f, "*")) {
			return true
		}
	}
	return false
}

// matchServices reports whether a services filter (empty: all) selects an
// event touching services (empty: touches all).
func matchServices(filter, services []string) bool {
	if len(filter) == 0 || len(services) == 0 {
		return true
	}
	for _, s := range services {
		if slices.Contains(filter, s) {
			return true
		}
	}
	return false
}
