package sshprobe

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzReadBanner: whatever a server sends, the banner reader takes at most
// its bound of lines and bytes, and returns an "SSH-" line of at most 255
// bytes whose bytes it reports as consumed.
func FuzzReadBanner(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	f.Add([]byte("hello\r\nSSH-2.0-Go\r\nrest"))
	f.Add([]byte(strings.Repeat("x", 300)))
	f.Add([]byte(strings.Repeat("\n", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		banner, consumed, err := readBanner(bufio.NewReader(bytes.NewReader(data)))
		if len(consumed) > (maxPreBannerLines+1)*(maxLineBytes+2) {
			t.Fatalf("consumed %d bytes", len(consumed))
		}
		if err != nil {
			return
		}
		if !strings.HasPrefix(banner, "SSH-") || len(banner) > maxLineBytes || !bytes.HasPrefix(data, consumed) {
			t.Fatalf("banner %q, consumed %q of %q", banner, consumed, data)
		}
	})
}
