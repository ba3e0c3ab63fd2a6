package faultnet

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// siocoutq is the ioctl that reports the bytes in a socket's send queue that the peer has
// not yet acknowledged (SIOCOUTQ, the same number as TIOCOUTQ).
const siocoutq = 0x5411

// flush waits (up to a second) until the peer's kernel has acknowledged every byte written
// to conn, so that a reset right after it cannot discard bytes the proxy already forwarded:
// the peer then reads exactly the bytes that passed, and the reset after them.
func flush(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	for {
		var queued int32
		var errno syscall.Errno
		err := raw.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutq, uintptr(unsafe.Pointer(&queued)))
		})
		if err != nil || errno != 0 || queued == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}
