package tlsconf

import "syscall"

// syscallReset is what a read gets when the server closed with unread data.
const syscallReset = syscall.ECONNRESET
