// Wi-Fi on the host: joined as soon as begin() is called, on the host's own
// network, with a fixed signal strength.
#include "WiFi.h"

WiFiClass WiFi;

bool WiFiClass::mode(wifi_mode_t) { return true; }

wl_status_t WiFiClass::begin(const char *ssid, const char *, int32_t, const uint8_t *, bool) {
  std::fprintf(stderr, "hostshim: wifi: joined %s\n", ssid);
  joined_ = true;
  return WL_CONNECTED;
}

bool WiFiClass::disconnect(bool, bool) {
  joined_ = false;
  return true;
}

wl_status_t WiFiClass::status() { return joined_ ? WL_CONNECTED : WL_DISCONNECTED; }

int8_t WiFiClass::RSSI() { return joined_ ? -50 : 0; }

IPAddress WiFiClass::localIP() { return joined_ ? IPAddress(127, 0, 0, 1) : IPAddress(); }

bool WiFiClass::setAutoReconnect(bool) { return true; }
