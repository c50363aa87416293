package probes

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// TLSInfo holds what a TLS handshake learned: the tls kind's result, and the
// tcp, grpc and ssh-free kinds' when they spoke TLS.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	CipherSuite string // "TLS_AES_128_GCM_SHA256"
	// CertExpiry is the earliest NotAfter in the verified chain (the latest
	// such when Go verified several), or in the presented certificates when
	// verification was skipped.
	CertExpiry time.Time
	// Subject and Issuer are the leaf's, in RFC 2253 form ("CN=talk.example.com").
	Subject string
	Issuer  string
	// SANs are the leaf's DNS names, then its IP addresses, as text.
	SANs []string
}

// NewTLSInfo describes a completed handshake.
func NewTLSInfo(state *tls.ConnectionState) *TLSInfo {
	info := &TLSInfo{
		Version:     tls.VersionName(state.Version),
		CipherSuite: tls.CipherSuiteName(state.CipherSuite),
		CertExpiry:  CertExpiry(state),
	}
	if len(state.PeerCertificates) > 0 {
		leaf := state.PeerCertificates[0]
		info.Subject = leaf.Subject.String()
		info.Issuer = leaf.Issuer.String()
		info.SANs = append(info.SANs, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			info.SANs = append(info.SANs, ip.String())
		}
	}
	return info
}

// CertExpiry is when the connection's certificates stop verifying: the
// earliest NotAfter of the verified chain (the latest of those when Go
// verified several, e.g. through a cross-signed root), or of the presented
// certificates when verification was skipped.
func CertExpiry(state *tls.ConnectionState) time.Time {
	if len(state.VerifiedChains) == 0 {
		return earliestNotAfter(state.PeerCertificates)
	}
	var latest time.Time
	for _, chain := range state.VerifiedChains {
		if e := earliestNotAfter(chain); e.After(latest) {
			latest = e
		}
	}
	return latest
}

func earliestNotAfter(chain []*x509.Certificate) time.Time {
	var earliest time.Time
	for _, cert := range chain {
		if earliest.IsZero() || cert.NotAfter.Before(earliest) {
			earliest = cert.NotAfter
		}
	}
	return earliest
}

// TCPInfo holds what a tcp run learned.
type TCPInfo struct {
	// Addr is the "ip:port" connected to.
	Addr string
	// Exchanges counts the query_response steps that completed.
	Exchanges int
}

// ICMPInfo holds what an icmp run learned.
type ICMPInfo struct {
	// Socket is how the echo was sent: "unprivileged" (a ping socket) or "raw".
	Socket string
	// ReplyTTL is the TTL (hop limit for IPv6) of the echo reply; -1 when the
	// kernel did not report it.
	ReplyTTL int
}

// SSHInfo holds what an ssh run learned.
type SSHInfo struct {
	// Banner is the server's identification line, e.g. "SSH-2.0-OpenSSH_9.6".
	Banner string
	// HostKeyFingerprint is the SHA256 fingerprint of the server's host key
	// ("SHA256:..."); empty when the run stopped at the banner.
	HostKeyFingerprint string
	// Authenticated is true when the configured user logged in.
	Authenticated bool
}

// GRPCInfo holds what a grpc health check learned.
type GRPCInfo struct {
	// ServingStatus is the health answer: "SERVING", "NOT_SERVING",
	// "SERVICE_UNKNOWN", "UNKNOWN"; empty when there was no answer.
	ServingStatus string
	// StatusCode is the call's gRPC status code as grpc-go names it: "OK",
	// "Unavailable", "NotFound", "DeadlineExceeded", ...
	StatusCode string
	// Code is the same code as a number (0 OK, 5 NotFound, 14 Unavailable),
	// as blackbox_exporter's probe_grpc_status_code shows it.
	Code int
}
