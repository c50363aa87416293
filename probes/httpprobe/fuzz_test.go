package httpprobe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"
)

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FuzzReadResponse feeds arbitrary bytes to the direct path's response
// reader as the server's answer: it must never panic, never read more of a
// head than max_response_header_bytes allows (per response, 1xx included) nor
// more of a body than body_size_limit, and return a response or an error.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: /next\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Endless: " + strings.Repeat("a", 9000),
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Fill: "+strings.Repeat("b", 100)+"\r\n", 100) + "\r\n",
		"HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("z", 70000),
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	const headLimitBytes, bodyLimit = 4096, 1 << 16
	p := &Prober{plan: &plan{maxHeaderBytes: headLimitBytes, bodySizeLimit: bodyLimit}}
	target, err := url.Parse("http://vigil.test/")
	if err != nil {
		f.Fatal(err)
	}
	req := (&hop{method: "GET", url: target, header: defaultHeader}).newRequest()
	f.Fuzz(func(t *testing.T, data []byte) {
		src := &countingReader{r: bytes.NewReader(data)}
		head := headLimit{r: src, left: headLimitBytes}
		br := bufio.NewReader(&head)
		resp, err := p.readResponse(br, req, &head, newRequestTrace(time.Now()))
		// The first Peek and each of at most maxInterim heads read at most
		// the limit.
		if most := int64(headLimitBytes * (maxInterim + 1)); src.n > most {
			t.Fatalf("read %d bytes of heads, want at most %d", src.n, most)
		}
		var exceeded *failure
		if errors.As(err, &exceeded) && src.n < headLimitBytes {
			t.Fatalf("%v after only %d bytes", err, src.n)
		}
		if err != nil {
			if resp != nil {
				t.Fatalf("response and error %v", err)
			}
			return
		}
		if resp == nil {
			t.Fatal("no response and no error")
		}
		n, _ := p.checkBody(resp.Body, nil)
		if n > bodyLimit+1 {
			t.Fatalf("read %d body bytes, want at most %d", n, bodyLimit+1)
		}
		resp.Body.Close()
	})
}
