package httpprobe

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vigil-monitoring/vigil/probes"
)

// buffers holds the buffers a body is read into when a body regexp needs all of
// it, and requests are written into; pooled across probers so that thousands
// of checks share a few.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps the pool from pinning a buffer grown by one huge body.
const maxPooledBuffer = 1 << 20

// gzipReaders holds gzip readers: a new one costs tens of KiB of decoder state.
var gzipReaders sync.Pool

// checkBody reads the body, decoded per compression, never more than
// body_size_limit+1 bytes, and applies the body regexps. It returns the bytes
// read and the first failure. A body needs to be held in memory only when a
// regexp must see it or captured is set (a journey step extracts from it, and
// gets a copy); otherwise it is counted and dropped.
func (p *Prober) checkBody(raw io.Reader, captured *probes.Captured) (int64, error) {
	body, release, err := p.decode(raw)
	if err != nil {
		return 0, err
	}
	defer release()
	limit := p.plan.bodySizeLimit
	limited := &io.LimitedReader{R: body, N: limit + 1}

	rules := p.plan.responseRules()
	if len(rules.bodyMatch) == 0 && len(rules.bodyNotMatch) == 0 && captured == nil {
		n, err := io.Copy(io.Discard, limited)
		if err != nil {
			return n, fmt.Errorf("read body: %w", err)
		}
		if n > limit {
			return n, failf("body exceeds body_size_limit %d bytes", limit)
		}
		return n, nil
	}

	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buffers.Put(buf)
		}
	}()
	n, err := buf.ReadFrom(limited)
	if err != nil {
		return n, fmt.Errorf("read body: %w", err)
	}
	if n > limit {
		return n, failf("body exceeds body_size_limit %d bytes", limit)
	}
	if captured != nil {
		captured.Body = bytes.Clone(buf.Bytes())
	}
	for _, re := range rules.bodyMatch {
		if re.Match(buf.Bytes()) {
			return n, failf("body matched fail_if_body_matches_regexp %q", re)
		}
	}
	for _, re := range rules.bodyNotMatch {
		if !re.Match(buf.Bytes()) {
			return n, failf("body did not match fail_if_body_not_matches_regexp %q", re)
		}
	}
	return n, nil
}

// decode wraps body in the decoder of the configured compression. Like
// blackbox_exporter it trusts the configuration, not Content-Encoding: a body
// that is not in that coding fails the run. An empty body decodes to nothing.
func (p *Prober) decode(body io.Reader) (io.Reader, func(), error) {
	noop := func() {}
	switch p.plan.compression {
	case "gzip":
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		release := func() { gzipReaders.Put(zr) }
		if err := zr.Reset(body); err != nil {
			release()
			if errors.Is(err, io.EOF) {
				return bytes.NewReader(nil), noop, nil
			}
			return nil, noop, fmt.Errorf("decode gzip body: %w", err)
		}
		return zr, release, nil
	case "deflate":
		// HTTP's "deflate" is zlib-wrapped (RFC 9110), but some servers send raw
		// DEFLATE; like browsers, sniff the zlib header and take either.
		br := bufio.NewReaderSize(body, 16)
		head, err := br.Peek(2)
		if len(head) == 0 && errors.Is(err, io.EOF) {
			return bytes.NewReader(nil), noop, nil
		}
		if len(head) == 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, noop, fmt.Errorf("decode deflate body: %w", err)
			}
			return zr, noop, nil
		}
		return flate.NewReader(br), noop, nil
	}
	return body, noop, nil
}
