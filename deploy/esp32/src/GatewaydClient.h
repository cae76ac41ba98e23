// GatewaydClient: an ESP32 board's side of a gatewayd board session, as an
// Arduino library for the Arduino core for ESP32 (2.0.x and 3.x).
//
// It joins Wi-Fi, finds the gateway (a host name or address, or mDNS
// `_gatewayd._tcp`), connects over TCP or TLS and says
//     !hello BOARD_ID [token=TOKEN] fw=VERSION
// Each line given to send() goes out as
//     boot=N seq=M LINE
// where N counts the board's boots (kept in NVS with Preferences) and M
// counts lines since boot, so (board, boot, seq) names a line for good:
// whatever reads the lines downstream can drop a line sent twice. A line
// waits in the outbox (RAM) until the gateway echoes it back (its receipt;
// with the MQTT bridge, once the broker or the gateway's disk has it), and
// after a reconnect every line still waiting goes again, in order.
// `!msg PAYLOAD` lines from the gateway reach the onMessage() callback.
//
// loop() never blocks for long but in connect() (bounded by the connect
// and handshake timeouts); it feeds the task watchdog it subscribes
// loopTask to, and restarts the board after a configurable time offline.
//
// Usage (see examples/gatewayd_client):
//     GatewaydClient gateway;
//     void setup() { GatewaydConfig c; c.wifiSsid = ...; gateway.begin(c); }
//     void loop() { gateway.loop(); if (...) gateway.send("temp_c=21.5"); }
#pragma once

#include <Arduino.h>
#include <ESPmDNS.h>
#include <Preferences.h>
#include <WiFi.h>
#if ESP_ARDUINO_VERSION_MAJOR >= 3
#include <NetworkClientSecure.h>
#else
#include <WiFiClientSecure.h>
#endif

#define GATEWAYD_CLIENT_VERSION "3.0.0"

// GatewaydConfig is what begin() needs. Strings are not copied: they must
// live as long as the client (string literals and secrets.h macros do).
struct GatewaydConfig {
  const char *wifiSsid = "";
  const char *wifiPassword = "";
  const char *host = "";  // name or address; "" = find `_gatewayd._tcp` with mDNS
  uint16_t port = 65432;  // unused with mDNS: the service says
  const char *boardId = "";  // "" = "esp32-" and the MAC
  const char *token = "";  // "" = none
  const char *firmware = GATEWAYD_CLIENT_VERSION;  // fw= in the hello

  // TLS: the CA that signed the gateway's certificate, and the board's own
  // certificate and key (`gatewayctl pki board` prints all three). The
  // gateway's certificate is checked against host, or with mDNS against
  // the name the gateway advertises (NAME.local), never against an address.
  bool tls = false;
  const char *caPem = nullptr;
  const char *certPem = nullptr;
  const char *keyPem = nullptr;

  uint16_t outboxLines = 32;  // lines kept until receipted, lineBytes each
  uint32_t connectTimeoutMs = 5000;  // TCP connect
  uint32_t handshakeTimeoutMs = 10000;  // TLS handshake (the core's default is 120 s)
  uint32_t readTimeoutMs = 10000;  // a receipt, !ok or !pong must come by then
  uint32_t pingIdleMs = 15000;  // !ping after this long without a line in; 0 = never
  uint32_t backoffMinMs = 500;  // first retry delay, doubling...
  uint32_t backoffMaxMs = 30000;  // ...up to this
  uint32_t watchdogMs = 60000;  // task watchdog on loopTask; 0 = leave it alone
  uint32_t rebootOfflineMs = 900000;  // restart after this long without a session; 0 = never

  int statusLedPin = -1;  // blinks while offline; -1 = none
  bool statusLedActiveLow = false;
};

// Limits, in bytes, LF included: a data line as sent (boot=N seq=M and the
// user's line), and a line from the gateway. A longer line from the gateway
// is skipped up to its LF and said on the console; the session goes on.
static const size_t GATEWAYD_LINE_BYTES = 256;
static const size_t GATEWAYD_RX_BYTES = 1280;

class GatewaydClient {
 public:
  // A `!msg PAYLOAD` from the gateway: payload is NUL-terminated, len bytes.
  typedef void (*MessageCallback)(const char *payload, size_t len);

  GatewaydClient();
  ~GatewaydClient();
  GatewaydClient(const GatewaydClient &) = delete;
  GatewaydClient &operator=(const GatewaydClient &) = delete;

  // begin checks config, counts this boot in NVS and starts joining Wi-Fi.
  // False (with the reason on Serial) when config cannot work, e.g. a hello
  // longer than the gateway takes; loop() then does nothing.
  bool begin(const GatewaydConfig &config);

  // send queues line (no LF) as the next data line. False when the outbox
  // is full, or the line is too long or holds a CR or LF: nothing queued.
  bool send(const char *line);

  void onMessage(MessageCallback cb) { onMessage_ = cb; }

  // loop does the next step; call it from the sketch's loop().
  void loop();

  bool online() const { return state_ == ONLINE; }
  uint32_t boot() const { return boot_; }
  const char *boardId() const { return boardId_; }
  size_t outboxCount() const { return outboxCount_; }

 private:
  enum State { STOPPED, WIFI_JOIN, CONNECTING, ONLINE, BACKOFF };

#if ESP_ARDUINO_VERSION_MAJOR >= 3
  typedef NetworkClient TcpClient;
  typedef NetworkClientSecure TlsClient;
#else
  typedef WiFiClient TcpClient;
  typedef WiFiClientSecure TlsClient;
#endif

  static const char *stateName(State s);
  void setState(State s);
  void ledTick();
  void ledWrite(bool on);
  bool makeBoardId();
  void countBoot();
  void startWatchdog();
  uint32_t nextBackoffMs();
  void scheduleRetry(const char *why);
  void resetConnection();
  bool wifiUp();
  bool findGateway();
  bool openConnection();
  bool hello();
  bool writeAll(const char *buf, size_t len);
  bool sendPending();
  int readLine();
  bool readLineWait();
  bool onLine(char *line, size_t len);
  bool onReceipt(const char *line, size_t len);
  void stepConnecting();
  void stepOnline();
  size_t slot(size_t i) const { return (outboxHead_ + i) % cfg_.outboxLines; }

  GatewaydConfig cfg_;
  MessageCallback onMessage_ = nullptr;
  TcpClient *client_ = nullptr;
  TcpClient tcp_;
  TlsClient tls_;
  Preferences prefs_;

  State state_ = STOPPED;
  uint32_t stateSince_ = 0;
  uint32_t offlineSince_ = 0;  // millis() when the last session ended (or boot)
  char boardId_[65] = "";
  uint32_t boot_ = 0;
  bool echoMode_ = false;
  uint32_t backoffAttempt_ = 0;
  uint32_t retryAt_ = 0;
  bool joinStarted_ = false;
  uint32_t joinStartedAt_ = 0;
  bool mdnsStarted_ = false;
  char lastError_[160] = "";
  char host_[80] = "";  // where to connect: the configured host, or the mDNS answer's address
  char verifyName_[80] = "";  // the name the certificate must carry
  bool viaMdns_ = false;
  IPAddress mdnsIp_;
  uint16_t port_ = 0;
  uint32_t receipts_ = 0, resent_ = 0, failures_ = 0, connections_ = 0;

  // The outbox: a ring of lines without a receipt, oldest first; inFlight_
  // of them (from the oldest) were written on this connection, sentOnce_
  // on any.
  char *outbox_ = nullptr;  // outboxLines * GATEWAYD_LINE_BYTES
  uint16_t *outboxLen_ = nullptr;
  uint32_t *outboxSeq_ = nullptr;
  uint32_t *outboxSentAt_ = nullptr;
  size_t outboxHead_ = 0, outboxCount_ = 0, inFlight_ = 0, sentOnce_ = 0;
  uint32_t nextSeq_ = 0;

  char rx_[GATEWAYD_RX_BYTES];
  size_t rxLen_ = 0;
  size_t rxSkipped_ = 0;  // bytes of an over-long line being skipped
  uint32_t lastRxAt_ = 0;
  bool pingPending_ = false;
  uint32_t pingSentAt_ = 0;
  int ledLevel_ = -1;
};
