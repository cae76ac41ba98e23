// WiFi.h for the host shim: Wi-Fi that is always joined (the host's own
// network), with the members of WiFiClass (libraries/WiFi/src/WiFi.h,
// WiFiSTA.h, WiFiGeneric.h) the library calls, and the TCP client it
// brings in on both cores.
#pragma once

#include "Arduino.h"
#include "hostshim_tcp.h"

typedef enum {
  WL_NO_SHIELD = 255,
  WL_IDLE_STATUS = 0,
  WL_NO_SSID_AVAIL = 1,
  WL_SCAN_COMPLETED = 2,
  WL_CONNECTED = 3,
  WL_CONNECT_FAILED = 4,
  WL_CONNECTION_LOST = 5,
  WL_DISCONNECTED = 6,
} wl_status_t;

typedef enum { WIFI_OFF = 0, WIFI_STA = 1, WIFI_AP = 2, WIFI_AP_STA = 3 } wifi_mode_t;

class WiFiClass {
 public:
  bool mode(wifi_mode_t m);
  wl_status_t begin(const char *ssid, const char *passphrase = NULL, int32_t channel = 0,
                    const uint8_t *bssid = NULL, bool connect = true);
  bool disconnect(bool wifioff = false, bool eraseap = false);
  wl_status_t status();
  int8_t RSSI();
  IPAddress localIP();
  bool setAutoReconnect(bool autoReconnect);

 private:
  bool joined_ = false;
};
extern WiFiClass WiFi;
