package sshprobe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/vigil-monitoring/vigil/probes"
)

// RFC 4253 4.2: the identification line, and each line a server may send
// before it, is at most 255 bytes with its CR LF. We read at most
// maxPreBannerLines such lines before the identification.
const (
	maxLineBytes      = 255
	maxPreBannerLines = 32
)

// readBanner reads the server's identification line ("SSH-2.0-...", line
// ending removed) from r, skipping the lines allowed before it. consumed is
// every byte it took from r, for x/crypto/ssh to read again.
func readBanner(r *bufio.Reader) (banner string, consumed []byte, err error) {
	for range maxPreBannerLines + 1 {
		var line []byte
		for {
			b, err := r.ReadByte()
			if err != nil {
				return "", nil, fmt.Errorf("read: %w", probes.NetCause(err))
			}
			consumed = append(consumed, b)
			if b == '\n' {
				break
			}
			if len(line) == maxLineBytes {
				return "", nil, fmt.Errorf("a line longer than %d bytes (RFC 4253)", maxLineBytes)
			}
			line = append(line, b)
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if bytes.HasPrefix(line, []byte("SSH-")) {
			return string(line), consumed, nil
		}
	}
	return "", nil, errors.New("no SSH identification line in the first " + fmt.Sprint(maxPreBannerLines+1) + " lines")
}

// replayConn is a connection whose reads return the bytes the banner reader
// took and then the rest of the stream, so x/crypto/ssh sees it from its
// start.
type replayConn struct {
	net.Conn
	r io.Reader
}

func newReplayConn(conn net.Conn, consumed []byte, rest *bufio.Reader) *replayConn {
	return &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(consumed), rest)}
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
