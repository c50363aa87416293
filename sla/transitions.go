package sla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
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
	prefix := []byte(featureKey(service, feature) + "\x00")
	var out []Transition
	err := e.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTransitions)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) < len(prefix)+8 {
				continue
			}
			at := time.Unix(0, get64(k[len(prefix):len(prefix)+8]))
			if at.Before(since) || (!until.IsZero() && !at.Before(until)) {
				continue
			}
			var rec transitionRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("transition %q: %w", k, err)
			}
			out = append(out, Transition{At: at, From: rec.From, To: rec.To, Reason: rec.Reason})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read transitions of %s/%s: %w", service, feature, err)
	}
	return out, nil
}
