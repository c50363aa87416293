package globalview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// RecordVersion is the only record version a View reads.
const RecordVersion = 1

// The record types.
const (
	TypeTransition = "transition"
	TypeOutage     = "outage"
	TypeDegraded   = "degraded"
	TypePresence   = "presence"
	TypeGap        = "gap"
	TypeHeartbeat  = "heartbeat"
	// TypeMaintenance: a feature's maintenance windows from since on.
	TypeMaintenance = "maintenance"
)

// Rejection is why a record was refused: Reason is one of the Reject*
// constants (the label of vigil_global_records_rejected_total), Field the
// JSON field at fault when there is one.
type Rejection struct {
	Reason string
	Field  string
	Msg    string
}

// Error says the reason, the field and what was wrong.
func (r *Rejection) Error() string {
	if r.Field != "" {
		return fmt.Sprintf("record rejected (%s): %s: %s", r.Reason, r.Field, r.Msg)
	}
	return fmt.Sprintf("record rejected (%s): %s", r.Reason, r.Msg)
}

// RejectionReason is the Reject* reason of err, or "" when err is not a
// rejection.
func RejectionReason(err error) string {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// wireRecord is Record with pointers where absence and the zero value
// differ (v, vantage_up).
type wireRecord struct {
	V            *int       `json:"v"`
	Seq          uint64     `json:"seq"`
	Agent        string     `json:"agent"`
	Region       string     `json:"region"`
	At           time.Time  `json:"at"`
	Type         string     `json:"type"`
	Service      string     `json:"service"`
	Feature      string     `json:"feature"`
	From         sla.State  `json:"from"`
	To           sla.State  `json:"to"`
	Reason       string     `json:"reason"`
	ID           uint64     `json:"id"`
	Start        time.Time  `json:"start"`
	End          *time.Time `json:"end"`
	Cause        sla.Cause  `json:"cause"`
	ChecksFailed []string   `json:"checks_failed"`
	Since        *time.Time `json:"since"`
	Windows      []Window   `json:"windows"`
	Features     int        `json:"features"`
	VantageUp    *bool      `json:"vantage_up"`
	Final        bool       `json:"final"`
}

// Decode reads one published record (DESIGN.md "The published record").
// It is strict about what it reads: one JSON object and nothing after it,
// every field of its JSON type, v 1, a known type and the fields that type
// needs. Fields it does not know are ignored (a v1 record may gain fields).
// Every error is a *Rejection.
func Decode(data []byte) (Record, error) {
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		rej := &Rejection{Reason: RejectMalformed, Msg: err.Error()}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			rej.Field = te.Field
		}
		return Record{}, rej
	}
	if _, err := dec.Token(); err == nil {
		return Record{}, &Rejection{Reason: RejectMalformed, Msg: "data after the record"}
	}
	if w.V == nil {
		return Record{}, &Rejection{Reason: RejectMissing, Field: "v", Msg: "no version"}
	}
	if w.Type == TypeHeartbeat && w.VantageUp == nil {
		return Record{}, &Rejection{Reason: RejectMissing, Field: "vantage_up", Msg: "a heartbeat needs it"}
	}
	r := Record{V: *w.V, Seq: w.Seq, Agent: w.Agent, Region: w.Region, At: w.At, Type: w.Type,
		Service: w.Service, Feature: w.Feature, From: w.From, To: w.To, Reason: w.Reason,
		ID: w.ID, Start: w.Start, End: w.End, Cause: w.Cause, ChecksFailed: w.ChecksFailed,
		Windows: w.Windows, Features: w.Features, VantageUp: w.VantageUp != nil && *w.VantageUp, Final: w.Final}
	if w.Since != nil {
		r.Since = *w.Since
	}
	if err := validate(&r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// validate checks what every record and its type need; Ingest runs it too.
func validate(r *Record) error {
	if r.V != RecordVersion {
		return &Rejection{Reason: RejectVersion, Field: "v", Msg: fmt.Sprintf("version %d, want %d", r.V, RecordVersion)}
	}
	feature := false
	switch r.Type {
	case TypeTransition, TypeOutage, TypeDegraded, TypePresence, TypeMaintenance:
		feature = true
	case TypeGap, TypeHeartbeat:
	case "":
		return &Rejection{Reason: RejectMissing, Field: "type", Msg: "no type"}
	default:
		return &Rejection{Reason: RejectType, Field: "type", Msg: fmt.Sprintf("unknown type %q", r.Type)}
	}
	missing := func(field string) error {
		return &Rejection{Reason: RejectMissing, Field: field, Msg: "a " + r.Type + " record needs it"}
	}
	switch {
	case r.Seq == 0:
		return missing("seq")
	case r.Agent == "":
		return missing("agent")
	case r.Region == "":
		return missing("region")
	case r.At.IsZero():
		return missing("at")
	case feature && r.Service == "":
		return missing("service")
	case feature && r.Feature == "":
		return missing("feature")
	}
	switch r.Type {
	case TypeTransition:
		if r.From == "" {
			return missing("from")
		}
		if r.To == "" {
			return missing("to")
		}
	case TypeMaintenance:
		if r.Since.IsZero() {
			return missing("since")
		}
		for i, w := range r.Windows {
			if w.Start.IsZero() || w.End.Before(w.Start) {
				return &Rejection{Reason: RejectMalformed, Field: fmt.Sprintf("windows[%d]", i), Msg: "needs a start and an end not before it"}
			}
		}
	case TypeOutage:
		if r.ID == 0 {
			return missing("id")
		}
		fallthrough
	case TypeDegraded, TypePresence, TypeGap:
		if r.Start.IsZero() {
			return missing("start")
		}
		if r.End != nil && r.End.Before(r.Start) {
			return &Rejection{Reason: RejectMalformed, Field: "end", Msg: "before start"}
		}
	}
	return nil
}
