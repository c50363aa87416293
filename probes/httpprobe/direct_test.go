package httpprobe

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// recordingServer answers every connection with response after reading a
// request head and its Content-Length body, and sends the bytes it read on
// the returned channel.
func recordingServer(t *testing.T, response string) (url string, requests <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for { // ends when the listener is closed
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var raw bytes.Buffer
			req, err := http.ReadRequest(bufio.NewReader(ioTee{c, &raw}))
			if err == nil {
				_, _ = raw.ReadFrom(req.Body) // what is left of the body
				_, _ = c.Write([]byte(response))
			}
			c.Close()
			got <- raw.Bytes()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String(), got
}

// ioTee copies what is read from c into w.
type ioTee struct {
	c net.Conn
	w *bytes.Buffer
}

func (t ioTee) Read(p []byte) (int, error) {
	n, err := t.c.Read(p)
	t.w.Write(p[:n])
	return n, err
}

// TestDirectHeadIsWhatARunWrites: the request rendered once per prober is,
// byte for byte, the one a run builds and writes when it has none, and the
// response is read for the request's method (a HEAD response announces a
// body it does not send: read as if for GET, the run would fail on EOF).
func TestDirectHeadIsWhatARunWrites(t *testing.T) {
	const response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name     string
		cfg      Config
		path     string
		rendered bool // the prober keeps a prerendered request
	}{
		{"get", Config{}, "/health", true},
		{"head", Config{Method: http.MethodHead}, "/", true},
		{"headers-host-bearer-query", Config{Headers: map[string]string{"Accept": "application/json",
			"X-Trace": "a, b", "Host": "svc.example"}, BearerToken: "t0ken"}, "/v1/status?deep=1&x=%20", true},
		{"post-without-body", Config{Method: http.MethodPost}, "/ping", true},
		{"post-with-body", Config{Method: http.MethodPost, Body: `{"q":1}`}, "/q", false},
		{"custom-method", Config{Method: "PURGE"}, "/cache", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "ok"
			if tt.cfg.Method == http.MethodHead {
				body = ""
			}
			url, requests := recordingServer(t, response+body)
			cfg := tt.cfg
			cfg.URL = url + tt.path
			p := newProber(t, &cfg)
			if got := p.directHead != nil; got != tt.rendered {
				t.Fatalf("prerendered request: %v, want %v", got, tt.rendered)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			run := func() []byte {
				t.Helper()
				r := p.Probe(ctx)
				if !r.Success {
					t.Fatalf("run failed: %v", r.Err)
				}
				if want := int64(len(body)); r.HTTP.ContentLength != want {
					t.Errorf("content length %d, want %d", r.HTTP.ContentLength, want)
				}
				return <-requests
			}
			first := run()
			p.directHead = nil // the run builds the request itself
			if built := run(); !bytes.Equal(first, built) {
				t.Errorf("prerendered request:\n%q\nbuilt per run:\n%q", first, built)
			}
			if !bytes.Contains(first, []byte("Connection: close\r\n")) {
				t.Errorf("request without Connection: close: %q", first)
			}
		})
	}
}
