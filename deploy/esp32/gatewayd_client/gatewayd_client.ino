// gatewayd echo client for ESP32 boards (Arduino core for ESP32, 2.0.x or 3.x).
//
// Joins Wi-Fi, connects to gatewayd over TCP and every few seconds sends one
// line such as
//     esp32-AABBCCDDEEFF seq=42 uptime_ms=123456 rssi=-61\n
// then reads until the same number of bytes has come back and checks that the
// echo is exactly what was sent (gatewayd's default `framing: raw` may return a
// line in several pieces). A mismatch, a read timeout or a lost connection
// closes the socket; the board then reconnects with exponential backoff and
// jitter (capped at BACKOFF_MAX_MS), joining Wi-Fi again first if it was lost,
// and sends the unverified message again with the same seq.
//
// Serial console (115200 baud) reports every state change and echo.
// The status LED shows the state:
//   fast blink (100/100 ms)        joining Wi-Fi
//   slow blink (500/500 ms)        connecting to the gateway
//   double blink, then pause       waiting to retry (backoff)
//   steady on, dark blip per echo  online, echoes verified
//   very fast blink (50/50 ms)     echo mismatch (shown 1 s, then backoff)
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
#include <Ticker.h>
#include <esp_timer.h>
#include <lwip/sockets.h>
#include <errno.h>
#if __has_include(<esp_random.h>)
#include <esp_random.h>  // ESP-IDF 5 (core 3.x)
#else
#include <esp_system.h>  // ESP-IDF 4 (core 2.0.x)
#endif

// ---------------------------------------------------------------- settings

#ifndef SEND_INTERVAL_MS
#define SEND_INTERVAL_MS 5000
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

static const uint32_t READ_TIMEOUT_MS = 5000;      // whole echo must be back by then
static const int32_t CONNECT_TIMEOUT_MS = 5000;    // TCP connect
static const uint32_t WIFI_JOIN_TIMEOUT_MS = 20000;
static const uint32_t BACKOFF_MIN_MS = 500;        // first retry delay
static const uint32_t BACKOFF_MAX_MS = 30000;      // cap
static const uint32_t MISMATCH_SHOW_MS = 1000;
static const int KEEPALIVE_IDLE_S = 15;  // idle seconds before the first probe
static const int KEEPALIVE_INTVL_S = 5;  // seconds between probes
static const int KEEPALIVE_COUNT = 3;    // unanswered probes before the link is declared dead

// ---------------------------------------------------------------- state

enum ClientState {
  ST_WIFI_JOIN,
  ST_CONNECTING,
  ST_ONLINE,
  ST_BACKOFF,
  ST_MISMATCH,
};

enum EchoResult {
  ECHO_OK,
  ECHO_FAILED,
  ECHO_MISMATCH,
};

static const char *stateName(ClientState s) {
  switch (s) {
    case ST_WIFI_JOIN: return "wifi-joining";
    case ST_CONNECTING: return "connecting";
    case ST_ONLINE: return "online";
    case ST_BACKOFF: return "backoff";
    case ST_MISMATCH: return "mismatch";
  }
  return "?";
}

static WiFiClient client;
static Ticker ledTicker;
static volatile ClientState state = ST_WIFI_JOIN;
static volatile uint32_t stateSince = 0;   // millis() when the state was entered
static volatile uint32_t blipUntil = 0;    // online: LED dark until then (one echo)
static char boardId[24];
static uint32_t seq = 0;                    // seq of the next message to verify
static uint32_t verified = 0, mismatches = 0, failures = 0, connections = 0;
static uint32_t backoffAttempt = 0;
static uint32_t retryAt = 0;
static uint32_t nextSendAt = 0;
static bool joinStarted = false;
static uint32_t joinStartedAt = 0;
static char lastError[96];

// ---------------------------------------------------------------- LED

// Blink patterns: milliseconds on, off, on, off, ...; 0 ends the list.
static const uint16_t PAT_WIFI[] = {100, 100, 0};
static const uint16_t PAT_CONNECTING[] = {500, 500, 0};
static const uint16_t PAT_BACKOFF[] = {100, 150, 100, 650, 0};
static const uint16_t PAT_MISMATCH[] = {50, 50, 0};

static void ledWrite(bool on) {
  digitalWrite(STATUS_LED_PIN, (on != (STATUS_LED_ACTIVE_LOW != 0)) ? HIGH : LOW);
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

// Runs every 20 ms from the Ticker (esp_timer task), so the LED keeps its
// pattern while loop() is blocked in connect() or WiFi calls.
static void ledTick() {
  uint32_t now = millis();
  uint32_t elapsed = now - stateSince;
  bool on = false;
  switch (state) {
    case ST_WIFI_JOIN: on = patternLit(PAT_WIFI, elapsed); break;
    case ST_CONNECTING: on = patternLit(PAT_CONNECTING, elapsed); break;
    case ST_BACKOFF: on = patternLit(PAT_BACKOFF, elapsed); break;
    case ST_MISMATCH: on = patternLit(PAT_MISMATCH, elapsed); break;
    case ST_ONLINE: on = (int32_t)(now - blipUntil) >= 0; break;
  }
  ledWrite(on);
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
  failures++;
  uint32_t delayMs = nextBackoffMs();
  Serial.printf("[%10lu] reconnecting in %lu ms (attempt %lu): %s\n", (unsigned long)millis(),
                (unsigned long)delayMs, (unsigned long)backoffAttempt, why);
  Serial.printf("[%10lu] totals: verified=%lu mismatches=%lu failures=%lu connections=%lu\n",
                (unsigned long)millis(), (unsigned long)verified, (unsigned long)mismatches,
                (unsigned long)failures, (unsigned long)connections);
  retryAt = millis() + delayMs;
  setState(ST_BACKOFF);
}

static bool wifiUp() {
  return WiFi.status() == WL_CONNECTED;
}

// SO_KEEPALIVE plus idle/interval/count on the client's socket, so a gateway
// that vanished without a FIN (power cut, Wi-Fi gone on its side) is noticed
// even between messages.
static void configureSocket() {
  int fd = client.fd();
  if (fd < 0) return;
  int one = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_COUNT;
  bool ok = lwip_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0;
  ok = ok && lwip_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) == 0;
  ok = ok && lwip_setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) == 0;
  ok = ok && lwip_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) == 0;
  client.setNoDelay(true);  // one small line per message: do not wait for Nagle
  Serial.printf("[%10lu] keepalive %s (idle=%ds intvl=%ds count=%d), read timeout %lu ms\n",
                (unsigned long)millis(), ok ? "on" : "FAILED", idle, intvl, cnt,
                (unsigned long)READ_TIMEOUT_MS);
}

// True once the gateway has closed its side (recv would return 0) or the
// socket is in error. Only asked when nothing is buffered.
static bool peerClosed() {
  int fd = client.fd();
  if (fd < 0) return true;
  uint8_t b;
  int r = lwip_recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0) return true;
  if (r < 0 && errno != EWOULDBLOCK && errno != EAGAIN) return true;
  return false;
}

// Sends one line and reads until as many bytes came back; they must be equal.
static EchoResult sendAndVerify() {
  char uptime[21];
  u64ToDec((uint64_t)(esp_timer_get_time() / 1000), uptime, sizeof uptime);
  char line[96];
  int len = snprintf(line, sizeof line, "%s seq=%lu uptime_ms=%s rssi=%d\n", boardId,
                     (unsigned long)seq, uptime, (int)WiFi.RSSI());
  if (len <= 0 || len >= (int)sizeof line) {
    snprintf(lastError, sizeof lastError, "payload does not fit");
    return ECHO_FAILED;
  }
  uint32_t sentAt = millis();
  size_t w = client.write((const uint8_t *)line, (size_t)len);
  if (w != (size_t)len) {
    snprintf(lastError, sizeof lastError, "write: %u of %d bytes sent", (unsigned)w, len);
    return ECHO_FAILED;
  }

  char echo[96];
  int got = 0;
  while (got < len) {
    if (millis() - sentAt >= READ_TIMEOUT_MS) {
      snprintf(lastError, sizeof lastError, "read timeout: %d of %d bytes echoed in %lu ms", got,
               len, (unsigned long)READ_TIMEOUT_MS);
      return ECHO_FAILED;
    }
    int avail = client.available();
    if (avail > 0) {
      int want = len - got;
      if (avail < want) want = avail;
      int n = client.read((uint8_t *)echo + got, (size_t)want);
      if (n > 0) {
        // Compare as it arrives: a wrong byte is a mismatch at once.
        if (memcmp(echo + got, line + got, (size_t)n) != 0) {
          echo[got + n] = '\0';
          Serial.printf("[%10lu] echo MISMATCH seq=%lu\n  sent: %s  got:  %s\n",
                        (unsigned long)millis(), (unsigned long)seq, line, echo);
          return ECHO_MISMATCH;
        }
        got += n;
        continue;
      }
    }
    if (!client.connected() || peerClosed()) {
      snprintf(lastError, sizeof lastError,
               "connection closed by the gateway after %d of %d bytes", got, len);
      return ECHO_FAILED;
    }
    delay(2);
  }
  verified++;
  Serial.printf("[%10lu] echo ok seq=%lu bytes=%d rtt_ms=%lu\n", (unsigned long)millis(),
                (unsigned long)seq, len, (unsigned long)(millis() - sentAt));
  return ECHO_OK;
}

// ---------------------------------------------------------------- setup/loop

void setup() {
  Serial.begin(115200);
  delay(200);
  pinMode(STATUS_LED_PIN, OUTPUT);
  ledWrite(false);
  makeBoardId();
  Serial.printf("\ngatewayd_client board=%s gateway=%s:%d interval=%lu ms\n", boardId,
                GATEWAY_HOST, (int)GATEWAY_PORT, (unsigned long)SEND_INTERVAL_MS);
  WiFi.mode(WIFI_STA);
  stateSince = millis();
  state = ST_WIFI_JOIN;
  ledTicker.attach_ms(20, ledTick);
}

void loop() {
  uint32_t now = millis();
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
        delay(50);
      }
      break;

    case ST_BACKOFF:
      if ((int32_t)(now - retryAt) >= 0) {
        setState(wifiUp() ? ST_CONNECTING : ST_WIFI_JOIN);
      } else {
        delay(20);
      }
      break;

    case ST_MISMATCH:
      if (now - stateSince >= MISMATCH_SHOW_MS) {
        scheduleRetry("echo mismatch, restarting the connection");
      } else {
        delay(20);
      }
      break;

    case ST_CONNECTING:
      if (!wifiUp()) {
        setState(ST_WIFI_JOIN);
        break;
      }
      Serial.printf("[%10lu] connecting to %s:%d\n", (unsigned long)now, GATEWAY_HOST,
                    (int)GATEWAY_PORT);
      if (client.connect(GATEWAY_HOST, (uint16_t)GATEWAY_PORT, CONNECT_TIMEOUT_MS)) {
        connections++;
        configureSocket();
        nextSendAt = millis();
        setState(ST_ONLINE);
      } else {
        client.stop();
        snprintf(lastError, sizeof lastError, "connect to %s:%d failed", GATEWAY_HOST,
                 (int)GATEWAY_PORT);
        scheduleRetry(lastError);
      }
      break;

    case ST_ONLINE:
      if (!wifiUp()) {
        client.stop();
        Serial.printf("[%10lu] wifi lost\n", (unsigned long)now);
        scheduleRetry("wifi lost");
        break;
      }
      if ((int32_t)(now - nextSendAt) < 0) {
        delay(10);
        break;
      }
      switch (sendAndVerify()) {
        case ECHO_OK:
          seq++;
          backoffAttempt = 0;
          blipUntil = millis() + 60;
          nextSendAt += SEND_INTERVAL_MS;
          if ((int32_t)(millis() - nextSendAt) > 0) nextSendAt = millis();  // fell behind
          break;
        case ECHO_MISMATCH:
          mismatches++;
          client.stop();
          setState(ST_MISMATCH);
          break;
        case ECHO_FAILED:
          client.stop();
          scheduleRetry(lastError);
          break;
      }
      Serial.flush();
      break;
  }
}
