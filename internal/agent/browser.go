package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/browserprobe"
)

// Browser checks (issue 19): the agent starts a browserprobe.Pool the first
// time its config has a check (or a journey step, or a canary) that drives
// a browser, and keeps it until shutdown; agent.browser is read then.
// Screenshots of failed runs go to the artifacts directory under the
// storage path, served at /artifacts/.

// artifactsDir is the directory of screenshots under the storage path.
const artifactsDir = "artifacts"

// ensureBrowser starts the pool when cfg needs one and there is none yet;
// a browser that cannot be found is an error naming agent.browser.path.
// a.mu is held (or the agent is being built).
func (a *Agent) ensureBrowser(cfg *config.Config) error {
	if a.browser != nil || !cfg.UsesBrowser() {
		return nil
	}
	pool, err := browserprobe.NewPool(browserprobe.PoolOptions{Path: cfg.Agent.Browser.Path,
		MaxConcurrent: cfg.Agent.Browser.MaxConcurrent, Logger: a.logger})
	if err != nil {
		return fmt.Errorf("%s: agent.browser: %w", cfg.File, err)
	}
	a.browser = pool
	a.logger.Info("browser pool started", "browser", pool.Path(), "max_concurrent", cfg.Agent.Browser.MaxConcurrent)
	return nil
}

// probeOptions are what a check's prober is built with.
func (a *Agent) probeOptions(checkID string) probes.Options {
	opts := probes.Options{AgentID: a.agentID, CheckID: checkID, Logger: a.logger.With("check", checkID),
		ArtifactDir: a.ArtifactDir()}
	if a.browser != nil { // never a typed nil in the interface
		opts.Browser = a.browser
	}
	return opts
}

// ArtifactDir is where failed browser runs leave screenshots ("" without a
// storage path).
func (a *Agent) ArtifactDir() string {
	if a.opts.StoragePath == "" {
		return ""
	}
	return filepath.Join(a.opts.StoragePath, artifactsDir)
}

// makeArtifactDir creates the artifacts directory when a browser is used.
func (a *Agent) makeArtifactDir() error {
	if dir := a.ArtifactDir(); dir != "" && a.browser != nil {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("artifacts: %w", err)
		}
	}
	return nil
}

func (a *Agent) stopBrowser() {
	if a.browser != nil {
		if err := a.browser.Close(); err != nil {
			a.logger.Error("browser pool: close", "err", err)
		}
	}
}
