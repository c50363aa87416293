//go:build !linux

package browserprobe

import (
	"os"
	"os/exec"
)

// procGroup does nothing off Linux: chromedp kills the browser's main
// process, and its children end when they lose it.
type procGroup struct{}

func (g *procGroup) prepare(cmd *exec.Cmd) {}
func (g *procGroup) setPID(p *os.Process)  {}
func (g *procGroup) kill()                 {}

// killProfileUsers needs /proc; off Linux it does nothing.
func killProfileUsers(dir string) {}

// profileProcesses needs /proc; off Linux it finds nothing.
func profileProcesses(dir string) []int { return nil }

// processAlive cannot tell off Linux: every pool directory counts as in use.
func processAlive(pid int) bool { return true }
