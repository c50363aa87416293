// Command dnstarget is the DNS target of the benchmarks: miekg/dns servers on
// UDP ports of several 127.0.0.x addresses answering any A query with two
// records. It prints {"addrs": [...]} on one line and serves until its standard
// input closes or it gets SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

func main() {
	first := flag.Int("first-host", 2, "first address is 127.0.0.N")
	hosts := flag.Int("hosts", 4, "number of consecutive 127.0.0.x addresses")
	ports := flag.Int("ports", 2, "ports per address")
	flag.Parse()
	if err := run(*first, *hosts, *ports); err != nil {
		fmt.Fprintln(os.Stderr, "dnstarget:", err)
		os.Exit(1)
	}
}

func run(first, hostCount, ports int) error {
	hosts, err := target.Hosts(first, hostCount)
	if err != nil {
		return err
	}
	s, err := target.ServeDNS(hosts, ports)
	if err != nil {
		return err
	}
	return target.RunUntilDone(s, os.Stdout)
}
