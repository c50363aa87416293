package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/contract"
)

// TestReportFormats: /api/v1/report answers in every format with its
// Content-Type, takes a month or a day as the CLI does, shows the contract
// figures of Options.Contracts, and gives the same bytes twice.
func TestReportFormats(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	hours, err := contract.ParseHours("Mon-Fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	s := New(newBackend(t), Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1",
		Contracts: func() map[string]contract.Contract {
			return map[string]contract.Contract{"talk/message-send-receive": {Objective: 99.5, Location: seoul, Hours: []contract.Hours{hours}}}
		}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-s.Done()
	})
	get := func(query string) (int, string, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), body
	}
	for _, tc := range []struct{ format, contentType, prefix string }{
		{"", "application/json", "{"},
		{"json", "application/json", "{"},
		{"markdown", "text/markdown; charset=utf-8", "# SLA report: kr-central-1"},
		{"md", "text/markdown; charset=utf-8", "# SLA report: kr-central-1"},
		{"csv", "text/csv; charset=utf-8", "region,service,feature"},
		{"html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"pdf", "application/pdf", "%PDF-"},
	} {
		q := "/api/v1/report?from=2026-11&to=2026-11&format=" + tc.format
		code, ct, body := get(q)
		if code != http.StatusOK || ct != tc.contentType || !bytes.HasPrefix(body, []byte(tc.prefix)) {
			t.Errorf("%s: %d %q %.30q, want 200 %q %q", q, code, ct, body, tc.contentType, tc.prefix)
		}
		if _, _, again := get(q); !bytes.Equal(body, again) {
			t.Errorf("%s: two answers on the same data differ", q)
		}
	}
	_, _, body := get("/api/v1/report?from=2026-11-03&to=2026-11-03")
	var doc struct {
		From, To time.Time
		Digest   string
		Features []struct {
			Contract *struct {
				Objective float64
				Timezone  string
				Coverage  struct{ Seconds float64 }
			}
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.From.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) || !doc.To.Equal(time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("2026-11-03 to 2026-11-03: %s to %s, want the whole day", doc.From, doc.To)
	}
	// 3 Nov 2026 (a Tuesday) in UTC holds 09:00-18:00 KST of 3 Nov (00:00-09:00 UTC)
	// and 09:00-... of 4 Nov KST starts at 00:00 UTC of 4 Nov, outside: 9h covered.
	if len(doc.Features) != 1 || doc.Features[0].Contract == nil || doc.Features[0].Contract.Objective != 0.995 ||
		doc.Features[0].Contract.Timezone != "Asia/Seoul" || doc.Features[0].Contract.Coverage.Seconds != 9*3600 || len(doc.Digest) != 71 {
		t.Errorf("contract figures %+v, digest %q", doc.Features, doc.Digest)
	}
	if code, _, body := get("/api/v1/report?format=docx"); code != http.StatusBadRequest || !bytes.Contains(body, []byte("docx")) {
		t.Errorf("format=docx: %d %s, want 400 naming it", code, body)
	}
}
