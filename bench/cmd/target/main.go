// Command target is the HTTP target of the benchmarks: it listens on several
// ports of several 127.0.0.x addresses, answers a small health document on "/"
// and the same exactly 50 ms later on "/slow50", prints {"addrs": [...]} on one
// line, and serves until its standard input closes or it gets SIGTERM.
//
// With -raw it answers every request with the health document from a
// canned HTTP/1.1 response and closes at once, without net/http: at 5,000
// connections a second on the probers' two cores, net/http's parsing and
// its half-second linger before closing each connection are load the
// probers would share (raw serves no /slow50: the fidelity target stays on
// net/http).
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
	raw := flag.Bool("raw", false, "answer with a canned response and close, without net/http")
	flag.Parse()
	if err := run(*first, *hosts, *ports, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}

func run(first, hostCount, ports int, raw bool) error {
	hosts, err := target.Hosts(first, hostCount)
	if err != nil {
		return err
	}
	if raw {
		r, err := serveRaw(hosts, ports)
		if err != nil {
			return err
		}
		runErr := target.RunUntilDone(&target.Servers{Addrs: r.addrs}, os.Stdout)
		r.close()
		return runErr
	}
	s, err := target.ServeHTTP(hosts, ports)
	if err != nil {
		return err
	}
	return target.RunUntilDone(s, os.Stdout)
}
