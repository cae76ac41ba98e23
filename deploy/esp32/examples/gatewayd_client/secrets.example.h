// Copy this file to secrets.h (in this same folder) and fill it in.
// secrets.h holds your Wi-Fi password (and, with TLS, the board's private
// key): it is in .gitignore, never commit it.
#pragma once

// The Wi-Fi network the board joins (2.4 GHz; the ESP32 has no 5 GHz radio).
#define WIFI_SSID "your-ssid"
#define WIFI_PASSWORD "your-wifi-password"

// Where gatewayd listens: the Raspberry Pi's LAN address or host name and the
// port from `listen:` in its gatewayd.yaml. The daemon's default listen address
// is 127.0.0.1:65432, which only the Pi itself can reach: for a board, set
// `listen: "0.0.0.0:65432"` (or the Pi's LAN address) on the Pi.
// With GATEWAY_HOST "" the board looks the gateway up with mDNS
// (_gatewayd._tcp, which the gatewayd package advertises through Avahi) and
// uses the port found there instead of GATEWAY_PORT.
#define GATEWAY_HOST "192.168.1.50"
#define GATEWAY_PORT 65432

// Optional: the board's ID in its `!hello` (default esp32- and the MAC), and
// its token when the gateway's tokens_file lists one for it.
// #define BOARD_ID "greenhouse-1"
// #define BOARD_TOKEN "s3cret"

// Optional, TLS: paste the lines `gatewayctl pki board DIR ID` prints for
// secrets.h here. They set GATEWAY_TLS 1, GATEWAY_CA_PEM (the CA that signed
// the gateway's certificate), BOARD_ID, CLIENT_CERT_PEM and CLIENT_KEY_PEM.
// GATEWAY_HOST must then be a name in the gateway's certificate
// (`gatewayctl pki init -host ...`), not an address: core 2.0.x never
// matches an address. With GATEWAY_HOST "" the board checks the name the
// gateway advertises over mDNS (e.g. raspberrypi.local).
// #define GATEWAY_TLS 1
// #define GATEWAY_CA_PEM "-----BEGIN CERTIFICATE-----\n" ...
// #define CLIENT_CERT_PEM "-----BEGIN CERTIFICATE-----\n" ...
// #define CLIENT_KEY_PEM "-----BEGIN EC PRIVATE KEY-----\n" ...

// Optional: the GPIO of the LED (default LED_BUILTIN if the board defines
// it, else GPIO 2 as on most ESP32 DevKits), and whether it lights when the
// pin is LOW.
// #define STATUS_LED_PIN 2
// #define STATUS_LED_ACTIVE_LOW 1

// Optional: milliseconds between data lines (default 5000), lines kept
// without a receipt (default 32, 256 bytes of RAM each), and the silence
// after which the board sends !ping (default 15000; 0 = never).
// #define SEND_INTERVAL_MS 5000
// #define OUTBOX_LINES 32
// #define PING_IDLE_MS 15000

// Optional: the longest TLS handshake (default 10000 ms; the core's own
// default is 120 s), the task watchdog on loop() (default 60000 ms; 0 =
// leave the core's alone), and the time without a session after which the
// board restarts (default 900000 ms = 15 min; 0 = never).
// #define HANDSHAKE_TIMEOUT_MS 10000
// #define WATCHDOG_MS 60000
// #define REBOOT_OFFLINE_MS 900000
