// Package maintenance keeps the maintenance windows and silences declared at
// run time (`POST /api/v1/maintenance`), beside the ones in the config: which
// features they select (a label selector over service, feature and their
// labels), when, in which mode, who declared them and why. The book is a
// small JSON file under the agent's storage path, rewritten atomically on
// every change, so a window survives a restart or a crash; windows that
// ended are dropped after KeepEnded. What a mode means is the agent's: an
// exclude window becomes an SLA maintenance window, a pause stops the
// probes, a mute only says so (vigil_feature_maintenance{mode}).
package maintenance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/internal/atomicfile"
)

// Mode says what a window does to the features it selects.
type Mode string

const (
	// ModeExclude takes the time out of the SLA, as config maintenance does:
	// the features show maintenance and no outage opens.
	ModeExclude Mode = "exclude"
	// ModeMute still counts the time in the SLA; the features show planned
	// work and vigil_feature_maintenance{mode="mute"} keeps the shipped
	// alerts quiet.
	ModeMute Mode = "mute"
	// ModePause stops probing: the features' time is unmonitored.
	ModePause Mode = "pause"
)

// Modes are the modes in the order errors list them.
var Modes = []Mode{ModeExclude, ModeMute, ModePause}

// KeepEnded is how long a window that ended stays in the book (for the page,
// the feed and reports) before it is dropped.
const KeepEnded = 35 * 24 * time.Hour

// Window is one declared maintenance window.
type Window struct {
	ID string `json:"id"`
	// Selector matches features: keys "service" and "feature" match their
	// names, any other key the feature's labels (its service's merged with
	// its own); values are exact or path.Match globs ("pay-*"). Every key
	// must match.
	Selector map[string]string `json:"selector"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Mode     Mode              `json:"mode"`
	Author   string            `json:"author"`
	Reason   string            `json:"reason"`
	Created  time.Time         `json:"created"`
	// Features are the features ("service/feature") it selected when it
	// was declared, for the record.
	Features []string `json:"features"`
}

// Target is a feature as a selector sees it.
type Target struct {
	Service, Feature string
	Labels           map[string]string
}

// Key is "service/feature".
func (t Target) Key() string { return t.Service + "/" + t.Feature }

// Matches reports whether w selects t.
func (w *Window) Matches(t Target) bool {
	for k, pattern := range w.Selector {
		var v string
		var ok bool
		switch k {
		case "service":
			v, ok = t.Service, true
		case "feature":
			v, ok = t.Feature, true
		default:
			v, ok = t.Labels[k]
		}
		if !ok {
			return false
		}
		if matched, _ := path.Match(pattern, v); !matched {
			return false
		}
	}
	return true
}

// ActiveAt reports whether now is inside [Start, End).
func (w *Window) ActiveAt(now time.Time) bool { return !now.Before(w.Start) && now.Before(w.End) }

// Request is what a client sends to declare a window; Start defaults to
// now, and exactly one of End and Duration is set.
type Request struct {
	Selector map[string]string `json:"selector"`
	Start    *time.Time        `json:"start"`
	End      *time.Time        `json:"end"`
	Duration string            `json:"duration"`
	Mode     Mode              `json:"mode"`
	Author   string            `json:"author"`
	Reason   string            `json:"reason"`
}

// FieldError is a request refused because of one field.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// MaxDuration bounds one window: a typo of a year is refused.
const MaxDuration = 90 * 24 * time.Hour

// Book is the set of declared windows, persisted in one file. Safe for
// concurrent use.
type Book struct {
	file string // "" keeps the book in memory only

	mu      sync.Mutex
	windows []Window // by start, then id
	// pauses counts the pause windows kept, so that the agent's probe runs
	// ask nothing of the book while there are none.
	pauses atomic.Int32
}

// Open reads the book at file (a missing file is an empty book); "" gives a
// book in memory only. A file it cannot read is an error naming it.
func Open(file string) (*Book, error) {
	b := &Book{file: file}
	if file == "" {
		return b, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance book: %w", err)
	}
	var stored struct {
		Windows []Window `json:"windows"`
	}
	if err := json.Unmarshal(data, &stored); err != nil {
		return nil, fmt.Errorf("maintenance book %s: %w", file, err)
	}
	sortWindows(stored.Windows)
	b.set(stored.Windows)
	return b, nil
}

// Add declares the window r describes at now, selecting among targets; it
// refuses a request that selects none. The window is on disk when Add
// returns.
func (b *Book) Add(r Request, targets []Target, now time.Time) (Window, error) {
	w, err := r.window(now)
	if err != nil {
		return Window{}, err
	}
	for _, t := range targets {
		if w.Matches(t) {
			w.Features = append(w.Features, t.Key())
		}
	}
	if len(w.Features) == 0 {
		return Window{}, &FieldError{"selector", fmt.Sprintf("{%s} selects no configured feature", FormatSelector(w.Selector))}
	}
	w.ID, w.Created = newID(), now.UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	next := append(b.live(now), w)
	sortWindows(next)
	if err := b.save(next); err != nil {
		return Window{}, err
	}
	b.set(next)
	return w, nil
}

// End ends window id at now: a window under way ends now, one not begun is
// called off (removed). It returns the window as it now is, and false when
// there is no such window or it had ended.
func (b *Book) End(id string, now time.Time) (Window, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := b.live(now)
	i := slices.IndexFunc(next, func(w Window) bool { return w.ID == id })
	if i < 0 || !next[i].End.After(now) {
		return Window{}, false, nil
	}
	w := next[i]
	if w.Start.After(now) {
		next = slices.Delete(next, i, i+1)
		w.End = w.Start
	} else {
		w.End = now.UTC()
		next[i] = w
	}
	if err := b.save(next); err != nil {
		return Window{}, false, err
	}
	b.set(next)
	return w, true, nil
}

// set makes windows the book's; b.mu is held (or b is not shared yet).
func (b *Book) set(windows []Window) {
	b.windows = windows
	n := 0
	for i := range windows {
		if windows[i].Mode == ModePause {
			n++
		}
	}
	b.pauses.Store(int32(n))
}

// HasPauses reports whether the book holds a pause window at all (under
// way, planned or ended): when it does not, no run can be paused.
func (b *Book) HasPauses() bool { return b.pauses.Load() > 0 }

// List is every window not dropped yet at now, by start: ended ones (for
// KeepEnded), under way and planned.
func (b *Book) List(now time.Time) []Window {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live(now)
}

// Active are the windows of mode (any mode when "") selecting t at now.
func (b *Book) Active(t Target, mode Mode, now time.Time) []Window {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Window
	for i := range b.windows {
		w := &b.windows[i]
		if w.ActiveAt(now) && (mode == "" || w.Mode == mode) && w.Matches(t) {
			out = append(out, *w)
		}
	}
	return out
}

// Windows are the windows of mode selecting t that have not ended at now
// (under way or planned).
func (b *Book) Windows(t Target, mode Mode, now time.Time) []Window {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Window
	for i := range b.windows {
		w := &b.windows[i]
		if w.End.After(now) && w.Mode == mode && w.Matches(t) {
			out = append(out, *w)
		}
	}
	return out
}

// live is a copy of the windows without those ended more than KeepEnded
// before now; b.mu is held.
func (b *Book) live(now time.Time) []Window {
	out := make([]Window, 0, len(b.windows)+1)
	for _, w := range b.windows {
		if now.Sub(w.End) <= KeepEnded {
			out = append(out, w)
		}
	}
	return out
}

// save writes windows to the book's file atomically.
func (b *Book) save(windows []Window) error {
	if b.file == "" {
		return nil
	}
	data, err := json.MarshalIndent(struct {
		Windows []Window `json:"windows"`
	}{windows}, "", "  ")
	if err != nil {
		return fmt.Errorf("maintenance book: %w", err)
	}
	if err := atomicfile.Write(b.file, append(data, '\n')); err != nil {
		return fmt.Errorf("maintenance book: %w", err)
	}
	return nil
}

// window checks r and makes its window (without id, features).
func (r *Request) window(now time.Time) (Window, error) {
	if len(r.Selector) == 0 {
		return Window{}, &FieldError{"selector", "required: e.g. {\"service\": \"talk\"} or {\"datacenter\": \"pangyo\"}"}
	}
	for k, v := range r.Selector {
		if k == "" {
			return Window{}, &FieldError{"selector", "a key is empty"}
		}
		if _, err := path.Match(v, ""); err != nil {
			return Window{}, &FieldError{"selector." + k, fmt.Sprintf("bad pattern %q: %v", v, err)}
		}
	}
	mode := r.Mode
	if mode == "" {
		mode = ModeExclude
	}
	if !slices.Contains(Modes, mode) {
		return Window{}, &FieldError{"mode", fmt.Sprintf("%q is not one of exclude, mute, pause", r.Mode)}
	}
	start := now
	if r.Start != nil {
		start = *r.Start
	}
	var end time.Time
	switch {
	case r.End != nil && r.Duration != "":
		return Window{}, &FieldError{"end", "set end or duration, not both"}
	case r.End != nil:
		end = *r.End
	case r.Duration != "":
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return Window{}, &FieldError{"duration", fmt.Sprintf("%q is not a positive duration like 2h or 90m", r.Duration)}
		}
		end = start.Add(d)
	default:
		return Window{}, &FieldError{"end", "set end or duration"}
	}
	switch {
	case !end.After(start):
		return Window{}, &FieldError{"end", "must be after start"}
	case !end.After(now):
		return Window{}, &FieldError{"end", "is in the past: a window cannot change what was recorded"}
	case end.Sub(start) > MaxDuration:
		return Window{}, &FieldError{"end", fmt.Sprintf("a window may last at most %s", MaxDuration)}
	case strings.TrimSpace(r.Author) == "":
		return Window{}, &FieldError{"author", "required: who declares it"}
	}
	return Window{Selector: r.Selector, Start: start.UTC(), End: end.UTC(), Mode: mode,
		Author: r.Author, Reason: r.Reason}, nil
}

// FormatSelector is a selector as text: "key=value, key=value", sorted.
func FormatSelector(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ", ")
}

func sortWindows(list []Window) {
	slices.SortStableFunc(list, func(a, b Window) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "m-" + hex.EncodeToString(b[:])
}
