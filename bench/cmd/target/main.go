// Command target is the HTTP target of the benchmarks: it listens on several
// ports of several 127.0.0.x addresses, answers a small health document on "/"
// and the same exactly 50 ms later on "/slow50", prints {"addrs": [...]} on one
// line, and serves until its standard input closes or it gets SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

func main() {
	first := flag.Int("first-host", 2, "first address is 127.0.0.N")
	hosts := flag.Int("hosts", 8, "number of consecutive 127.0.0.x addresses")
	ports := flag.Int("ports", 4, "ports per address")
	flag.Parse()
	if err := run(*first, *hosts, *ports); err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}

func run(first, hostCount, ports int) error {
	hosts, err := target.Hosts(first, hostCount)
	if err != nil {
		return err
	}
	s, err := target.ServeHTTP(hosts, ports)
	if err != nil {
		return err
	}
	return target.RunUntilDone(s, os.Stdout)
}
