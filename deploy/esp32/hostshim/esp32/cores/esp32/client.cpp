// NetworkClient over POSIX sockets. As with lwIP on the board, the socket is
// non-blocking once connected: available() and read() never wait, write()
// waits until all is sent or the peer is gone, and connected() turns false
// once the peer closed and everything it sent has been read.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostshim_tcp.h"

HOSTSHIM_TCP_CLIENT::~HOSTSHIM_TCP_CLIENT() { HOSTSHIM_TCP_CLIENT::stop(); }

int HOSTSHIM_TCP_CLIENT::connect(IPAddress ip, uint16_t port) { return connect(ip, port, 3000); }

int HOSTSHIM_TCP_CLIENT::connect(IPAddress ip, uint16_t port, int32_t timeout_ms) {
  return connect(ip.toString().c_str(), port, timeout_ms);
}

int HOSTSHIM_TCP_CLIENT::connect(const char *host, uint16_t port) { return connect(host, port, 3000); }

int HOSTSHIM_TCP_CLIENT::connect(const char *host, uint16_t port, int32_t timeout_ms) {
  return tcpConnect(host, port, timeout_ms);
}

int HOSTSHIM_TCP_CLIENT::tcpConnect(const char *host, uint16_t port, int32_t timeout_ms) {
  stop();
  struct addrinfo hints = {}, *res = nullptr;
  hints.ai_family = AF_INET;  // lwIP on the board: IPv4 unless IPv6 is enabled
  hints.ai_socktype = SOCK_STREAM;
  char portStr[8];
  std::snprintf(portStr, sizeof portStr, "%u", port);
  int rc = getaddrinfo(host, portStr, &hints, &res);
  if (rc != 0) {
    std::fprintf(stderr, "hostshim: resolve %s: %s\n", host, gai_strerror(rc));
    return 0;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return 0;
  }
  // lwIP's send buffer on arduino-esp32 is small (CONFIG_LWIP_TCP_SND_BUF_DEFAULT
  // 5744 bytes), so a gateway that stops reading blocks the board's writes
  // soon; the host's default would hide that for megabytes.
  int sndbuf = 5744;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd p = {fd, POLLOUT, 0};
    rc = poll(&p, 1, timeout_ms);
    if (rc == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    } else {
      errno = rc == 0 ? ETIMEDOUT : errno;
      rc = -1;
    }
  }
  if (rc != 0) {
    std::fprintf(stderr, "hostshim: connect %s:%u: %s\n", host, port, std::strerror(errno));
    close(fd);
    return 0;
  }
  fd_ = fd;
  eof_ = false;
  resetOnClose_ = false;
  rxStart_ = rxEnd_ = 0;
  return 1;
}

int HOSTSHIM_TCP_CLIENT::setSocketOption(int option, char *value, size_t len) {
  return setSocketOption(SOL_SOCKET, option, (const void *)value, len);
}

// setSocketOption passes the option to the socket, as lwIP's setsockopt
// does on the board. SO_LINGER {1, 0} makes the close that follows a reset,
// which the shim also says on stderr.
int HOSTSHIM_TCP_CLIENT::setSocketOption(int level, int option, const void *value, size_t len) {
  int rc = setsockopt(fd_, level, option, value, (socklen_t)len);
  if (rc == 0 && level == SOL_SOCKET && option == SO_LINGER && len >= sizeof(struct linger)) {
    const struct linger *l = (const struct linger *)value;
    resetOnClose_ = l->l_onoff && l->l_linger == 0;
  }
  return rc;
}

int HOSTSHIM_TCP_CLIENT::setNoDelay(bool nodelay) {
  int v = nodelay;
  return setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

size_t HOSTSHIM_TCP_CLIENT::write(uint8_t data) { return write(&data, 1); }

size_t HOSTSHIM_TCP_CLIENT::write(const uint8_t *buf, size_t size) {
  size_t done = 0;
  uint32_t t0 = millis();
  while (fd_ >= 0 && done < size) {
    ssize_t n = send(fd_, buf + done, size - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && millis() - t0 < 10000) {
      struct pollfd p = {fd_, POLLOUT, 0};
      poll(&p, 1, 100);
      continue;
    }
    break;  // the connection is broken, or stuck for 10 s as the board gives up
  }
  return done;
}

bool HOSTSHIM_TCP_CLIENT::fill() {
  if (fd_ < 0) return false;
  if (rxStart_ == rxEnd_) rxStart_ = rxEnd_ = 0;
  if (eof_ || rxEnd_ == sizeof rx_) return !eof_;
  ssize_t n = recv(fd_, rx_ + rxEnd_, sizeof rx_ - rxEnd_, MSG_DONTWAIT);
  if (n > 0) {
    rxEnd_ += (size_t)n;
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  eof_ = true;
  return false;
}

int HOSTSHIM_TCP_CLIENT::available() {
  fill();
  return (int)(rxEnd_ - rxStart_);
}

int HOSTSHIM_TCP_CLIENT::read() {
  uint8_t b;
  return read(&b, 1) == 1 ? b : -1;
}

int HOSTSHIM_TCP_CLIENT::read(uint8_t *buf, size_t size) {
  if (rxStart_ == rxEnd_) fill();
  size_t n = rxEnd_ - rxStart_;
  if (n == 0) return -1;
  if (n > size) n = size;
  std::memcpy(buf, rx_ + rxStart_, n);
  rxStart_ += n;
  return (int)n;
}

uint8_t HOSTSHIM_TCP_CLIENT::connected() {
  if (fd_ < 0) return 0;
  fill();
  return rxStart_ != rxEnd_ || !eof_;
}

void HOSTSHIM_TCP_CLIENT::stop() {
  if (fd_ >= 0) {
    if (resetOnClose_) std::fprintf(stderr, "hostshim: close with SO_LINGER 0: reset\n");
    close(fd_);
  }
  resetOnClose_ = false;
  fd_ = -1;
  eof_ = false;
  rxStart_ = rxEnd_ = 0;
}
