package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "book.json")
	for _, content := range []string{`{"a":1}`, `{"b":2}`} {
		if err := Write(file, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != content {
			t.Errorf("file holds %q (%v), want %q", got, err, content)
		}
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := Write(filepath.Join(t.TempDir(), "missing", "f"), nil); err == nil {
		t.Error("writing into a missing directory: no error")
	}
}
