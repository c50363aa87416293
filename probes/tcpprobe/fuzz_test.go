package tcpprobe

import (
	"bytes"
	"regexp"
	"testing"
)

// FuzzExpect: whatever a target sends, an expect step reads at most its
// limit plus one buffer, returns a line that matches, and never panics.
func FuzzExpect(f *testing.F) {
	f.Add([]byte("220 vigil ready\r\n250 ok\r\n"), "^250 (\\w+)$", 64)
	f.Add([]byte("no newline at all"), "newline", 8)
	f.Add([]byte("\r\n\r\n\n"), "^$", 1)
	f.Add(bytes.Repeat([]byte("x"), 10000), "y", 4096)
	f.Fuzz(func(t *testing.T, data []byte, pattern string, limit int) {
		re, err := regexp.Compile(pattern)
		if err != nil || limit <= 0 || limit > 1<<20 {
			return
		}
		src := &countingReader{r: bytes.NewReader(data)}
		line, match, err := newLineReader(src, limit).expect(re)
		if src.n > limit+readBufSize {
			t.Fatalf("read %d bytes with a limit of %d", src.n, limit)
		}
		if err == nil && (match == nil || !re.Match(line) || len(line) > limit) {
			t.Fatalf("returned line %q, match %v for %q", line, match, pattern)
		}
	})
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
