package main

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/vigil-monitoring/vigil/bench/internal/stats"
	"github.com/vigil-monitoring/vigil/bench/internal/workload"
)

// connectKinds are the issue 18 parts, in the order they run.
var connectKinds = []string{"tcp", "icmp"}

// connectRep is one repetition of a tcp or icmp part: Vigil against
// blackbox_exporter (no floor: a bare connect or echo is what both do).
type connectRep struct {
	Vigil    *vigilResult
	Blackbox *peerResult
}

// connectWorkload is the part's load: TCP connects to the HTTP target's
// listeners (connect, then close before sending anything), or ICMP echoes to
// the HTTP target's loopback addresses.
func (h *harness) connectWorkload(kind string) (w *workload.Workload, module string) {
	p := h.plan
	if kind == "tcp" {
		return workload.TCP(p.ConnectChecks, p.ConnectInterval, h.httpAddrs), "tcp_connect"
	}
	var hosts []string
	seen := map[string]bool{}
	for _, a := range h.httpAddrs {
		host, _, err := net.SplitHostPort(a)
		if err == nil && !seen[host] {
			seen[host] = true
			hosts = append(hosts, host)
		}
	}
	return workload.ICMP(p.ConnectChecks, p.ConnectInterval, hosts), "icmp"
}

// connectRep measures one repetition of a tcp or icmp part, the two programs
// back to back in a rotated order.
func (h *harness) connectRep(ctx context.Context, rep int, kind string) (connectRep, error) {
	p := h.plan
	w, module := h.connectWorkload(kind)
	var r connectRep
	err := order(rep,
		func() (err error) {
			h.log("rep %d %s n=%d: vigil", rep+1, kind, p.ConnectChecks)
			r.Vigil, err = h.runVigil(ctx, vigilRun{name: fmt.Sprintf("vigil-%s-r%d", kind, rep+1), load: w,
				window: p.ConnectWindow, firstWait: p.ConnectInterval + p.ConnectInterval/20})
			return err
		},
		func() (err error) {
			h.log("rep %d %s n=%d: blackbox_exporter", rep+1, kind, p.ConnectChecks)
			r.Blackbox, err = h.runBlackbox(ctx, fmt.Sprintf("blackbox-%s-r%d", kind, rep+1), w, module, p.Warmup, p.ConnectWindow)
			return err
		})
	return r, err
}

// connectTitles name the parts in RESULTS.md.
var connectTitles = map[string]string{"tcp": "TCP connect", "icmp": "ICMP echo"}

// writeConnect renders the issue 18 parts: CPU per probe of Vigil and of
// blackbox_exporter, and the ratio against the 0.3x goal.
func writeConnect(b *strings.Builder, r *results) {
	if len(r.Connect) == 0 {
		return
	}
	p := r.Plan
	fmt.Fprintf(b, "## 7. TCP connect and ICMP echo (issue 18)\n\n%d checks every %v, %v windows. TCP: connect and close, to the HTTP target's 32 listeners (blackbox_exporter's `tcp_connect` module). ICMP: one echo of %d data bytes to each of 127.0.0.2-9, unprivileged ping sockets where the kernel allows them (blackbox_exporter's `icmp` module, the same payload size). IPv4 only for both.\n\n",
		p.ConnectChecks, p.ConnectInterval, p.ConnectWindow, workload.ICMPPayloadSize)
	b.WriteString("| part | program | CPU s per 1,000 probes | executed / planned | failed | RSS MiB |\n|---|---|---|---|---|---|\n")
	var notes []string
	for _, kind := range connectKinds {
		reps := r.Connect[kind]
		if len(reps) == 0 {
			continue
		}
		v := func(f func(*vigilResult) float64) stats.Summary {
			return stats.Summarize(collect(reps, func(x connectRep) float64 { return f(x.Vigil) }))
		}
		g := func(f func(*peerResult) float64) stats.Summary {
			return stats.Summarize(collect(reps, func(x connectRep) float64 { return f(x.Blackbox) }))
		}
		fmt.Fprintf(b, "| %s | Vigil | %s | %s | %s | %s |\n", connectTitles[kind],
			fmtSum(v(func(x *vigilResult) float64 { return x.CPUPer1000 }), "%.3f"),
			fmtSum(v(executed), "%.4f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.SpanFailed) }), "%.0f"),
			fmtSum(v(func(x *vigilResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"))
		fmt.Fprintf(b, "| %s | blackbox_exporter | %s | %s | %s | %s |\n", connectTitles[kind],
			fmtSum(g(func(x *peerResult) float64 { return x.CPUPer1000 }), "%.3f"),
			fmtSum(g(func(x *peerResult) float64 { return ratio(float64(x.Completed), float64(x.Planned)) }), "%.3f"),
			fmtSum(g(func(x *peerResult) float64 { return float64(x.Failed + x.Errors + x.Skipped) }), "%.0f"),
			fmtSum(g(func(x *peerResult) float64 { return float64(x.RSS) / (1 << 20) }), "%.1f"))
		for i, x := range reps {
			for _, f := range x.Vigil.Failures {
				notes = append(notes, fmt.Sprintf("%s rep %d Vigil: %s", kind, i+1, f))
			}
			if x.Blackbox.FirstError != "" {
				notes = append(notes, fmt.Sprintf("%s rep %d blackbox_exporter: %d failed, %d errors, %d skipped; first: %s",
					kind, i+1, x.Blackbox.Failed, x.Blackbox.Errors, x.Blackbox.Skipped, x.Blackbox.FirstError))
			}
		}
	}
	b.WriteString("\n| goal | measured | |\n|---|---|---|\n")
	for _, kind := range connectKinds {
		if reps := r.Connect[kind]; len(reps) > 0 {
			s := stats.Summarize(collect(reps, func(x connectRep) float64 { return ratio(x.Vigil.CPUPer1000, x.Blackbox.CPUPer1000) }))
			fmt.Fprintf(b, "| CPU per %s <= 0.3x blackbox_exporter | %s | %s |\n", connectTitles[kind], fmtSum(s, "%.2fx"), ratioVerdict(s, 0.3))
		}
	}
	writeNotes(b, notes)
	b.WriteString("\n")
}
