package httpprobe

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// TestCapture: with Options.Capture a run keeps the body, the final
// response's headers and every cookie set on the way (a redirect's too), for
// a journey to extract from; without it, nothing.
func TestCapture(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-1"})
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	mux.HandleFunc("/home", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
		w.Header().Set("X-Request-Id", "r-9")
		w.Write([]byte(`{"token":"t0k"}`))
	})
	srv := newServer(t, mux)
	for _, capture := range []bool{true, false} {
		cfg := &Config{URL: srv.URL + "/login"}
		p, err := New(cfg, probes.Options{CheckID: "s/f/c", Capture: capture})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r := p.Probe(ctx)
		cancel()
		wantSuccess(t, r)
		if !capture {
			if r.Captured != nil {
				t.Errorf("Captured = %+v without Capture", r.Captured)
			}
			continue
		}
		c := r.Captured
		if c == nil {
			t.Fatal("Captured is nil with Capture")
		}
		if string(c.Body) != `{"token":"t0k"}` || c.Cookies["session"] != "s-1" || c.Cookies["theme"] != "dark" ||
			http.Header(c.Header).Get("X-Request-Id") != "r-9" {
			t.Errorf("Captured = body %q cookies %v header %v", c.Body, c.Cookies, c.Header)
		}
	}
}
