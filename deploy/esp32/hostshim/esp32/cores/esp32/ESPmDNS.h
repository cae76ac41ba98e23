// ESPmDNS.h for the host shim: MDNS answers queryService from a table
// instead of the network, given by HOSTSHIM_MDNS (or a file named by
// HOSTSHIM_MDNS_FILE, one entry a line):
//   _SERVICE._PROTO=HOSTNAME,IP,PORT[,KEY=VALUE...]; ...
// e.g. `_gatewayd._tcp=pi,127.0.0.1,65432,proto=1,tls=0`.
// The members are those of libraries/ESPmDNS/src/ESPmDNS.h the library
// calls: an answer's IPv4 address is IP(idx) in 2.0.17 and address(idx) in
// 3.x, where IP(idx) is gone.
#pragma once

#include "Arduino.h"

class MDNSResponder {
 public:
  bool begin(const char *hostName);
  void end();
  int queryService(const char *service, const char *proto);
  String hostname(int idx);
#if ESP_ARDUINO_VERSION_MAJOR >= 3
  IPAddress address(int idx);
#else
  IPAddress IP(int idx);
#endif
  uint16_t port(int idx);
  bool hasTxt(int idx, const char *key);
  String txt(int idx, const char *key);

 private:
  bool started_ = false;
};
extern MDNSResponder MDNS;
