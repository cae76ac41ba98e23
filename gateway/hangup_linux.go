package gateway

import (
	"sync"

	"golang.org/x/sys/unix"
)

// hangups watches the sockets of blocked connections (blocked.go) for their
// client going away, with one epoll instance and one goroutine per Server,
// both alive only while some connection is watched. EPOLLRDHUP reports a
// FIN even behind unread data, and EPOLLHUP/EPOLLERR a reset, without
// reading the socket, so the unread lines stay where backpressure wants
// them: in the kernel.
type hangups struct {
	mu      sync.Mutex
	running bool
	epfd    int
	efd     int // eventfd that wakes the loop to see whether it is still needed
	conns   map[int32]*conn
	next    int32
}

// watch starts watching c's socket and returns the watch's token; 0 if
// it cannot be watched.
func (h *hangups) watch(c *conn) int32 {
	if c.raw == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running && !h.start(c.srv) {
		return 0
	}
	h.next++
	if h.next <= 0 {
		h.next = 1
	}
	tok := h.next
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLET, Fd: tok}
		err = unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr != nil || err != nil {
		h.idleLocked()
		return 0
	}
	h.conns[tok] = c
	return tok
}

// unwatch stops watching c.
func (h *hangups) unwatch(c *conn, tok int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[tok] != c {
		return
	}
	delete(h.conns, tok)
	// A socket closed meanwhile left the epoll set with its last close.
	c.raw.Control(func(fd uintptr) {
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	h.idleLocked()
}

// idleLocked wakes the loop to end if nothing is watched.
func (h *hangups) idleLocked() {
	if len(h.conns) == 0 {
		unix.Write(h.efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

// start opens the epoll instance and starts the loop; h.mu held. The
// loop counts among the server's routines: a watched connection's
// goroutine is alive, so the count is not zero here.
func (h *hangups) start(s *Server) bool {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 0}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return false
	}
	h.epfd, h.efd, h.running = epfd, efd, true
	if h.conns == nil {
		h.conns = make(map[int32]*conn)
	}
	s.routines.Add(1)
	go h.loop(s, epfd, efd)
	return true
}

// loop reports hangups until nothing is watched.
func (h *hangups) loop(s *Server, epfd, efd int) {
	defer s.routines.Done()
	events := make([]unix.EpollEvent, 32)
	type hang struct {
		c     *conn
		reset bool
	}
	var hung []hang
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err != nil && err != unix.EINTR {
			s.logger().Error("hangup watch failed; blocked clients are noticed only when the uplink lets them go", "err", err)
		}
		hung = hung[:0]
		h.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == 0 {
				var b [8]byte
				unix.Read(efd, b[:])
				continue
			}
			if c := h.conns[ev.Fd]; c != nil {
				hung = append(hung, hang{c, ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0})
			}
		}
		if len(h.conns) == 0 || (err != nil && err != unix.EINTR) {
			h.running = false
			clear(h.conns)
			unix.Close(epfd)
			unix.Close(efd)
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		for _, x := range hung {
			x.c.hungUp(x.reset)
		}
	}
}
