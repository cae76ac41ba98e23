// gatewayd_client: the example a board runs. It sends one line every
// SEND_INTERVAL_MS through the GatewaydClient library, and switches the LED
// on `led on` and off on `led off` (gatewayctl tell BOARD led on).
//
// Setup: copy secrets.example.h to secrets.h in this folder and fill it in
// (see the library's README.md). Every setting comes from secrets.h; what
// to send is yours to change, in loop().

#if __has_include("secrets.h")
#include "secrets.h"
#else
#error "secrets.h is missing: copy secrets.example.h to secrets.h in the sketch folder and fill it in"
#endif

#if !defined(WIFI_SSID) || !defined(WIFI_PASSWORD) || !defined(GATEWAY_HOST) || !defined(GATEWAY_PORT)
#error "secrets.h must define WIFI_SSID, WIFI_PASSWORD, GATEWAY_HOST and GATEWAY_PORT"
#endif

#include <GatewaydClient.h>

#ifndef BOARD_ID
#define BOARD_ID ""  // "" = esp32- and the MAC
#endif
#ifndef BOARD_TOKEN
#define BOARD_TOKEN ""
#endif
#ifndef GATEWAY_TLS
#define GATEWAY_TLS 0
#endif
#ifndef GATEWAY_CA_PEM
#define GATEWAY_CA_PEM nullptr
#endif
#ifndef CLIENT_CERT_PEM
#define CLIENT_CERT_PEM nullptr
#endif
#ifndef CLIENT_KEY_PEM
#define CLIENT_KEY_PEM nullptr
#endif
#ifndef SEND_INTERVAL_MS
#define SEND_INTERVAL_MS 5000
#endif
#ifndef OUTBOX_LINES
#define OUTBOX_LINES 32
#endif
#ifndef PING_IDLE_MS
#define PING_IDLE_MS 15000
#endif
#ifndef HANDSHAKE_TIMEOUT_MS
#define HANDSHAKE_TIMEOUT_MS 10000
#endif
#ifndef WATCHDOG_MS
#define WATCHDOG_MS 60000
#endif
#ifndef REBOOT_OFFLINE_MS
#define REBOOT_OFFLINE_MS 900000
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

GatewaydClient gateway;
uint32_t nextLineAt = 0;

void ledSet(bool on) {
  digitalWrite(STATUS_LED_PIN, (on != (STATUS_LED_ACTIVE_LOW != 0)) ? HIGH : LOW);
}

// Each `!msg PAYLOAD` from the gateway (gatewayctl tell BOARD PAYLOAD, or
// MQTT .../BOARD/down). Keep it short: receipts wait while it runs.
void onGatewayMessage(const char *payload, size_t len) {
  (void)len;
  if (strcmp(payload, "led on") == 0) {
    ledSet(true);
    Serial.printf("[%10lu] led on\n", (unsigned long)millis());
  } else if (strcmp(payload, "led off") == 0) {
    ledSet(false);
    Serial.printf("[%10lu] led off\n", (unsigned long)millis());
  }
}

void setup() {
  Serial.begin(115200);
  delay(200);
  GatewaydConfig config;
  config.wifiSsid = WIFI_SSID;
  config.wifiPassword = WIFI_PASSWORD;
  config.host = GATEWAY_HOST;
  config.port = GATEWAY_PORT;
  config.boardId = BOARD_ID;
  config.token = BOARD_TOKEN;
  config.tls = GATEWAY_TLS != 0;
  config.caPem = GATEWAY_CA_PEM;
  config.certPem = CLIENT_CERT_PEM;
  config.keyPem = CLIENT_KEY_PEM;
  config.outboxLines = OUTBOX_LINES;
  config.pingIdleMs = PING_IDLE_MS;
  config.handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS;
  config.watchdogMs = WATCHDOG_MS;
  config.rebootOfflineMs = REBOOT_OFFLINE_MS;
  config.statusLedPin = STATUS_LED_PIN;
  config.statusLedActiveLow = STATUS_LED_ACTIVE_LOW != 0;
  gateway.onMessage(onGatewayMessage);
  gateway.begin(config);
  nextLineAt = millis();
}

void loop() {
  gateway.loop();
  uint32_t now = millis();
  if ((int32_t)(now - nextLineAt) >= 0) {
    nextLineAt += SEND_INTERVAL_MS;
    if ((int32_t)(now - nextLineAt) > 0) nextLineAt = now;  // fell behind
    // Your data: any text without a line break, up to about 220 bytes.
    char line[64];
    snprintf(line, sizeof line, "uptime_ms=%lu rssi=%d", (unsigned long)now, (int)WiFi.RSSI());
    if (!gateway.send(line)) {
      Serial.printf("[%10lu] line not queued (outbox holds %u lines)\n", (unsigned long)now,
                    (unsigned)gateway.outboxCount());
    }
  }
}
