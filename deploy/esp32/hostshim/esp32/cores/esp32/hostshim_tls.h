// The TLS client of the host shim, backed by OpenSSL instead of mbedTLS,
// under the name each core gives it: NetworkClientSecure in 3.x
// (libraries/NetworkClientSecure/src/NetworkClientSecure.h), WiFiClientSecure
// in 2.0.17 (libraries/WiFiClientSecure/src/WiFiClientSecure.h). The members
// are those of the real class that the library calls, with the real
// signatures. As on the board, the server's certificate is checked against
// the CA set with setCACert and against the host name given (the `host`
// argument of the IPAddress overload, else the host connected to), a client
// certificate is sent when one is set, and the handshake may take
// setHandshakeTimeout seconds, 120 unless set (the real default), whatever
// the connect timeout.
#pragma once

#include "hostshim_tcp.h"

#if ESP_ARDUINO_VERSION_MAJOR >= 3
#define HOSTSHIM_TLS_CLIENT NetworkClientSecure
#else
#define HOSTSHIM_TLS_CLIENT WiFiClientSecure
#endif

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

class HOSTSHIM_TLS_CLIENT : public HOSTSHIM_TCP_CLIENT {
 public:
  HOSTSHIM_TLS_CLIENT() {}
  ~HOSTSHIM_TLS_CLIENT() override;

  int connect(IPAddress ip, uint16_t port) override;
  int connect(IPAddress ip, uint16_t port, int32_t timeout) override;
  int connect(const char *host, uint16_t port) override;
  int connect(const char *host, uint16_t port, int32_t timeout) override;
  int connect(IPAddress ip, uint16_t port, const char *rootCABuff, const char *cli_cert, const char *cli_key);
  int connect(const char *host, uint16_t port, const char *rootCABuff, const char *cli_cert, const char *cli_key);
  int connect(IPAddress ip, uint16_t port, const char *host, const char *CA_cert, const char *cert,
              const char *private_key);
  size_t write(uint8_t data) override;
  size_t write(const uint8_t *buf, size_t size) override;
  void stop() override;
  uint8_t connected() override;
  int lastError(char *buf, const size_t size);
  void setInsecure();
  void setCACert(const char *rootCA);
  void setCertificate(const char *client_ca);
  void setPrivateKey(const char *private_key);
  void setHandshakeTimeout(unsigned long handshake_timeout);

 protected:
  bool fill() override;

 private:
  int open(const char *addr, uint16_t port, const char *verifyHost, int32_t timeout_ms);
  int handshake(const char *host);
  int fail(const char *what, const char *detail);
  const char *ca_ = nullptr;
  const char *cert_ = nullptr;
  const char *key_ = nullptr;
  bool insecure_ = false;
  bool established_ = false;
  unsigned long handshakeTimeoutMs_ = 120000;
  int lastErr_ = 0;
  char lastErrText_[320] = "";
  SSL_CTX *ctx_ = nullptr;
  SSL *ssl_ = nullptr;
};
