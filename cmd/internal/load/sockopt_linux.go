package load

import "syscall"

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from <linux/in.h>; package
// syscall does not name it.
const ipBindAddressNoPort = 24

// bindAddressNoPort lets a socket bound to a source address pick its port
// at connect time, so a port is unique per destination rather than per
// source address, and one source address serves as many connections as an
// unbound socket would. It is an optimisation: a kernel that refuses it
// still dials, with fewer ports per source address.
func bindAddressNoPort(network, address string, c syscall.RawConn) error {
	return c.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}
