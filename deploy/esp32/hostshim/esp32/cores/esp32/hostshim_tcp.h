// The TCP client of the host shim, over POSIX sockets, under the name each
// core gives it: NetworkClient in 3.x (libraries/Network/src/NetworkClient.h,
// with WiFiClient kept as another name for it), WiFiClient in 2.0.17
// (libraries/WiFi/src/WiFiClient.h), where no NetworkClient exists. The
// members are those of the real class that the library calls, with the
// real signatures.
#pragma once

#include "Arduino.h"

#if ESP_ARDUINO_VERSION_MAJOR >= 3
#define HOSTSHIM_TCP_CLIENT NetworkClient
#else
#define HOSTSHIM_TCP_CLIENT WiFiClient
#endif

class HOSTSHIM_TCP_CLIENT {
 public:
  HOSTSHIM_TCP_CLIENT() {}
  virtual ~HOSTSHIM_TCP_CLIENT();
  HOSTSHIM_TCP_CLIENT(const HOSTSHIM_TCP_CLIENT &) = delete;
  HOSTSHIM_TCP_CLIENT &operator=(const HOSTSHIM_TCP_CLIENT &) = delete;

  virtual int connect(IPAddress ip, uint16_t port);
  virtual int connect(IPAddress ip, uint16_t port, int32_t timeout_ms);
  virtual int connect(const char *host, uint16_t port);
  virtual int connect(const char *host, uint16_t port, int32_t timeout_ms);
  virtual size_t write(uint8_t data);
  virtual size_t write(const uint8_t *buf, size_t size);
  virtual int available();
  virtual int read();
  virtual int read(uint8_t *buf, size_t size);
  virtual void stop();
  virtual uint8_t connected();
  virtual int fd() const { return fd_; }
  int setSocketOption(int option, char *value, size_t len);
  int setSocketOption(int level, int option, const void *value, size_t len);
  int setNoDelay(bool nodelay);

 protected:
  // tcpConnect opens fd_ to host:port within timeout_ms; 1 on success.
  int tcpConnect(const char *host, uint16_t port, int32_t timeout_ms);
  // fill reads what the socket has into rx_ without waiting; false once the
  // connection is closed or broken.
  virtual bool fill();
  int fd_ = -1;
  bool eof_ = false;
  bool resetOnClose_ = false;  // SO_LINGER {1, 0} was set: close sends RST
  uint8_t rx_[2048];
  size_t rxStart_ = 0, rxEnd_ = 0;
};

#if ESP_ARDUINO_VERSION_MAJOR >= 3
typedef NetworkClient WiFiClient;
#endif
