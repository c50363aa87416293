package tcpprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/vigil-monitoring/vigil/probes"
)

// lineReader reads lines from the connection for expect steps, each step
// reading at most limit bytes.
type lineReader struct {
	r     *bufio.Reader
	limit int
}

// readBufSize is the buffered reader's size; longer lines are assembled.
const readBufSize = 4096

func newLineReader(r io.Reader, limit int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, readBufSize), limit: limit}
}

// expect reads lines until one matches re and returns it with the match's
// submatch indexes. A line is cut at "\n", without it and a "\r" before it;
// the text after the last "\n" counts as a line when the connection closes.
func (l *lineReader) expect(re *regexp.Regexp) (line []byte, match []int, err error) {
	budget := l.limit
	var cur []byte
	for {
		chunk, err := l.r.ReadSlice('\n')
		budget -= len(chunk)
		if budget < 0 {
			return nil, nil, fmt.Errorf("no line matched within max_read_bytes (%d)", l.limit)
		}
		cur = append(cur, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue // a long line: keep assembling it
		case err != nil && (!errors.Is(err, io.EOF) || len(cur) == 0):
			if errors.Is(err, io.EOF) {
				return nil, nil, errors.New("connection closed before a line matched")
			}
			return nil, nil, fmt.Errorf("read: %w", probes.NetCause(err))
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(cur, []byte("\n")), []byte("\r"))
		if m := re.FindSubmatchIndex(line); m != nil {
			return line, m, nil
		}
		if err != nil { // EOF after a last unterminated line
			return nil, nil, errors.New("connection closed before a line matched")
		}
		cur = cur[:0]
	}
}
