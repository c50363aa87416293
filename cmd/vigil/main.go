// Command vigil is the Vigil agent: synthetic probes and SLA monitoring per
// feature. `vigil` runs the agent; `vigil demo`, `vigil report` and
// `vigil version` are subcommands. See docs/DESIGN.md for the contract.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
