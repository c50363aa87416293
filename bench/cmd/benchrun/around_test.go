package main

import (
	"math"
	"testing"
	"time"
)

func TestParseCPULine(t *testing.T) {
	tests := []struct {
		text               string
		idle, steal, total int64
		wantErr            bool
	}{
		{"cpu  68322 690 24653 73137 10829 0 5206 663 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n", 73137 + 10829, 663, 68322 + 690 + 24653 + 73137 + 10829 + 5206 + 663, false},
		// Guest time is inside user: not added twice.
		{"cpu 100 0 0 300 0 0 0 0 50 0\n", 300, 0, 400, false},
		{"cpu 1 2 3\n", 0, 0, 0, true},
		{"cpu0 1 2 3 4 5 6 7 8\n", 0, 0, 0, true},
		{"cpu 1 2 3 x 5 6 7 8\n", 0, 0, 0, true},
	}
	for _, tt := range tests {
		idle, steal, total, err := parseCPULine([]byte(tt.text))
		if (err != nil) != tt.wantErr || idle != tt.idle || steal != tt.steal || total != tt.total {
			t.Errorf("parseCPULine(%q) = %d, %d, %d, %v; want %d, %d, %d (error: %v)",
				tt.text, idle, steal, total, err, tt.idle, tt.steal, tt.total, tt.wantErr)
		}
	}
}

func TestParseTimeWait(t *testing.T) {
	tests := []struct {
		text    string
		want    int
		wantErr bool
	}{
		{"sockets: used 28\nTCP: inuse 11 orphan 0 tw 6 alloc 14 mem 66\nUDP: inuse 0 mem 0\n", 6, false},
		{"sockets: used 28\nTCP: inuse 1 orphan 0 tw 131072 alloc 2 mem 1\n", 131072, false},
		{"sockets: used 28\nTCP: inuse 1 orphan 0 alloc 2 mem 1\n", 0, true},
		{"sockets: used 28\nUDP: inuse 0 mem 0\n", 0, true},
		{"TCP: inuse 1 tw many\n", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTimeWait([]byte(tt.text))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseTimeWait(%q) = %d, %v; want %d (error: %v)", tt.text, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAround(t *testing.T) {
	at := time.Unix(1000, 0)
	a := aroundSample{At: at, Targets: 2 * time.Second, Harness: time.Second, Idle: 1000, Steal: 10, Total: 5000, TimeWait: 100, ListenDrops: 7, TimeWaitOverflow: 1000}
	b := aroundSample{At: at.Add(10 * time.Second), Targets: 5500 * time.Millisecond, Harness: 1250 * time.Millisecond, Idle: 1500, Steal: 30, Total: 7000, TimeWait: 40000, ListenDrops: 9, TimeWaitOverflow: 1500}
	got := around(a, b)
	want := aroundWindow{TargetCPUSeconds: 3.5, HarnessCPUSeconds: 0.25, IdleShare: 0.25, StealShare: 0.01, TimeWait: 40000, ListenDrops: 2, TimeWaitOverflow: 500}
	if math.Abs(got.TargetCPUSeconds-want.TargetCPUSeconds) > 1e-9 || math.Abs(got.HarnessCPUSeconds-want.HarnessCPUSeconds) > 1e-9 || math.Abs(got.IdleShare-want.IdleShare) > 1e-9 ||
		math.Abs(got.StealShare-want.StealShare) > 1e-9 || got.TimeWait != want.TimeWait ||
		got.ListenDrops != want.ListenDrops || got.TimeWaitOverflow != want.TimeWaitOverflow {
		t.Errorf("around = %+v, want %+v", got, want)
	}
	if got := around(a, a); got.IdleShare != 0 || got.TargetCPUSeconds != 0 {
		t.Errorf("around of one sample = %+v, want zeros", got)
	}
	if perThousand(3, 0) != 0 || perThousand(3, 1500) != 2 {
		t.Errorf("perThousand: %v, %v; want 0, 2", perThousand(3, 0), perThousand(3, 1500))
	}
}

func TestParseTcpExt(t *testing.T) {
	const netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPTimeWaitOverflow\nTcpExt: 0 3 5 74078\nIpExt: InNoRoutes\nIpExt: 0\n"
	got, err := parseTcpExt([]byte(netstat), "ListenDrops", "TCPTimeWaitOverflow")
	if err != nil || len(got) != 2 || got[0] != 5 || got[1] != 74078 {
		t.Errorf("parseTcpExt = %v, %v; want [5 74078]", got, err)
	}
	for _, bad := range []string{
		"IpExt: InNoRoutes\nIpExt: 0\n",                        // no TcpExt
		"TcpExt: ListenDrops\nTcpExt: x\n",                     // not a number
		"TcpExt: ListenDrops\n",                                // names without values
		"TcpExt: ListenOverflows\nTcpExt: 3\n",                 // counter missing
		"TcpExt: ListenDrops TCPTimeWaitOverflow\nTcpExt: 1\n", // values short
	} {
		if got, err := parseTcpExt([]byte(bad), "ListenDrops", "TCPTimeWaitOverflow"); err == nil {
			t.Errorf("parseTcpExt(%q) = %v, want an error", bad, got)
		}
	}
}
