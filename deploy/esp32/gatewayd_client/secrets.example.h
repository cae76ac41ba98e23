// Copy this file to secrets.h (in this same folder) and fill it in.
// secrets.h holds your Wi-Fi password: it is in .gitignore, never commit it.
#pragma once

// The Wi-Fi network the board joins (2.4 GHz; the ESP32 has no 5 GHz radio).
#define WIFI_SSID "your-ssid"
#define WIFI_PASSWORD "your-wifi-password"

// Where gatewayd listens: the Raspberry Pi's LAN address or host name and the
// port from `listen:` in its gatewayd.yaml. The daemon's default listen address
// is 127.0.0.1:65432, which only the Pi itself can reach: for a board, set
// `listen: "0.0.0.0:65432"` (or the Pi's LAN address) on the Pi.
#define GATEWAY_HOST "192.168.1.50"
#define GATEWAY_PORT 65432

// Optional: the GPIO of the status LED (default LED_BUILTIN if the board
// defines it, else GPIO 2 as on most ESP32 DevKits), and whether it lights
// when the pin is LOW.
// #define STATUS_LED_PIN 2
// #define STATUS_LED_ACTIVE_LOW 1

// Optional: milliseconds between messages (default 5000).
// #define SEND_INTERVAL_MS 5000
