package target

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Announcement is the one JSON line a target program prints on stdout once it
// serves: the addresses the harness points probers at.
type Announcement struct {
	Addrs []string `json:"addrs"`
}

// RunUntilDone prints s's announcement on out, then serves until stdin closes
// (the harness's way of stopping it) or SIGINT/SIGTERM, and closes s.
func RunUntilDone(s *Servers, out io.Writer) error {
	if err := json.NewEncoder(out).Encode(Announcement{Addrs: s.Addrs}); err != nil {
		_ = s.Close()
		return fmt.Errorf("announce addresses: %w", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-sigs:
	}
	return s.Close()
}
