package browserprobe

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPruneKeepsTheNewestOfTheCheckOnly(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		"svc_f_c-1000.png", "svc_f_c-1001.png", "svc_f_c-999.png", "svc_f_c-1003.png", "svc_f_c-1002.png",
		"svc_f_c-2-1.png",    // check c-2, not c
		"svc_f_c-01004.png",  // not a name the prober writes
		"svc_f_c-1005.jpg",   // not a screenshot
		"other_f_c-1006.png", // another check
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &screenshots{dir: dir, prefix: sanitize("svc/f/c") + "-", keep: 3}
	if err := s.prune(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{"other_f_c-1006.png", "svc_f_c-01004.png", "svc_f_c-1001.png", "svc_f_c-1002.png", "svc_f_c-1003.png", "svc_f_c-1005.jpg", "svc_f_c-2-1.png"}
	if !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
}

func TestSanitize(t *testing.T) {
	for id, want := range map[string]string{
		"talk/send/browser": "talk_send_browser",
		"map/road view/ü":   "map_road_view__",
		"../../etc":         ".._.._etc",
		"":                  "check",
	} {
		if got := sanitize(id); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", id, got, want)
		}
	}
}
