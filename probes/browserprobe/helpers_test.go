package browserprobe

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// newPool makes a pool on the machine's Chromium (skipping loudly without
// one) whose profiles live in the test's temp dir. When the test ends it
// closes the pool and checks that no browser process is left.
func newPool(t *testing.T, maxConcurrent int) *Pool {
	t.Helper()
	path := testenv.NeedTool(t, "chromium", "chromium")
	pool, err := NewPool(PoolOptions{Path: path, MaxConcurrent: maxConcurrent, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pool.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNoBrowsers(t, pool)
		if _, err := os.Stat(pool.root); !os.IsNotExist(err) {
			t.Errorf("pool directory %s still there after Close (%v)", pool.root, err)
		}
	})
	return pool
}

// assertNoBrowsers fails the test when a process uses one of the pool's
// profiles, a chromium is still a child of the test, or a profile directory
// is left. Release is synchronous: nothing is waited for.
func assertNoBrowsers(t *testing.T, pool *Pool) {
	t.Helper()
	if pids := profileProcesses(pool.ProfilePrefix()); len(pids) > 0 {
		t.Errorf("%d processes still use the pool's profiles: %v", len(pids), pids)
	}
	if kids := chromiumChildren(); len(kids) > 0 {
		t.Errorf("chromium children of the test still running: %v", kids)
	}
	if entries, err := os.ReadDir(pool.root); err == nil && len(entries) > 0 {
		t.Errorf("%d profile directories left in %s", len(entries), pool.root)
	}
}

// chromiumChildren lists the live (not zombie) chromium processes whose
// parent is the test.
func chromiumChildren() []string {
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		comm := s[open+1 : close]
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 || fields[1] != self || fields[0] == "Z" {
			continue
		}
		if strings.Contains(comm, "chrom") {
			out = append(out, e.Name()+" "+comm)
		}
	}
	return out
}

// app is the loopback site the tests open.
type app struct {
	*httptest.Server
	slow chan struct{} // gets a value when /slow is requested
}

const mapPage = `<!doctype html><html><head><title>Map</title></head><body>
<h1>Road view</h1>
<input id="q"><div id="echo"></div>
<button class="go" onclick="document.getElementById('roadview').style.display='block'">Go</button>
<div id="roadview" style="display:none">panorama of Pangyo</div>
<img id="pano" src="/tiles/1.png" width="200" height="100">
<script>
document.getElementById('q').addEventListener('input', e => {
	document.getElementById('echo').textContent = 'you typed ' + e.target.value;
});
</script>
</body></html>`

func newApp(t *testing.T) *app {
	t.Helper()
	var tile bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{200, 30, 30, 255})
	if err := png.Encode(&tile, img); err != nil {
		t.Fatal(err)
	}
	a := &app{slow: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	html := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /{$}", html(mapPage))
	mux.HandleFunc("GET /tiles/1.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(tile.Bytes())
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /jserror", html(`<!doctype html><h1>Road view</h1><script>missingFunction();</script>`))
	mux.HandleFunc("GET /consoleerror", html(`<!doctype html><h1>Road view</h1><script>console.error("tiles failed", 3);</script>`))
	mux.HandleFunc("GET /brokenimage", html(`<!doctype html><h1>Road view</h1><img src="/missing.png">`))
	mux.HandleFunc("GET /down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.slow <- struct{}{}:
		default:
		}
		fmt.Fprint(w, `<!doctype html><h1>Waiting</h1>`)
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")
