// Package icmpprobe is the icmp probe kind: one echo request per run to a host
// over IPv4 or IPv6, and its reply. It opens an unprivileged ping socket when
// the kernel allows one (sysctl net.ipv4.ping_group_range, which covers IPv6
// too) and a raw socket otherwise (root or CAP_NET_RAW); when neither is
// allowed the error names both.
//
// Files: config.go (the `icmp:` block and its validation), icmpprobe.go (the
// run), socket_linux.go (opening the sockets and reading replies with their
// TTL), socket_other.go (other systems: not supported).
package icmpprobe
