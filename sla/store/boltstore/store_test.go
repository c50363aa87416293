package boltstore

import (
	"encoding/json"
	"testing"

	"github.com/vigil-monitoring/vigil/sla/store"
)

// TestFeatureRecordEncoding: the hand-written feature record is byte for
// byte what json.Marshal of featureRecord writes, and reads back.
func TestFeatureRecordEncoding(t *testing.T) {
	tests := []store.FeatureRecord{
		{Spec: []byte(`{"Service":"talk","Feature":"send","Labels":{"team":"a\"b"},"Maintenance":null}`), Configured: true,
			MaintFrom: 1_780_000_000_000_000_000, MaintUntil: 1_780_604_800_000_000_000},
		{Spec: []byte(`{}`), MaintFrom: -1},
		{}, // no spec: null, as json.Marshal writes a nil RawMessage
	}
	for _, rec := range tests {
		want, err := json.Marshal(featureRecord{Spec: rec.Spec, Configured: rec.Configured, MaintFrom: rec.MaintFrom, MaintUntil: rec.MaintUntil})
		if err != nil {
			t.Fatal(err)
		}
		got := appendFeatureRecord(nil, rec)
		if string(got) != string(want) {
			t.Errorf("appendFeatureRecord:\n got %s\nwant %s", got, want)
		}
		var back featureRecord
		if err := json.Unmarshal(got, &back); err != nil || back.Configured != rec.Configured || back.MaintFrom != rec.MaintFrom ||
			back.MaintUntil != rec.MaintUntil {
			t.Errorf("read back %s: %+v, %v", got, back, err)
		}
	}
}
