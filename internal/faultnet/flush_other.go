//go:build !linux

package faultnet

import "net"

// flush is a no-op where the proxy cannot see the kernel's send queue: a reset may then
// drop bytes the proxy had written but the kernel had not yet delivered.
func flush(net.Conn) {}
