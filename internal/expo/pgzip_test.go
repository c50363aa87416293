package expo

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestParallelGzipRoundTrip checks that the stream is one valid gzip member
// (the standard reader verifies its CRC-32 and length) holding exactly the
// input, at sizes around the chunk boundaries and in writes of every size.
func TestParallelGzipRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	text := []byte(strings.Repeat(`vigil_check_up{check="http",feature="f00001",kind="http",region="bench",service="svc000"} 1`+"\n", 20_000))
	noise := make([]byte, 3*gzipChunk)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name    string
		input   []byte
		writes  int // bytes per Write; 0: one Write
		workers int
	}{
		{"empty", nil, 0, 2},
		{"one byte", []byte("x"), 0, 2},
		{"chunk less one", text[:gzipChunk-1], 0, 2},
		{"one chunk", text[:gzipChunk], 0, 2},
		{"chunk and one", text[:gzipChunk+1], 0, 2},
		{"many chunks, small writes", text, 4093, 2},
		{"many chunks, one worker", text, 65536, 1},
		{"incompressible", noise, 100_000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			z := newParallelGzip(&out, tc.workers)
			in := tc.input
			step := tc.writes
			if step == 0 {
				step = max(len(in), 1)
			}
			for len(in) > 0 {
				n := min(step, len(in))
				if k, err := z.Write(in[:n]); err != nil || k != n {
					t.Fatalf("Write: %d, %v", k, err)
				}
				in = in[n:]
			}
			if err := z.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			r, err := gzip.NewReader(&out)
			if err != nil {
				t.Fatalf("gzip header: %v", err)
			}
			r.Multistream(false)
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("gzip body: %v", err)
			}
			if !bytes.Equal(got, tc.input) {
				t.Fatalf("got %d bytes back, want %d (equal: false)", len(got), len(tc.input))
			}
			if rest, _ := io.ReadAll(&out); len(rest) != 0 {
				t.Errorf("%d bytes after the gzip member", len(rest))
			}
		})
	}
	// Compressed in chunks, the text is hardly larger than in one piece.
	var one, par bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&one, gzip.BestSpeed)
	gz.Write(text)
	gz.Close()
	z := newParallelGzip(&par, 2)
	z.Write(text)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if limit := one.Len() * 11 / 10; par.Len() > limit {
		t.Errorf("parallel stream %d bytes, one compressor %d: more than 10%% larger", par.Len(), one.Len())
	}
}

// failAfter fails every write after the first n bytes.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, errors.New("scraper went away")
	}
	f.n -= len(p)
	return len(p), nil
}

// TestParallelGzipStopsWhenOutFails checks that a failed output ends the
// stream: Write fails soon after, Close returns the output's error, and
// nothing hangs.
func TestParallelGzipStopsWhenOutFails(t *testing.T) {
	z := newParallelGzip(&failAfter{n: 100}, 2)
	chunk := bytes.Repeat([]byte("vigil_feature_up 1\n"), 10_000)
	var werr error
	for range 200 { // 38 MB at most: the failure shows long before
		if _, werr = z.Write(chunk); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Error("Write kept succeeding after the output failed")
	}
	if err := z.Close(); err == nil || !strings.Contains(err.Error(), "scraper went away") {
		t.Errorf("Close = %v, want the output's error", err)
	}
	if err := z.Close(); err == nil {
		t.Error("a second Close succeeded")
	}
}
