// WiFi.h for the host shim: Wi-Fi that is always joined (the host's own
// network), and NetworkClient over POSIX sockets, with the members of the
// Arduino-ESP32 3.x classes that gatewayd_client.ino calls.
#pragma once

#include "Arduino.h"

typedef enum {
  WL_IDLE_STATUS = 0,
  WL_NO_SSID_AVAIL = 1,
  WL_CONNECTED = 3,
  WL_CONNECT_FAILED = 4,
  WL_DISCONNECTED = 6,
} wl_status_t;

typedef enum { WIFI_OFF = 0, WIFI_STA = 1, WIFI_AP = 2, WIFI_AP_STA = 3 } wifi_mode_t;

class WiFiClass {
 public:
  bool mode(wifi_mode_t m);
  wl_status_t begin(const char *ssid, const char *passphrase = nullptr);
  bool disconnect(bool wifioff = false);
  wl_status_t status();
  int8_t RSSI();
  IPAddress localIP();

 private:
  bool joined_ = false;
};
extern WiFiClass WiFi;

// NetworkClient: a TCP client on a non-blocking socket, as lwIP's is.
class NetworkClient {
 public:
  NetworkClient() {}
  virtual ~NetworkClient();
  NetworkClient(const NetworkClient &) = delete;
  NetworkClient &operator=(const NetworkClient &) = delete;

  int connect(IPAddress ip, uint16_t port);
  int connect(IPAddress ip, uint16_t port, int32_t timeout_ms);
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
  int setNoDelay(bool nodelay);

 protected:
  // tcpConnect opens fd_ to host:port within timeout_ms; 1 on success.
  int tcpConnect(const char *host, uint16_t port, int32_t timeout_ms);
  // fill reads what the socket has into rx_ without waiting; false once the
  // connection is closed or broken.
  virtual bool fill();
  int fd_ = -1;
  bool eof_ = false;
  uint8_t rx_[2048];
  size_t rxStart_ = 0, rxEnd_ = 0;
};

typedef NetworkClient WiFiClient;
