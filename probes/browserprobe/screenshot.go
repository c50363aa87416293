package browserprobe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshots saves the full-page screenshots of one check's failed runs as
// <prefix><unix ms>.png in dir and keeps the newest keep of them.
type screenshots struct {
	dir    string
	prefix string // the sanitized check id and "-"
	keep   int
}

// take captures the page as a PNG, saves it and prunes older ones. It is
// bounded by ctx's deadline (the run's) and returns the file's name.
func (s *screenshots) take(ctx, tab context.Context) (string, error) {
	sctx, cancel := context.WithCancel(tab)
	if deadline, ok := ctx.Deadline(); ok {
		sctx, cancel = context.WithDeadline(tab, deadline)
	}
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("capture: %w", err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", fmt.Errorf("screenshot directory: %w", err)
	}
	name := s.prefix + strconv.FormatInt(time.Now().UnixMilli(), 10) + ".png"
	if err := os.WriteFile(filepath.Join(s.dir, name), png, 0o644); err != nil {
		return "", fmt.Errorf("save screenshot: %w", err)
	}
	return name, s.prune()
}

// prune deletes the check's screenshots beyond the newest keep. Only names
// of exactly <prefix><digits>.png are the check's: "svc_f_c-2-<ms>.png" of a
// check named c-2 is not c's.
func (s *screenshots) prune() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list screenshots: %w", err)
	}
	type shot struct {
		name string
		ms   int64
	}
	var shots []shot
	for _, e := range entries {
		ms, ok := strings.CutPrefix(e.Name(), s.prefix)
		if !ok {
			continue
		}
		ms, ok = strings.CutSuffix(ms, ".png")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != ms {
			continue
		}
		shots = append(shots, shot{e.Name(), n})
	}
	if len(shots) <= s.keep {
		return nil
	}
	slices.SortFunc(shots, func(a, b shot) int { return int(b.ms - a.ms) })
	var firstErr error
	for _, old := range shots[s.keep:] {
		if err := os.Remove(filepath.Join(s.dir, old.name)); err != nil && firstErr == nil && !os.IsNotExist(err) {
			firstErr = fmt.Errorf("prune screenshots: %w", err)
		}
	}
	return firstErr
}

// sanitize makes a check id ("svc/feat/check") a file name's start: letters,
// digits, '.', '_' and '-' stay, anything else becomes '_'.
func sanitize(id string) string {
	if id == "" {
		return "check"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, id)
}
