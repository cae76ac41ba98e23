// GatewaydClient: the state machine behind GatewaydClient.h.
#include "GatewaydClient.h"

#include <esp_random.h>
#include <esp_system.h>
#include <esp_task_wdt.h>
#include <lwip/sockets.h>

// The gateway takes a hello of at most this many bytes, LF included
// (gateway/board MaxHelloBytes), and board IDs of 1 to 64 characters.
static const size_t HELLO_BYTES = 256;
static const size_t ID_BYTES = 64;

// Blink patterns while offline: milliseconds on, off, ...; 0 ends a list.
static const uint16_t PAT_WIFI[] = {100, 100, 0};
static const uint16_t PAT_CONNECTING[] = {500, 500, 0};
static const uint16_t PAT_BACKOFF[] = {100, 150, 100, 650, 0};

static bool patternLit(const uint16_t *pat, uint32_t elapsed) {
  uint32_t total = 0;
  for (const uint16_t *p = pat; *p; p++) total += *p;
  uint32_t pos = elapsed % total;
  bool on = true;
  for (const uint16_t *p = pat; *p; p++) {
    if (pos < *p) return on;
    pos -= *p;
    on = !on;
  }
  return false;
}

static bool validIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// nextToken returns the next space-separated word of *s and moves *s past
// it; "" at the end.
static const char *nextToken(char **s) {
  char *p = *s;
  while (*p == ' ') p++;
  char *start = p;
  while (*p && *p != ' ') p++;
  if (*p) *p++ = '\0';
  *s = p;
  return start;
}

GatewaydClient::GatewaydClient() {}

GatewaydClient::~GatewaydClient() {
  delete[] outbox_;
  delete[] outboxLen_;
  delete[] outboxSeq_;
  delete[] outboxSentAt_;
}

bool GatewaydClient::begin(const GatewaydConfig &config) {
  cfg_ = config;
  state_ = STOPPED;
  if (cfg_.statusLedPin >= 0) {
    pinMode((uint8_t)cfg_.statusLedPin, OUTPUT);
    ledWrite(false);
  }
  if (!makeBoardId()) return false;
  // The hello must fit what the gateway reads: say so once, here, rather
  // than send a cut line on every connect.
  size_t hello = strlen("!hello ") + strlen(boardId_) + strlen(" fw=") + strlen(cfg_.firmware) + 1;
  if (cfg_.token[0]) hello += strlen(" token=") + strlen(cfg_.token);
  if (hello > HELLO_BYTES) {
    Serial.printf("gatewayd: config: the hello would be %u bytes, the gateway takes at most %u: shorten the token (%u characters) or the board ID\n",
                  (unsigned)hello, (unsigned)HELLO_BYTES, (unsigned)strlen(cfg_.token));
    return false;
  }
  if (cfg_.tls && !cfg_.caPem) {
    Serial.printf("gatewayd: config: TLS needs the gateway's CA (caPem, GATEWAY_CA_PEM)\n");
    return false;
  }
  if (cfg_.outboxLines == 0) cfg_.outboxLines = 1;
  if (!outbox_) {
    outbox_ = new char[(size_t)cfg_.outboxLines * GATEWAYD_LINE_BYTES];
    outboxLen_ = new uint16_t[cfg_.outboxLines];
    outboxSeq_ = new uint32_t[cfg_.outboxLines];
    outboxSentAt_ = new uint32_t[cfg_.outboxLines];
  }
  countBoot();
  client_ = cfg_.tls ? static_cast<TcpClient *>(&tls_) : &tcp_;
  if (cfg_.tls) tls_.setHandshakeTimeout((cfg_.handshakeTimeoutMs + 999) / 1000);  // whole seconds
  port_ = cfg_.port;
  const char *reason = "other";
  switch (esp_reset_reason()) {
    case ESP_RST_POWERON: reason = "power-on"; break;
    case ESP_RST_SW: reason = "restart"; break;
    case ESP_RST_TASK_WDT: reason = "task-watchdog"; break;
    case ESP_RST_PANIC: reason = "panic"; break;
    case ESP_RST_BROWNOUT: reason = "brownout"; break;
    default: break;
  }
  Serial.printf("gatewayd_client %s board=%s boot=%lu reset=%s gateway=%s:%u tls=%s outbox=%u lines\n",
                cfg_.firmware, boardId_, (unsigned long)boot_, reason, cfg_.host[0] ? cfg_.host : "(mdns)",
                (unsigned)cfg_.port, cfg_.tls ? "on" : "off", (unsigned)cfg_.outboxLines);
  startWatchdog();
  WiFi.mode(WIFI_STA);
  offlineSince_ = millis();
  stateSince_ = millis();
  state_ = WIFI_JOIN;
  return true;
}

// makeBoardId: the configured ID, or "esp32-" and the base MAC burnt into
// eFuse, first byte first.
bool GatewaydClient::makeBoardId() {
  if (cfg_.boardId[0]) {
    size_t n = strlen(cfg_.boardId);
    bool ok = n <= ID_BYTES;
    for (size_t i = 0; ok && i < n; i++) ok = validIdChar(cfg_.boardId[i]);
    if (!ok) {
      Serial.printf("gatewayd: config: board ID %.70s: want 1 to %u characters of A-Z a-z 0-9 . _ -\n",
                    cfg_.boardId, (unsigned)ID_BYTES);
      return false;
    }
    snprintf(boardId_, sizeof boardId_, "%s", cfg_.boardId);
    return true;
  }
  uint64_t mac = ESP.getEfuseMac();  // byte 0 of the MAC is the lowest byte
  snprintf(boardId_, sizeof boardId_, "esp32-%02X%02X%02X%02X%02X%02X", (unsigned)(mac & 0xFF),
           (unsigned)((mac >> 8) & 0xFF), (unsigned)((mac >> 16) & 0xFF), (unsigned)((mac >> 24) & 0xFF),
           (unsigned)((mac >> 32) & 0xFF), (unsigned)((mac >> 40) & 0xFF));
  return true;
}

// countBoot adds one to the boot counter in NVS. Lines carry it, so a line
// sent before a reboot and one sent after never share (boot, seq).
void GatewaydClient::countBoot() {
  if (!prefs_.begin("gatewayd", false)) {
    Serial.printf("gatewayd: nvs: cannot open namespace gatewayd; boot counts from 1\n");
    boot_ = 1;
    return;
  }
  boot_ = prefs_.getUInt("boot", 0) + 1;
  if (prefs_.putUInt("boot", boot_) == 0) {
    Serial.printf("gatewayd: nvs: cannot store boot=%lu\n", (unsigned long)boot_);
  }
  prefs_.end();
}

// startWatchdog subscribes loopTask to the task watchdog with panic on, so
// a loop() stuck longer than watchdogMs restarts the board. The startup
// code of both cores has begun the watchdog already: 2.0.x (IDF 4.4)
// changes it with esp_task_wdt_init, 3.x (IDF 5) with _reconfigure.
void GatewaydClient::startWatchdog() {
  if (cfg_.watchdogMs == 0) return;
#if ESP_ARDUINO_VERSION_MAJOR >= 3
  esp_task_wdt_config_t wdt = {};
  wdt.timeout_ms = cfg_.watchdogMs;
  wdt.idle_core_mask = 0;
  wdt.trigger_panic = true;
  esp_err_t err = esp_task_wdt_reconfigure(&wdt);
  if (err == ESP_ERR_INVALID_STATE) err = esp_task_wdt_init(&wdt);
#else
  esp_err_t err = esp_task_wdt_init((cfg_.watchdogMs + 999) / 1000, true);
#endif
  if (err == ESP_OK) err = esp_task_wdt_add(NULL);
  if (err != ESP_OK && err != ESP_ERR_INVALID_ARG) {  // INVALID_ARG: already subscribed
    Serial.printf("gatewayd: task watchdog: error %d\n", (int)err);
  }
  uint32_t longest = cfg_.connectTimeoutMs + (cfg_.tls ? cfg_.handshakeTimeoutMs : 0);
  if (cfg_.watchdogMs <= longest) {
    Serial.printf("gatewayd: note: watchdog %lu ms <= connect + handshake timeouts %lu ms: a slow connect restarts the board\n",
                  (unsigned long)cfg_.watchdogMs, (unsigned long)longest);
  }
}

const char *GatewaydClient::stateName(State s) {
  switch (s) {
    case STOPPED: return "stopped";
    case WIFI_JOIN: return "wifi-joining";
    case CONNECTING: return "connecting";
    case ONLINE: return "online";
    case BACKOFF: return "backoff";
  }
  return "?";
}

void GatewaydClient::setState(State s) {
  if (s == state_) return;
  if (state_ == ONLINE) offlineSince_ = millis();
  stateSince_ = millis();
  state_ = s;
  Serial.printf("[%10lu] state=%s\n", (unsigned long)millis(), stateName(s));
}

void GatewaydClient::ledWrite(bool on) {
  if (cfg_.statusLedPin < 0) return;
  int level = (on != cfg_.statusLedActiveLow) ? HIGH : LOW;
  if (level == ledLevel_) return;
  ledLevel_ = level;
  digitalWrite((uint8_t)cfg_.statusLedPin, (uint8_t)level);
}

// ledTick blinks while offline and leaves the LED dark once online, so
// the sketch may use the same LED for its own ends then.
void GatewaydClient::ledTick() {
  uint32_t elapsed = millis() - stateSince_;
  switch (state_) {
    case WIFI_JOIN: ledWrite(patternLit(PAT_WIFI, elapsed)); break;
    case CONNECTING: ledWrite(patternLit(PAT_CONNECTING, elapsed)); break;
    case BACKOFF: ledWrite(patternLit(PAT_BACKOFF, elapsed)); break;
    case ONLINE:
    case STOPPED: break;
  }
}

// Exponential backoff with "equal jitter": the n-th delay is uniformly
// random in [d/2, d) where d = min(backoffMaxMs, backoffMinMs * 2^n).
uint32_t GatewaydClient::nextBackoffMs() {
  uint32_t d = cfg_.backoffMinMs ? cfg_.backoffMinMs : 1;
  for (uint32_t i = 0; i < backoffAttempt_ && d < cfg_.backoffMaxMs; i++) d *= 2;
  if (d > cfg_.backoffMaxMs) d = cfg_.backoffMaxMs;
  backoffAttempt_++;
  uint32_t half = d / 2;
  return half + esp_random() % (d - half > 0 ? d - half : 1);
}

// resetConnection ends the connection with a reset (SO_LINGER 0), not a
// FIN: after a failed write, part of a line may be on the wire, and a FIN
// would let the gateway take that fragment for a whole line.
void GatewaydClient::resetConnection() {
  struct linger lg;
  lg.l_onoff = 1;
  lg.l_linger = 0;
  if (cfg_.tls) {
    tls_.setSocketOption(SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else {
    tcp_.setSocketOption(SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  client_->stop();
}

void GatewaydClient::scheduleRetry(const char *why) {
  client_->stop();
  inFlight_ = 0;  // everything in the outbox goes again on the next connection
  rxLen_ = 0;
  rxSkipped_ = 0;
  pingPending_ = false;
  failures_++;
  uint32_t delayMs = nextBackoffMs();
  Serial.printf("[%10lu] reconnecting in %lu ms (attempt %lu): %s\n", (unsigned long)millis(), (unsigned long)delayMs,
                (unsigned long)backoffAttempt_, why);
  Serial.printf("[%10lu] totals: receipts=%lu resent=%lu outbox=%lu failures=%lu connections=%lu\n",
                (unsigned long)millis(), (unsigned long)receipts_, (unsigned long)resent_,
                (unsigned long)outboxCount_, (unsigned long)failures_, (unsigned long)connections_);
  retryAt_ = millis() + delayMs;
  setState(BACKOFF);
}

bool GatewaydClient::wifiUp() { return WiFi.status() == WL_CONNECTED; }

// ---------------------------------------------------------------- outbox

bool GatewaydClient::send(const char *line) {
  if (!outbox_ || !line) return false;
  if (outboxCount_ >= cfg_.outboxLines) return false;
  if (strchr(line, '\n') || strchr(line, '\r')) return false;
  size_t s = slot(outboxCount_);
  char *buf = outbox_ + s * GATEWAYD_LINE_BYTES;
  int len = snprintf(buf, GATEWAYD_LINE_BYTES, "boot=%lu seq=%lu %s\n", (unsigned long)boot_,
                     (unsigned long)nextSeq_, line);
  if (len <= 0 || (size_t)len >= GATEWAYD_LINE_BYTES) return false;  // too long: not queued
  outboxLen_[s] = (uint16_t)len;
  outboxSeq_[s] = nextSeq_++;
  outboxCount_++;
  return true;
}

bool GatewaydClient::writeAll(const char *buf, size_t len) {
  size_t w = client_->write((const uint8_t *)buf, len);
  if (w != len) {
    snprintf(lastError_, sizeof lastError_, "write: %u of %u bytes sent", (unsigned)w, (unsigned)len);
    resetConnection();
    return false;
  }
  return true;
}

// sendPending writes the outbox lines not yet sent on this connection.
bool GatewaydClient::sendPending() {
  while (inFlight_ < outboxCount_) {
    size_t s = slot(inFlight_);
    if (!writeAll(outbox_ + s * GATEWAYD_LINE_BYTES, outboxLen_[s])) return false;
    outboxSentAt_[s] = millis();
    inFlight_++;
    if (inFlight_ > sentOnce_) sentOnce_ = inFlight_;
  }
  return true;
}

// ---------------------------------------------------------------- lines in

// readLine reads what has arrived. 1: a whole line is in rx_ (LF replaced
// by NUL, a CR before it dropped, its length in rxLen_ until the next
// call); 0: no whole line yet; -1: error (lastError_ says which). A line
// longer than rx_ is skipped to its LF, said on the console, and the
// session goes on.
int GatewaydClient::readLine() {
  while (client_->available() > 0) {
    int c = client_->read();
    if (c < 0) break;
    lastRxAt_ = millis();
    if (rxSkipped_ > 0) {
      if (c == '\n') {
        Serial.printf("[%10lu] skipped a line of %lu bytes from the gateway: longer than %u\n",
                      (unsigned long)millis(), (unsigned long)(rxSkipped_ + 1), (unsigned)sizeof rx_);
        rxSkipped_ = 0;
      } else {
        rxSkipped_++;
      }
      continue;
    }
    if (c == '\n') {
      if (rxLen_ > 0 && rx_[rxLen_ - 1] == '\r') rxLen_--;
      rx_[rxLen_] = '\0';
      return 1;
    }
    if (rxLen_ + 1 >= sizeof rx_) {
      rxSkipped_ = rxLen_ + 1;
      rxLen_ = 0;
      continue;
    }
    rx_[rxLen_++] = (char)c;
  }
  if (!client_->connected()) {
    snprintf(lastError_, sizeof lastError_, "connection closed by the gateway");
    return -1;
  }
  return 0;
}

// readLineWait waits up to readTimeoutMs for one whole line.
bool GatewaydClient::readLineWait() {
  uint32_t t0 = millis();
  rxLen_ = 0;
  while (millis() - t0 < cfg_.readTimeoutMs) {
    int r = readLine();
    if (r != 0) return r > 0;
    if (cfg_.watchdogMs) esp_task_wdt_reset();
    ledTick();
    delay(5);
  }
  snprintf(lastError_, sizeof lastError_, "no answer within %lu ms", (unsigned long)cfg_.readTimeoutMs);
  return false;
}

// onReceipt: a data line from the gateway is the receipt of the oldest line
// in flight, since the gateway echoes lines in the order it got them.
bool GatewaydClient::onReceipt(const char *line, size_t len) {
  if (inFlight_ == 0) {
    snprintf(lastError_, sizeof lastError_, "unexpected data line from the gateway: %.60s", line);
    return false;
  }
  size_t s = slot(0);
  size_t n = outboxLen_[s] - 1;  // without the LF
  if (len != n || memcmp(line, outbox_ + s * GATEWAYD_LINE_BYTES, n) != 0) {
    snprintf(lastError_, sizeof lastError_, "receipt MISMATCH for seq=%lu: got %.60s", (unsigned long)outboxSeq_[s],
             line);
    return false;
  }
  receipts_++;
  backoffAttempt_ = 0;
  Serial.printf("[%10lu] receipt seq=%lu rtt_ms=%lu\n", (unsigned long)millis(), (unsigned long)outboxSeq_[s],
                (unsigned long)(millis() - outboxSentAt_[s]));
  outboxHead_ = slot(1);
  outboxCount_--;
  inFlight_--;
  if (sentOnce_ > 0) sentOnce_--;
  return true;
}

// onLine handles one line from the gateway in a session. Control lines are
// parsed by token: `!msg` and its payload, `!pong`, `!err CODE ...`.
bool GatewaydClient::onLine(char *line, size_t len) {
  if (echoMode_ || line[0] != '!') return onReceipt(line, len);
  if (strncmp(line, "!msg", 4) == 0 && (line[4] == ' ' || line[4] == '\0')) {
    const char *payload = line[4] ? line + 5 : "";
    size_t plen = line[4] ? len - 5 : 0;
    Serial.printf("[%10lu] msg: %.200s%s\n", (unsigned long)millis(), payload, plen > 200 ? "..." : "");
    if (onMessage_) onMessage_(payload, plen);
    return true;
  }
  char *rest = line;
  const char *verb = nextToken(&rest);
  if (strcmp(verb, "!pong") == 0) {
    pingPending_ = false;
    return true;
  }
  if (strcmp(verb, "!err") == 0) {
    const char *code = nextToken(&rest);
    Serial.printf("[%10lu] gateway says: !err %s %.100s\n", (unsigned long)millis(), code, rest);
    if (strcmp(code, "replaced") == 0) {
      snprintf(lastError_, sizeof lastError_, "another connection took over board %s", boardId_);
      return false;
    }
    return true;  // e.g. unknown-command or too-large: the session goes on
  }
  Serial.printf("[%10lu] ignored control line: %.60s\n", (unsigned long)millis(), verb);
  return true;
}

// ---------------------------------------------------------------- connect

// findGateway: the configured host, or with host "" the first
// `_gatewayd._tcp` service mDNS finds. The certificate is then checked
// against the name the gateway advertises (NAME.local): the address is
// DHCP's and changes, and core 2.0.x never matches an address in a
// certificate anyway.
bool GatewaydClient::findGateway() {
  if (cfg_.host[0]) {
    viaMdns_ = false;
    int n = snprintf(host_, sizeof host_, "%s", cfg_.host);
    snprintf(verifyName_, sizeof verifyName_, "%s", cfg_.host);
    if (n <= 0 || (size_t)n >= sizeof host_) {
      snprintf(lastError_, sizeof lastError_, "gateway host longer than %u characters", (unsigned)sizeof host_ - 1);
      return false;
    }
    return true;
  }
  if (!mdnsStarted_) {
    if (!MDNS.begin(boardId_)) {
      snprintf(lastError_, sizeof lastError_, "mdns: could not start");
      return false;
    }
    mdnsStarted_ = true;
  }
  int n = MDNS.queryService("gatewayd", "tcp");
  if (n <= 0) {
    snprintf(lastError_, sizeof lastError_, "mdns: no _gatewayd._tcp service found");
    return false;
  }
  viaMdns_ = true;
#if ESP_ARDUINO_VERSION_MAJOR >= 3
  mdnsIp_ = MDNS.address(0);  // 3.x: IP() is gone
#else
  mdnsIp_ = MDNS.IP(0);
#endif
  String name = MDNS.hostname(0);
  String ip = mdnsIp_.toString();
  int len = snprintf(verifyName_, sizeof verifyName_, "%s.local", name.c_str());
  if (len <= 0 || (size_t)len >= sizeof verifyName_) {
    snprintf(lastError_, sizeof lastError_, "mdns: host name longer than %u characters", (unsigned)sizeof verifyName_ - 7);
    return false;
  }
  snprintf(host_, sizeof host_, "%s", ip.c_str());
  port_ = MDNS.port(0);
  String tls = MDNS.txt(0, "tls");
  Serial.printf("[%10lu] mdns: found %s at %s:%u (tls=%s, %d found)\n", (unsigned long)millis(), verifyName_, host_,
                (unsigned)port_, tls.c_str(), n);
  if (tls.length() > 0 && (tls == "1") != cfg_.tls) {
    Serial.printf("[%10lu] mdns: the gateway says tls=%s but this board has tls %s\n", (unsigned long)millis(),
                  tls.c_str(), cfg_.tls ? "on" : "off");
  }
  return true;
}

bool GatewaydClient::openConnection() {
  if (!cfg_.tls) {
    if (viaMdns_) return tcp_.connect(mdnsIp_, port_, (int32_t)cfg_.connectTimeoutMs);
    return tcp_.connect(host_, port_, (int32_t)cfg_.connectTimeoutMs);
  }
  tls_.setHandshakeTimeout((cfg_.handshakeTimeoutMs + 999) / 1000);
  if (viaMdns_) {
    // The address from mDNS, the name it advertised for the certificate.
    return tls_.connect(mdnsIp_, port_, verifyName_, cfg_.caPem, cfg_.certPem, cfg_.keyPem);
  }
  tls_.setCACert(cfg_.caPem);
  if (cfg_.certPem && cfg_.keyPem) {
    tls_.setCertificate(cfg_.certPem);
    tls_.setPrivateKey(cfg_.keyPem);
  }
  return tls_.connect(host_, port_, (int32_t)cfg_.connectTimeoutMs);
}

// hello says hello and reads the answer: `!ok ID ...` (by token), or the
// hello itself echoed back by a gateway without the board protocol.
bool GatewaydClient::hello() {
  char line[HELLO_BYTES + 1];
  int len;
  if (cfg_.token[0]) {
    len = snprintf(line, sizeof line, "!hello %s token=%s fw=%s\n", boardId_, cfg_.token, cfg_.firmware);
  } else {
    len = snprintf(line, sizeof line, "!hello %s fw=%s\n", boardId_, cfg_.firmware);
  }
  if (len <= 0 || (size_t)len > HELLO_BYTES) {  // begin() checked; kept for safety
    snprintf(lastError_, sizeof lastError_, "hello longer than %u bytes", (unsigned)HELLO_BYTES);
    return false;
  }
  if (!writeAll(line, (size_t)len)) return false;
  if (!readLineWait()) return false;
  line[len - 1] = '\0';
  if (strcmp(rx_, line) == 0) {
    echoMode_ = true;
    Serial.printf("[%10lu] hello echoed back: the gateway does not speak the board protocol; plain echo mode\n",
                  (unsigned long)millis());
    return true;
  }
  char answer[GATEWAYD_RX_BYTES];
  memcpy(answer, rx_, rxLen_ + 1);
  char *rest = answer;
  const char *verb = nextToken(&rest);
  const char *id = nextToken(&rest);
  if (strcmp(verb, "!ok") == 0 && strcmp(id, boardId_) == 0) {
    echoMode_ = false;
    Serial.printf("[%10lu] hello ok: session as %s\n", (unsigned long)millis(), boardId_);
    return true;
  }
  snprintf(lastError_, sizeof lastError_, "hello refused: %.100s", rx_);
  return false;
}

// ---------------------------------------------------------------- loop

void GatewaydClient::stepConnecting() {
  if (!wifiUp()) {
    setState(WIFI_JOIN);
    return;
  }
  if (!findGateway()) {
    scheduleRetry(lastError_);
    return;
  }
  if (cfg_.tls) {
    Serial.printf("[%10lu] connecting to %s:%u (tls, certificate for %s)\n", (unsigned long)millis(), host_,
                  (unsigned)port_, verifyName_);
  } else {
    Serial.printf("[%10lu] connecting to %s:%u\n", (unsigned long)millis(), host_, (unsigned)port_);
  }
  if (!openConnection()) {
    int n = snprintf(lastError_, sizeof lastError_, "connect to %s:%u failed", host_, (unsigned)port_);
    if (cfg_.tls) {
      char why[100];
      if (tls_.lastError(why, sizeof why) != 0 && n > 0 && (size_t)n < sizeof lastError_) {
        snprintf(lastError_ + n, sizeof lastError_ - n, ": %s", why);
      }
    }
    scheduleRetry(lastError_);
    return;
  }
  connections_++;
  if (cfg_.tls) tls_.setNoDelay(true);
  else tcp_.setNoDelay(true);  // small lines: do not wait for Nagle
  rxLen_ = 0;
  rxSkipped_ = 0;
  inFlight_ = 0;
  lastRxAt_ = millis();
  if (!hello()) {
    scheduleRetry(lastError_);
    return;
  }
  rxLen_ = 0;
  if (sentOnce_ > 0) {
    resent_ += sentOnce_;
    Serial.printf("[%10lu] resending %lu lines that had no receipt, seq=%lu..%lu\n", (unsigned long)millis(),
                  (unsigned long)sentOnce_, (unsigned long)outboxSeq_[outboxHead_],
                  (unsigned long)outboxSeq_[slot(sentOnce_ - 1)]);
  }
  if (outboxCount_ > sentOnce_) {
    Serial.printf("[%10lu] sending %lu lines queued while offline\n", (unsigned long)millis(),
                  (unsigned long)(outboxCount_ - sentOnce_));
  }
  setState(ONLINE);
}

void GatewaydClient::stepOnline() {
  if (!wifiUp()) {
    Serial.printf("[%10lu] wifi lost\n", (unsigned long)millis());
    scheduleRetry("wifi lost");
    return;
  }
  if (!sendPending()) {
    scheduleRetry(lastError_);
    return;
  }
  int r;
  while ((r = readLine()) > 0) {
    size_t len = rxLen_;
    rxLen_ = 0;
    if (!onLine(rx_, len)) {
      r = -1;
      break;
    }
  }
  if (r != 0) {
    scheduleRetry(lastError_);
    return;
  }
  uint32_t now = millis();
  // Something is owed (a receipt or a pong) and nothing came for too long:
  // the gateway or the path to it is gone, even without a FIN.
  if (now - lastRxAt_ > cfg_.readTimeoutMs &&
      ((inFlight_ > 0 && now - outboxSentAt_[slot(0)] > cfg_.readTimeoutMs) ||
       (pingPending_ && now - pingSentAt_ > cfg_.readTimeoutMs))) {
    snprintf(lastError_, sizeof lastError_, "nothing from the gateway for %lu ms", (unsigned long)(now - lastRxAt_));
    scheduleRetry(lastError_);
    return;
  }
  if (cfg_.pingIdleMs > 0 && !echoMode_ && !pingPending_ && now - lastRxAt_ > cfg_.pingIdleMs) {
    if (!writeAll("!ping\n", 6)) {
      scheduleRetry(lastError_);
      return;
    }
    pingPending_ = true;
    pingSentAt_ = now;
  }
}

void GatewaydClient::loop() {
  if (state_ == STOPPED) return;
  if (cfg_.watchdogMs) esp_task_wdt_reset();
  ledTick();
  uint32_t now = millis();
  if (state_ != ONLINE && cfg_.rebootOfflineMs > 0 && now - offlineSince_ > cfg_.rebootOfflineMs) {
    Serial.printf("[%10lu] no session for %lu ms: restarting the board\n", (unsigned long)now,
                  (unsigned long)(now - offlineSince_));
    Serial.flush();
    ESP.restart();
  }
  switch (state_) {
    case WIFI_JOIN:
      if (wifiUp()) {
        joinStarted_ = false;
        Serial.printf("[%10lu] wifi up ip=%s rssi=%d\n", (unsigned long)now, WiFi.localIP().toString().c_str(),
                      (int)WiFi.RSSI());
        setState(CONNECTING);
      } else if (!joinStarted_) {
        Serial.printf("[%10lu] wifi joining ssid=%s\n", (unsigned long)now, cfg_.wifiSsid);
        WiFi.disconnect();
        WiFi.begin(cfg_.wifiSsid, cfg_.wifiPassword);
        joinStarted_ = true;
        joinStartedAt_ = now;
      } else if (now - joinStartedAt_ > 20000) {
        joinStarted_ = false;
        snprintf(lastError_, sizeof lastError_, "wifi not connected after 20000 ms (status %d)", (int)WiFi.status());
        scheduleRetry(lastError_);
      } else {
        delay(20);
      }
      break;
    case BACKOFF:
      if ((int32_t)(now - retryAt_) >= 0) {
        setState(wifiUp() ? CONNECTING : WIFI_JOIN);
      } else {
        delay(10);
      }
      break;
    case CONNECTING:
      stepConnecting();
      break;
    case ONLINE:
      stepOnline();
      delay(2);
      break;
    case STOPPED:
      break;
  }
}
