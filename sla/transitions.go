package sla

import (
	"fmt"
	"time"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// Transition is one change of a feature's state, as persisted.
type Transition struct {
	At     time.Time `json:"at"`
	From   State     `json:"from"`
	To     State     `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Transitions returns the feature's state changes with since <= At < until
// (zero until: no end), oldest first, read from the store: the state history.
func (e *Engine) Transitions(service, feature string, since, until time.Time) ([]Transition, error) {
	var out []Transition
	err := e.store.Transitions(featureKey(service, feature), func(at int64, rec store.TransitionRecord) error {
		t := time.Unix(0, at)
		if !t.Before(since) && (until.IsZero() || t.Before(until)) {
			out = append(out, Transition{At: t, From: State(rec.From), To: State(rec.To), Reason: rec.Reason})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read transitions of %s/%s: %w", service, feature, err)
	}
	return out, nil
}
