// HOSTSHIM_TLS_CLIENT backed by OpenSSL. It keeps what the board's mbedTLS
// client does: TLS 1.2 or 1.3, the server's chain checked against the CA
// given to setCACert (a connect without one fails, unless setInsecure), the
// name or address connected to checked against the certificate, and the
// client certificate and key sent when both are set.
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include "hostshim_tls.h"

// fail records why a connect failed (for lastError) and says it on
// stderr, as the board's log_e does on its debug console.
int HOSTSHIM_TLS_CLIENT::fail(const char *what, const char *detail) {
  char buf[256] = "";
  if (!detail) {
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    detail = buf;
  }
  ERR_clear_error();
  std::snprintf(lastErrText_, sizeof lastErrText_, "%s%s%s", what, *detail ? ": " : "", detail);
  lastErr_ = -1;
  std::fprintf(stderr, "hostshim: tls: %s\n", lastErrText_);
  return 0;
}

int HOSTSHIM_TLS_CLIENT::lastError(char *buf, const size_t size) {
  if (size > 0) std::snprintf(buf, size, "%s", lastErrText_);
  return lastErr_;
}

HOSTSHIM_TLS_CLIENT::~HOSTSHIM_TLS_CLIENT() { HOSTSHIM_TLS_CLIENT::stop(); }

void HOSTSHIM_TLS_CLIENT::setInsecure() { insecure_ = true; }
void HOSTSHIM_TLS_CLIENT::setCACert(const char *rootCA) { ca_ = rootCA; }
void HOSTSHIM_TLS_CLIENT::setCertificate(const char *client_ca) { cert_ = client_ca; }
void HOSTSHIM_TLS_CLIENT::setPrivateKey(const char *private_key) { key_ = private_key; }

// The real setHandshakeTimeout takes seconds.
void HOSTSHIM_TLS_CLIENT::setHandshakeTimeout(unsigned long handshake_timeout) {
  handshakeTimeoutMs_ = handshake_timeout * 1000;
}

// The real client's default connect timeout (WIFI_CLIENT_DEF_CONN_TIMEOUT_MS).
static const int32_t defaultTimeoutMs = 3000;

int HOSTSHIM_TLS_CLIENT::connect(IPAddress ip, uint16_t port) { return connect(ip, port, defaultTimeoutMs); }

int HOSTSHIM_TLS_CLIENT::connect(IPAddress ip, uint16_t port, int32_t timeout) {
  String addr = ip.toString();
  return open(addr.c_str(), port, addr.c_str(), timeout);
}

int HOSTSHIM_TLS_CLIENT::connect(const char *host, uint16_t port) { return connect(host, port, defaultTimeoutMs); }

int HOSTSHIM_TLS_CLIENT::connect(const char *host, uint16_t port, int32_t timeout) {
  return open(host, port, host, timeout);
}

int HOSTSHIM_TLS_CLIENT::connect(IPAddress ip, uint16_t port, const char *rootCABuff, const char *cli_cert,
                                 const char *cli_key) {
  return connect(ip, port, nullptr, rootCABuff, cli_cert, cli_key);
}

int HOSTSHIM_TLS_CLIENT::connect(const char *host, uint16_t port, const char *rootCABuff, const char *cli_cert,
                                 const char *cli_key) {
  ca_ = rootCABuff;
  cert_ = cli_cert;
  key_ = cli_key;
  return open(host, port, host, defaultTimeoutMs);
}

// connect to an address, checking the certificate against host (the
// address itself when host is NULL).
int HOSTSHIM_TLS_CLIENT::connect(IPAddress ip, uint16_t port, const char *host, const char *CA_cert,
                                 const char *cert, const char *private_key) {
  ca_ = CA_cert;
  cert_ = cert;
  key_ = private_key;
  String addr = ip.toString();
  return open(addr.c_str(), port, host ? host : addr.c_str(), defaultTimeoutMs);
}

int HOSTSHIM_TLS_CLIENT::open(const char *addr, uint16_t port, const char *verifyHost, int32_t timeout_ms) {
  if (!tcpConnect(addr, port, timeout_ms)) {
    fail("connect", std::strerror(errno));
    return 0;
  }
  if (!handshake(verifyHost)) {
    stop();
    return 0;
  }
  return 1;
}

// handshake runs TLS on the connected socket fd_, waiting at most the
// handshake timeout.
int HOSTSHIM_TLS_CLIENT::handshake(const char *host) {
  int32_t timeout_ms = (int32_t)handshakeTimeoutMs_;
  if (!ca_ && !insecure_) {
    return fail("no CA certificate set (setCACert) and not insecure", "");
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return fail("SSL_CTX_new", nullptr);
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (ca_) {
    BIO *bio = BIO_new_mem_buf(ca_, -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx_);
    int n = 0;
    while (X509 *x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
      n++;
    }
    BIO_free(bio);
    ERR_clear_error();  // the end of the PEM list
    if (n == 0) return fail("no certificate in the CA PEM", "");
  }
  SSL_CTX_set_verify(ctx_, insecure_ ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  if (cert_ && key_) {
    BIO *bio = BIO_new_mem_buf(cert_, -1);
    X509 *x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    bool ok = x && k && SSL_CTX_use_certificate(ctx_, x) == 1 && SSL_CTX_use_PrivateKey(ctx_, k) == 1 &&
              SSL_CTX_check_private_key(ctx_) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    if (!ok) return fail("client certificate or key", nullptr);
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl_);
  unsigned char addr[16];
  if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host);
  } else {
    SSL_set_tlsext_host_name(ssl_, host);
    X509_VERIFY_PARAM_set1_host(param, host, 0);
  }
  uint32_t t0 = millis();
  for (;;) {
    int rc = SSL_connect(ssl_);
    if (rc == 1) break;
    int err = SSL_get_error(ssl_, rc);
    int left = timeout_ms - (int32_t)(millis() - t0);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && left > 0) {
      struct pollfd p = {fd_, (short)(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      poll(&p, 1, left);
      continue;
    }
    long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK) return fail("server certificate", X509_verify_cert_error_string(v));
    return fail(left > 0 ? "handshake" : "handshake timed out", nullptr);
  }
  established_ = true;
  lastErr_ = 0;
  lastErrText_[0] = '\0';
  std::fprintf(stderr, "hostshim: tls: %s with %s, %s\n", SSL_get_version(ssl_), host,
               SSL_get_cipher_name(ssl_));
  return 1;
}

size_t HOSTSHIM_TLS_CLIENT::write(uint8_t data) { return write(&data, 1); }

size_t HOSTSHIM_TLS_CLIENT::write(const uint8_t *buf, size_t size) {
  if (!ssl_) return 0;
  uint32_t t0 = millis();
  for (;;) {
    int n = SSL_write(ssl_, buf, (int)size);  // all or nothing: no partial writes
    if (n > 0) return (size_t)n;
    int err = SSL_get_error(ssl_, n);
    if ((err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) && millis() - t0 < 10000) {
      struct pollfd p = {fd_, (short)(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      poll(&p, 1, 100);
      continue;
    }
    ERR_clear_error();
    eof_ = true;
    return 0;
  }
}

bool HOSTSHIM_TLS_CLIENT::fill() {
  if (!ssl_) return false;
  if (rxStart_ == rxEnd_) rxStart_ = rxEnd_ = 0;
  if (eof_ || rxEnd_ == sizeof rx_) return !eof_;
  int n = SSL_read(ssl_, rx_ + rxEnd_, (int)(sizeof rx_ - rxEnd_));
  if (n > 0) {
    rxEnd_ += (size_t)n;
    return true;
  }
  int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  ERR_clear_error();
  eof_ = true;  // close_notify, a reset, or a TLS error: the session is over
  return false;
}

uint8_t HOSTSHIM_TLS_CLIENT::connected() {
  if (!ssl_) return 0;
  fill();
  return rxStart_ != rxEnd_ || !eof_;
}

void HOSTSHIM_TLS_CLIENT::stop() {
  if (ssl_) {
    if (established_) SSL_shutdown(ssl_);  // close_notify, only on a session that exists
    established_ = false;
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ctx_) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  HOSTSHIM_TCP_CLIENT::stop();
}
