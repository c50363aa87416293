package maintenance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

var targets = []Target{
	{Service: "talk", Feature: "send", Labels: map[string]string{"datacenter": "pangyo"}},
	{Service: "talk", Feature: "read", Labels: map[string]string{"datacenter": "gasan"}},
	{Service: "pay-card", Feature: "charge", Labels: map[string]string{"datacenter": "pangyo"}},
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		sel  map[string]string
		want string
	}{
		{map[string]string{"datacenter": "pangyo"}, "talk/send pay-card/charge"},
		{map[string]string{"service": "talk"}, "talk/send talk/read"},
		{map[string]string{"service": "pay-*"}, "pay-card/charge"},
		{map[string]string{"service": "talk", "datacenter": "gasan"}, "talk/read"},
		{map[string]string{"feature": "send", "datacenter": "gasan"}, ""},
		{map[string]string{"rack": "a1"}, ""}, // a label no feature has
	} {
		w := Window{Selector: tc.sel}
		var got []string
		for _, tg := range targets {
			if w.Matches(tg) {
				got = append(got, tg.Key())
			}
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("%v selects %q, want %q", tc.sel, s, tc.want)
		}
	}
}

// TestBookLifecycle: a window is on disk once added and read back by a new
// book; ending one under way shortens it, ending a planned one removes it;
// an ended window is dropped after KeepEnded; a damaged file is an error
// naming it.
func TestBookLifecycle(t *testing.T) {
	file := filepath.Join(t.TempDir(), "maintenance.json")
	b, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Hour)
	now, err := b.Add(Request{Selector: map[string]string{"service": "talk"}, Duration: "1h", Mode: ModePause, Author: "ops"}, targets, t0)
	if err != nil {
		t.Fatal(err)
	}
	planned, err := b.Add(Request{Selector: map[string]string{"datacenter": "pangyo"}, Start: &later, Duration: "30m", Author: "ops", Reason: "UPS"}, targets, t0)
	if err != nil {
		t.Fatal(err)
	}
	if planned.Mode != ModeExclude || !planned.End.Equal(later.Add(30*time.Minute)) || strings.Join(planned.Features, " ") != "talk/send pay-card/charge" {
		t.Errorf("planned window %+v", planned)
	}
	reopened, err := Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if l := reopened.List(t0); len(l) != 2 || l[0].ID != now.ID || l[1].ID != planned.ID {
		t.Fatalf("reopened book: %+v", l)
	}
	if got := reopened.Active(targets[1], ModePause, t0.Add(time.Minute)); len(got) != 1 || got[0].ID != now.ID {
		t.Errorf("active pause on talk/read: %+v", got)
	}
	if got := reopened.Active(targets[1], ModePause, t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("pause still active at its end: %+v", got)
	}
	ended, ok, err := reopened.End(now.ID, t0.Add(10*time.Minute))
	if err != nil || !ok || !ended.End.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("end under way: %+v %v %v", ended, ok, err)
	}
	if _, ok, _ := reopened.End(planned.ID, t0.Add(11*time.Minute)); !ok {
		t.Error("calling off the planned window failed")
	}
	if _, ok, _ := reopened.End(now.ID, t0.Add(12*time.Minute)); ok {
		t.Error("ending an ended window: ok, want not found")
	}
	if l := reopened.List(t0.Add(12 * time.Minute)); len(l) != 1 || l[0].ID != now.ID {
		t.Errorf("after ending: %+v, want the ended pause only", l)
	}
	if l := reopened.List(t0.Add(10*time.Minute + KeepEnded + time.Second)); len(l) != 0 {
		t.Errorf("after KeepEnded: %+v, want none", l)
	}
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("damaged book: %v, want an error naming %s", err, file)
	}
}

func TestRequestErrors(t *testing.T) {
	past, before := t0.Add(-time.Hour), t0.Add(-2*time.Hour)
	sel := map[string]string{"service": "talk"}
	for _, tc := range []struct {
		r     Request
		field string
	}{
		{Request{Duration: "1h", Author: "ops"}, "selector"},
		{Request{Selector: map[string]string{"service": "[talk"}, Duration: "1h", Author: "ops"}, "selector.service"},
		{Request{Selector: sel, Duration: "soon", Author: "ops"}, "duration"},
		{Request{Selector: sel, End: &past, Start: &before, Author: "ops"}, "end"},
		{Request{Selector: sel, Duration: "2400h", Author: "ops"}, "end"},
		{Request{Selector: sel, Duration: "1h", Author: " "}, "author"},
		{Request{Selector: sel, Duration: "1h", Author: "ops", Mode: "off"}, "mode"},
	} {
		b, _ := Open("")
		_, err := b.Add(tc.r, targets, t0)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.r, err, tc.field)
		}
	}
}
