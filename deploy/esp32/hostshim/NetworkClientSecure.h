// NetworkClientSecure.h for the host shim: the TLS client backed by OpenSSL
// instead of mbedTLS, with the members gatewayd_client.ino calls. As on the
// board, the server's certificate is checked against the CA set with
// setCACert and against the host name (or IP address) connected to, and a
// client certificate is sent when one is set.
#pragma once

#include "WiFi.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

class NetworkClientSecure : public NetworkClient {
 public:
  NetworkClientSecure() {}
  ~NetworkClientSecure() override;

  int connect(const char *host, uint16_t port) override;
  int connect(const char *host, uint16_t port, int32_t timeout_ms) override;
  int connect(IPAddress ip, uint16_t port, const char *host, const char *CA_cert, const char *cert,
              const char *private_key);
  size_t write(uint8_t data) override;
  size_t write(const uint8_t *buf, size_t size) override;
  void stop() override;
  uint8_t connected() override;
  void setCACert(const char *rootCA) { ca_ = rootCA; }
  void setCertificate(const char *client_ca) { cert_ = client_ca; }
  void setPrivateKey(const char *private_key) { key_ = private_key; }
  void setInsecure() { insecure_ = true; }
  // lastError copies the reason the last connect failed; 0 when none.
  int lastError(char *buf, const size_t size);

 protected:
  bool fill() override;

 private:
  int handshake(const char *host, int32_t timeout_ms);
  int fail(const char *what, const char *detail);
  const char *ca_ = nullptr;
  const char *cert_ = nullptr;
  const char *key_ = nullptr;
  bool insecure_ = false;
  bool established_ = false;
  int lastErr_ = 0;
  char lastErrText_[320] = "";
  SSL_CTX *ctx_ = nullptr;
  SSL *ssl_ = nullptr;
};

#define WiFiClientSecure NetworkClientSecure
