package httpprobe

import (
	"encoding/binary"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// holdStamps keeps one socket with receive timestamps open for the life of
// the process. The kernel stamps received packets only while some socket asks
// for it, and turns that on and off by patching its own code, deferred to a
// work queue: without a socket that stays, each probe's connection would turn
// it on and, closing, off again, and its first packets could go unstamped.
// It waits (50 ms at most, once) until a datagram to itself comes stamped, so
// that the first probes are stamped too; New calls it, outside any run.
var holdStamps = sync.OnceFunc(func() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	self := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) != nil || syscall.Bind(fd, self) != nil {
		syscall.Close(fd)
		return
	}
	// The socket stays open; only the check below needs its address.
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return
	}
	var buf [1]byte
	var oob [64]byte
	for range 50 {
		if syscall.Sendto(fd, buf[:], 0, sa) != nil {
			return
		}
		_, oobn, _, _, err := syscall.Recvmsg(fd, buf[:], oob[:], 0)
		if err != nil || rxTime(oob[:oobn]) != 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
})

// rxTime finds the SCM_TIMESTAMPNS message in oob and returns its time in
// Unix nanoseconds, 0 if there is none. It reads the headers in place, as
// syscall.ParseSocketControlMessage would, without its allocations.
func rxTime(oob []byte) int64 {
	const word = strconv.IntSize / 8 // CMSG_ALIGN's unit: a long
	align := func(n int) int { return (n + word - 1) &^ (word - 1) }
	hdr := align(syscall.SizeofCmsghdr)
	for len(oob) >= hdr {
		var length, level, typ int
		if word == 8 {
			length = int(binary.NativeEndian.Uint64(oob))
			level, typ = int(int32(binary.NativeEndian.Uint32(oob[8:]))), int(int32(binary.NativeEndian.Uint32(oob[12:])))
		} else {
			length = int(binary.NativeEndian.Uint32(oob))
			level, typ = int(int32(binary.NativeEndian.Uint32(oob[4:]))), int(int32(binary.NativeEndian.Uint32(oob[8:])))
		}
		if length < hdr || length > len(oob) {
			return 0
		}
		if data := oob[hdr:length]; level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS {
			// struct timespec: two longs.
			switch len(data) {
			case 16:
				return int64(binary.NativeEndian.Uint64(data))*1e9 + int64(binary.NativeEndian.Uint64(data[8:]))
			case 8:
				return int64(int32(binary.NativeEndian.Uint32(data)))*1e9 + int64(int32(binary.NativeEndian.Uint32(data[4:])))
			}
			return 0
		}
		oob = oob[min(align(length), len(oob)):]
	}
	return 0
}
