// gatewayd client for ESP32 boards (Arduino core for ESP32, 2.0.x or 3.x).
//
// Joins Wi-Fi, finds the gateway (GATEWAY_HOST, or mDNS `_gatewayd._tcp`
// when GATEWAY_HOST is ""), connects over TCP or TLS and opens a board
// session with
//     !hello BOARD_ID [token=BOARD_TOKEN] fw=FW_VERSION
// Every SEND_INTERVAL_MS it queues one data line such as
//     seq=42 uptime_ms=123456 rssi=-61
// in the outbox and sends it. The gateway echoes each data line once it is
// safe (with the MQTT bridge: once the broker or the gateway's disk has it);
// that echo is the line's receipt, and only then does the line leave the
// outbox. After a reconnect every line still in the outbox is sent again, in
// order, so a line may arrive twice but none is lost while the board runs.
// The outbox lives in RAM (OUTBOX_LINES lines); when it is full the board
// says on the serial console which line it drops.
//
// The gateway may send `!msg PAYLOAD`: it is printed on the serial console
// and passed to onMessage() below, the one function meant for you to edit.
// The example switches the LED on `led on` and off on `led off`.
//
// A gateway that does not speak the board protocol (framing: raw, or an old
// gatewayd) echoes the hello back: the client notices and goes on in plain
// echo mode, where the echo of each line is still its receipt.
//
// The status LED, until the session is up:
//   fast blink (100/100 ms)        joining Wi-Fi
//   slow blink (500/500 ms)        connecting to the gateway
//   double blink, then pause       waiting to retry (backoff)
// Once online the LED is onMessage()'s: off until a `led on` arrives.
//
// Setup: copy secrets.example.h to secrets.h and fill it in (see README.md).

#if __has_include("secrets.h")
#include "secrets.h"
#else
#error "secrets.h is missing: copy secrets.example.h to secrets.h in the sketch folder and fill it in"
#endif

// Required from secrets.h:
#if !defined(WIFI_SSID) || !defined(WIFI_PASSWORD) || !defined(GATEWAY_HOST) || !defined(GATEWAY_PORT)
#error "secrets.h must define WIFI_SSID, WIFI_PASSWORD, GATEWAY_HOST and GATEWAY_PORT"
#endif

#include <WiFi.h>
#include <ESPmDNS.h>
#if __has_include(<NetworkClientSecure.h>)
#include <NetworkClientSecure.h>  // core 3.x
#else
#include <WiFiClientSecure.h>  // core 2.0.x: the same classes under their old names
typedef WiFiClient NetworkClient;
typedef WiFiClientSecure NetworkClientSecure;
#endif
#if __has_include(<esp_random.h>)
#include <esp_random.h>  // ESP-IDF 5 (core 3.x)
#else
#include <esp_system.h>  // ESP-IDF 4 (core 2.0.x)
#endif

// ---------------------------------------------------------------- settings

#define FW_VERSION "2.0.0"

#ifndef SEND_INTERVAL_MS
#define SEND_INTERVAL_MS 5000
#endif
#ifndef OUTBOX_LINES
#define OUTBOX_LINES 32  // unreceipted lines kept in RAM, 100 bytes each
#endif
#ifndef PING_IDLE_MS
#define PING_IDLE_MS 15000  // send !ping after this long without a line from the gateway; 0 = never
#endif
#ifndef BOARD_TOKEN
#define BOARD_TOKEN ""
#endif
#ifndef BOARD_ID
#define BOARD_ID ""  // "" = esp32- and the MAC
#endif
#ifndef GATEWAY_TLS
#define GATEWAY_TLS 0
#endif
#ifndef STATUS_LED_PIN
#ifdef LED_BUILTIN
#define STATUS_LED_PIN LED_BUILTIN
#else
#define STATUS_LED_PIN 2  // most ESP32 DevKit boards
#endif
#endif
#ifndef STATUS_LED_ACTIVE_LOW
#define STATUS_LED_ACTIVE_LOW 0
#endif

static const uint32_t READ_TIMEOUT_MS = 10000;  // a receipt, !ok or !pong must come by then
static const int32_t CONNECT_TIMEOUT_MS = 5000;  // TCP connect (and TLS handshake)
static const uint32_t WIFI_JOIN_TIMEOUT_MS = 20000;
static const uint32_t BACKOFF_MIN_MS = 500;  // first retry delay
static const uint32_t BACKOFF_MAX_MS = 30000;  // cap
static const size_t LINE_MAX = 100;  // one data line, LF included
static const size_t RX_MAX = 300;  // one line from the gateway (a !msg), LF included

// ---------------------------------------------------------------- your code

static bool userLed = false;  // the LED once online; onMessage() sets it
static void ledWrite(bool on);  // lights the status LED (STATUS_LED_ACTIVE_LOW taken care of)

// Called with the payload of each `!msg PAYLOAD` the gateway delivers (sent
// with `gatewayctl tell BOARD MESSAGE` or to the MQTT topic .../BOARD/down).
// Edit this to make the board do something. Keep it short: it runs inside
// loop(), and receipts wait while it runs.
static void onMessage(const char *payload) {
  if (strcmp(payload, "led on") == 0) {
    userLed = true;
    ledWrite(true);
    Serial.printf("[%10lu] led on\n", (unsigned long)millis());
  } else if (strcmp(payload, "led off") == 0) {
    userLed = false;
    ledWrite(false);
    Serial.printf("[%10lu] led off\n", (unsigned long)millis());
  }
}

// ---------------------------------------------------------------- state

enum ClientState {
  ST_WIFI_JOIN,
  ST_CONNECTING,
  ST_ONLINE,
  ST_BACKOFF,
};

static const char *stateName(ClientState s) {
  switch (s) {
    case ST_WIFI_JOIN: return "wifi-joining";
    case ST_CONNECTING: return "connecting";
    case ST_ONLINE: return "online";
    case ST_BACKOFF: return "backoff";
  }
  return "?";
}

#if GATEWAY_TLS
static NetworkClientSecure client;
#else
static NetworkClient client;
#endif
static ClientState state = ST_WIFI_JOIN;
static uint32_t stateSince = 0;  // millis() when the state was entered
static char boardId[65];
static bool echoMode = false;  // the gateway echoed our hello: no board protocol
static uint32_t backoffAttempt = 0;
static uint32_t retryAt = 0;
static bool joinStarted = false;
static uint32_t joinStartedAt = 0;
static bool mdnsStarted = false;
static char lastError[128];
static char hostBuf[64];  // the gateway's address, configured or discovered
static uint16_t gatewayPort = GATEWAY_PORT;
static uint32_t receipts = 0, resent = 0, dropped = 0, failures = 0, connections = 0;
static uint32_t uptimeHigh = 0, lastMillis = 0;  // 64-bit uptime from 32-bit millis()

// The outbox: a ring of lines that have no receipt yet, oldest first.
// inFlight of them (from the oldest) were written on this connection.
static char outbox[OUTBOX_LINES][LINE_MAX];
static uint8_t outboxLen[OUTBOX_LINES];
static uint32_t outboxSeq[OUTBOX_LINES];
static uint32_t outboxSentAt[OUTBOX_LINES];
static uint32_t outboxHead = 0, outboxCount = 0, inFlight = 0;
static uint32_t sentOnce = 0;  // lines, from the oldest, written at least once
static uint32_t nextSeq = 0;
static uint32_t nextLineAt = 0;

// The line being read from the gateway, and when anything last came in.
static char rx[RX_MAX];
static size_t rxLen = 0;
static uint32_t lastRxAt = 0;
static bool pingPending = false;
static uint32_t pingSentAt = 0;

// ---------------------------------------------------------------- LED

// Blink patterns: milliseconds on, off, on, off, ...; 0 ends the list.
static const uint16_t PAT_WIFI[] = {100, 100, 0};
static const uint16_t PAT_CONNECTING[] = {500, 500, 0};
static const uint16_t PAT_BACKOFF[] = {100, 150, 100, 650, 0};

static int ledLevel = -1;

static void ledWrite(bool on) {
  int level = (on != (STATUS_LED_ACTIVE_LOW != 0)) ? HIGH : LOW;
  if (level == ledLevel) return;
  ledLevel = level;
  digitalWrite(STATUS_LED_PIN, level);
}

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

// Called on every pass of loop(), which never blocks for long but in
// connect(), so the pattern keeps going.
static void ledTick() {
  uint32_t elapsed = millis() - stateSince;
  switch (state) {
    case ST_WIFI_JOIN: ledWrite(patternLit(PAT_WIFI, elapsed)); break;
    case ST_CONNECTING: ledWrite(patternLit(PAT_CONNECTING, elapsed)); break;
    case ST_BACKOFF: ledWrite(patternLit(PAT_BACKOFF, elapsed)); break;
    case ST_ONLINE: ledWrite(userLed); break;
  }
}

static void setState(ClientState s) {
  if (s == state) return;
  stateSince = millis();
  state = s;
  Serial.printf("[%10lu] state=%s\n", (unsigned long)millis(), stateName(s));
}

// ---------------------------------------------------------------- helpers

// "esp32-" and the base MAC burnt into eFuse, first byte first.
static void makeBoardId() {
  if (strlen(BOARD_ID) > 0) {
    snprintf(boardId, sizeof boardId, "%s", BOARD_ID);
    return;
  }
  uint64_t mac = ESP.getEfuseMac();  // byte 0 of the MAC is the lowest byte
  snprintf(boardId, sizeof boardId, "esp32-%02X%02X%02X%02X%02X%02X",
           (unsigned)(mac & 0xFF), (unsigned)((mac >> 8) & 0xFF),
           (unsigned)((mac >> 16) & 0xFF), (unsigned)((mac >> 24) & 0xFF),
           (unsigned)((mac >> 32) & 0xFF), (unsigned)((mac >> 40) & 0xFF));
}

// Decimal of a uint64_t without relying on printf's %llu support.
static void u64ToDec(uint64_t v, char *out, size_t size) {
  char tmp[21];
  int i = 0;
  do {
    tmp[i++] = (char)('0' + (v % 10));
    v /= 10;
  } while (v && i < (int)sizeof tmp);
  size_t n = 0;
  while (i > 0 && n + 1 < size) out[n++] = tmp[--i];
  out[n] = '\0';
}

static uint64_t uptimeMs() {
  uint32_t now = millis();
  if (now < lastMillis) uptimeHigh++;  // millis() wrapped (every 49.7 days)
  lastMillis = now;
  return ((uint64_t)uptimeHigh << 32) | now;
}

// Exponential backoff with "equal jitter": the n-th delay is uniformly random
// in [d/2, d) where d = min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2^n).
static uint32_t nextBackoffMs() {
  uint32_t d = BACKOFF_MIN_MS;
  for (uint32_t i = 0; i < backoffAttempt && d < BACKOFF_MAX_MS; i++) d *= 2;
  if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
  backoffAttempt++;
  uint32_t half = d / 2;
  return half + esp_random() % (d - half);
}

static void scheduleRetry(const char *why) {
  client.stop();
  inFlight = 0;  // everything in the outbox goes again on the next connection
  rxLen = 0;
  pingPending = false;
  failures++;
  uint32_t delayMs = nextBackoffMs();
  Serial.printf("[%10lu] reconnecting in %lu ms (attempt %lu): %s\n", (unsigned long)millis(),
                (unsigned long)delayMs, (unsigned long)backoffAttempt, why);
  Serial.printf("[%10lu] totals: receipts=%lu resent=%lu dropped=%lu outbox=%lu failures=%lu connections=%lu\n",
                (unsigned long)millis(), (unsigned long)receipts, (unsigned long)resent,
                (unsigned long)dropped, (unsigned long)outboxCount, (unsigned long)failures,
                (unsigned long)connections);
  retryAt = millis() + delayMs;
  setState(ST_BACKOFF);
}

static bool wifiUp() {
  return WiFi.status() == WL_CONNECTED;
}

// ---------------------------------------------------------------- outbox

static uint32_t slot(uint32_t i) {
  return (outboxHead + i) % OUTBOX_LINES;
}

// Queues the next data line. A full outbox drops its oldest line if that one
// is not on the wire, else the new one: a line in flight may still get its
// receipt, and receipts must come back in the order the lines went out.
static void produceLine() {
  uint32_t seq = nextSeq++;
  if (outboxCount == OUTBOX_LINES) {
    dropped++;
    if (inFlight == 0) {
      Serial.printf("[%10lu] outbox full (%d lines): dropped seq=%lu, the oldest, never receipted\n",
                    (unsigned long)millis(), OUTBOX_LINES, (unsigned long)outboxSeq[outboxHead]);
      outboxHead = slot(1);
      outboxCount--;
      if (sentOnce > 0) sentOnce--;
    } else {
      Serial.printf("[%10lu] outbox full (%d lines, all sent, none receipted): dropped seq=%lu, the new line\n",
                    (unsigned long)millis(), OUTBOX_LINES, (unsigned long)seq);
      return;
    }
  }
  char uptime[21];
  u64ToDec(uptimeMs(), uptime, sizeof uptime);
  uint32_t s = slot(outboxCount);
  int len = snprintf(outbox[s], LINE_MAX, "seq=%lu uptime_ms=%s rssi=%d\n", (unsigned long)seq,
                     uptime, wifiUp() ? (int)WiFi.RSSI() : 0);
  if (len <= 0 || len >= (int)LINE_MAX) return;  // cannot happen: the line is short
  outboxLen[s] = (uint8_t)len;
  outboxSeq[s] = seq;
  outboxCount++;
}

static bool writeAll(const char *buf, size_t len) {
  size_t w = client.write((const uint8_t *)buf, len);
  if (w != len) {
    snprintf(lastError, sizeof lastError, "write: %u of %u bytes sent", (unsigned)w, (unsigned)len);
    return false;
  }
  return true;
}

// Writes the outbox lines not yet sent on this connection.
static bool sendPending() {
  while (inFlight < outboxCount) {
    uint32_t s = slot(inFlight);
    if (!writeAll(outbox[s], outboxLen[s])) return false;
    outboxSentAt[s] = millis();
    inFlight++;
    if (inFlight > sentOnce) sentOnce = inFlight;
  }
  return true;
}

// ---------------------------------------------------------------- lines in

// Reads what has arrived into rx. Returns 1 with a whole line in rx (LF
// replaced by NUL, a CR before it dropped), 0 when no whole line is there
// yet, -1 on error (lastError says which).
static int readLine() {
  while (client.available() > 0) {
    int c = client.read();
    if (c < 0) break;
    lastRxAt = millis();
    if (c == '\n') {
      if (rxLen > 0 && rx[rxLen - 1] == '\r') rxLen--;
      rx[rxLen] = '\0';
      rxLen = 0;
      return 1;
    }
    if (rxLen + 1 >= RX_MAX) {
      snprintf(lastError, sizeof lastError, "a line from the gateway is longer than %u bytes",
               (unsigned)RX_MAX);
      return -1;
    }
    rx[rxLen++] = (char)c;
  }
  if (!client.connected()) {
    snprintf(lastError, sizeof lastError, "connection closed by the gateway");
    return -1;
  }
  return 0;
}

// Waits up to READ_TIMEOUT_MS for one whole line.
static bool readLineWait() {
  uint32_t t0 = millis();
  while (millis() - t0 < READ_TIMEOUT_MS) {
    int r = readLine();
    if (r != 0) return r > 0;
    ledTick();
    delay(5);
  }
  snprintf(lastError, sizeof lastError, "no answer within %lu ms", (unsigned long)READ_TIMEOUT_MS);
  return false;
}

// A data line from the gateway is the receipt of the oldest line in flight:
// the gateway echoes lines in the order it got them.
static bool onReceipt(const char *line) {
  if (inFlight == 0) {
    snprintf(lastError, sizeof lastError, "unexpected data line from the gateway: %.60s", line);
    return false;
  }
  uint32_t s = slot(0);
  size_t n = outboxLen[s] - 1;  // without the LF
  if (strlen(line) != n || memcmp(line, outbox[s], n) != 0) {
    snprintf(lastError, sizeof lastError, "receipt MISMATCH for seq=%lu: got %.60s",
             (unsigned long)outboxSeq[s], line);
    return false;
  }
  receipts++;
  backoffAttempt = 0;
  Serial.printf("[%10lu] receipt seq=%lu rtt_ms=%lu\n", (unsigned long)millis(),
                (unsigned long)outboxSeq[s], (unsigned long)(millis() - outboxSentAt[s]));
  outboxHead = slot(1);
  outboxCount--;
  inFlight--;
  if (sentOnce > 0) sentOnce--;
  return true;
}

// One line from the gateway in a session.
static bool onLine(const char *line) {
  if (echoMode || line[0] != '!') return onReceipt(line);
  if (strncmp(line, "!msg ", 5) == 0) {
    Serial.printf("[%10lu] msg: %s\n", (unsigned long)millis(), line + 5);
    onMessage(line + 5);
    return true;
  }
  if (strcmp(line, "!pong") == 0) {
    pingPending = false;
    return true;
  }
  if (strncmp(line, "!err ", 5) == 0) {
    Serial.printf("[%10lu] gateway says: %s\n", (unsigned long)millis(), line);
    if (strncmp(line + 5, "replaced", 8) == 0) {
      snprintf(lastError, sizeof lastError, "another connection took over board %s", boardId);
      return false;
    }
    return true;  // e.g. unknown-command: the session goes on
  }
  Serial.printf("[%10lu] ignored control line: %.60s\n", (unsigned long)millis(), line);
  return true;
}

// ---------------------------------------------------------------- connect

// With GATEWAY_HOST "", asks mDNS for the gateway's `_gatewayd._tcp` service.
static bool findGateway() {
  if (strlen(GATEWAY_HOST) > 0) {
    snprintf(hostBuf, sizeof hostBuf, "%s", GATEWAY_HOST);
    return true;
  }
  if (!mdnsStarted) {
    if (!MDNS.begin(boardId)) {
      snprintf(lastError, sizeof lastError, "mdns: could not start");
      return false;
    }
    mdnsStarted = true;
  }
  int n = MDNS.queryService("gatewayd", "tcp");
  if (n <= 0) {
    snprintf(lastError, sizeof lastError, "mdns: no _gatewayd._tcp service found");
    return false;
  }
  snprintf(hostBuf, sizeof hostBuf, "%s", MDNS.IP(0).toString().c_str());
  gatewayPort = MDNS.port(0);
  String tls = MDNS.txt(0, "tls");
  Serial.printf("[%10lu] mdns: found %s.local at %s:%u (tls=%s, %d found)\n", (unsigned long)millis(),
                MDNS.hostname(0).c_str(), hostBuf, (unsigned)gatewayPort, tls.c_str(), n);
  if (tls.length() > 0 && (tls == "1") != (GATEWAY_TLS != 0)) {
    Serial.printf("[%10lu] mdns: the gateway says tls=%s but this board has GATEWAY_TLS %d\n",
                  (unsigned long)millis(), tls.c_str(), GATEWAY_TLS);
  }
  return true;
}

static bool openConnection() {
#if GATEWAY_TLS
  client.setCACert(GATEWAY_CA_PEM);
#if defined(CLIENT_CERT_PEM) && defined(CLIENT_KEY_PEM)
  client.setCertificate(CLIENT_CERT_PEM);
  client.setPrivateKey(CLIENT_KEY_PEM);
#endif
#endif
  return client.connect(hostBuf, gatewayPort, CONNECT_TIMEOUT_MS);
}

// Says hello and reads the answer. False with lastError set on failure.
static bool hello() {
  char line[256];
  int len;
  if (strlen(BOARD_TOKEN) > 0) {
    len = snprintf(line, sizeof line, "!hello %s token=%s fw=%s\n", boardId, BOARD_TOKEN, FW_VERSION);
  } else {
    len = snprintf(line, sizeof line, "!hello %s fw=%s\n", boardId, FW_VERSION);
  }
  if (!writeAll(line, (size_t)len)) return false;
  if (!readLineWait()) return false;
  char ok[80];
  snprintf(ok, sizeof ok, "!ok %s", boardId);
  if (strcmp(rx, ok) == 0) {
    echoMode = false;
    Serial.printf("[%10lu] hello ok: session as %s\n", (unsigned long)millis(), boardId);
    return true;
  }
  line[len - 1] = '\0';
  if (strcmp(rx, line) == 0) {
    echoMode = true;
    Serial.printf("[%10lu] hello echoed back: the gateway does not speak the board protocol; plain echo mode\n",
                  (unsigned long)millis());
    return true;
  }
  snprintf(lastError, sizeof lastError, "hello refused: %.100s", rx);
  return false;
}

// ---------------------------------------------------------------- setup/loop

void setup() {
  Serial.begin(115200);
  delay(200);
  pinMode(STATUS_LED_PIN, OUTPUT);
  ledWrite(false);
  makeBoardId();
  Serial.printf("\ngatewayd_client fw=%s board=%s gateway=%s:%d tls=%s interval=%lu ms outbox=%d lines\n",
                FW_VERSION, boardId, strlen(GATEWAY_HOST) ? GATEWAY_HOST : "(mdns)", (int)GATEWAY_PORT,
                GATEWAY_TLS ? "on" : "off", (unsigned long)SEND_INTERVAL_MS, OUTBOX_LINES);
  WiFi.mode(WIFI_STA);
  stateSince = millis();
  state = ST_WIFI_JOIN;
  nextLineAt = millis();
}

void loop() {
  uint32_t now = millis();
  ledTick();
  // Lines are made on time whatever the connection does: while offline they
  // wait in the outbox.
  if ((int32_t)(now - nextLineAt) >= 0) {
    produceLine();
    nextLineAt += SEND_INTERVAL_MS;
    if ((int32_t)(now - nextLineAt) > 0) nextLineAt = now;  // fell behind
  }
  switch (state) {
    case ST_WIFI_JOIN:
      if (wifiUp()) {
        joinStarted = false;
        Serial.printf("[%10lu] wifi up ip=%s rssi=%d\n", (unsigned long)now,
                      WiFi.localIP().toString().c_str(), (int)WiFi.RSSI());
        setState(ST_CONNECTING);
      } else if (!joinStarted) {
        Serial.printf("[%10lu] wifi joining ssid=%s\n", (unsigned long)now, WIFI_SSID);
        WiFi.disconnect();
        WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
        joinStarted = true;
        joinStartedAt = now;
      } else if (now - joinStartedAt > WIFI_JOIN_TIMEOUT_MS) {
        joinStarted = false;
        snprintf(lastError, sizeof lastError, "wifi not connected after %lu ms (status %d)",
                 (unsigned long)WIFI_JOIN_TIMEOUT_MS, (int)WiFi.status());
        scheduleRetry(lastError);
      } else {
        delay(20);
      }
      break;

    case ST_BACKOFF:
      if ((int32_t)(now - retryAt) >= 0) {
        setState(wifiUp() ? ST_CONNECTING : ST_WIFI_JOIN);
      } else {
        delay(10);
      }
      break;

    case ST_CONNECTING:
      if (!wifiUp()) {
        setState(ST_WIFI_JOIN);
        break;
      }
      if (!findGateway()) {
        scheduleRetry(lastError);
        break;
      }
      Serial.printf("[%10lu] connecting to %s:%u%s\n", (unsigned long)now, hostBuf,
                    (unsigned)gatewayPort, GATEWAY_TLS ? " (tls)" : "");
      if (!openConnection()) {
        snprintf(lastError, sizeof lastError, "connect to %s:%u failed", hostBuf, (unsigned)gatewayPort);
#if GATEWAY_TLS
        char why[80];
        if (client.lastError(why, sizeof why) != 0) {
          size_t n = strlen(lastError);
          snprintf(lastError + n, sizeof lastError - n, ": %s", why);
        }
#endif
        scheduleRetry(lastError);
        break;
      }
      connections++;
      client.setNoDelay(true);  // small lines: do not wait for Nagle
      rxLen = 0;
      inFlight = 0;
      lastRxAt = millis();
      if (!hello()) {
        scheduleRetry(lastError);
        break;
      }
      if (sentOnce > 0) {
        resent += sentOnce;
        Serial.printf("[%10lu] resending %lu lines that had no receipt, seq=%lu..%lu\n", (unsigned long)millis(),
                      (unsigned long)sentOnce, (unsigned long)outboxSeq[outboxHead],
                      (unsigned long)outboxSeq[slot(sentOnce - 1)]);
      }
      if (outboxCount > sentOnce) {
        Serial.printf("[%10lu] sending %lu lines queued while offline\n", (unsigned long)millis(),
                      (unsigned long)(outboxCount - sentOnce));
      }
      setState(ST_ONLINE);
      break;

    case ST_ONLINE: {
      if (!wifiUp()) {
        Serial.printf("[%10lu] wifi lost\n", (unsigned long)now);
        scheduleRetry("wifi lost");
        break;
      }
      if (!sendPending()) {
        scheduleRetry(lastError);
        break;
      }
      int r;
      while ((r = readLine()) > 0) {
        if (!onLine(rx)) break;
      }
      if (r != 0) {
        scheduleRetry(lastError);
        break;
      }
      now = millis();
      // Something is owed (a receipt or a pong) and nothing came for too long:
      // the gateway or the path to it is gone, even without a FIN.
      if (now - lastRxAt > READ_TIMEOUT_MS &&
          ((inFlight > 0 && now - outboxSentAt[slot(0)] > READ_TIMEOUT_MS) ||
           (pingPending && now - pingSentAt > READ_TIMEOUT_MS))) {
        snprintf(lastError, sizeof lastError, "nothing from the gateway for %lu ms",
                 (unsigned long)(now - lastRxAt));
        scheduleRetry(lastError);
        break;
      }
      if (PING_IDLE_MS > 0 && !echoMode && !pingPending && now - lastRxAt > PING_IDLE_MS) {
        if (!writeAll("!ping\n", 6)) {
          scheduleRetry(lastError);
          break;
        }
        pingPending = true;
        pingSentAt = now;
      }
      delay(2);
      break;
    }
  }
}
