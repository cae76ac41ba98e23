// ESPmDNS.h for the host shim: MDNS answers queryService from a table
// instead of the network, given by HOSTSHIM_MDNS (or a file named by
// HOSTSHIM_MDNS_FILE, one entry a line):
//   _SERVICE._PROTO=HOSTNAME,IP,PORT[,KEY=VALUE...]; ...
// e.g. `_gatewayd._tcp=pi,127.0.0.1,65432,proto=1,tls=0`.
#pragma once

#include "Arduino.h"

class MDNSResponder {
 public:
  bool begin(const char *hostName);
  void end();
  int queryService(const char *service, const char *proto);
  String hostname(int idx);
  IPAddress IP(int idx);
  uint16_t port(int idx);
  bool hasTxt(int idx, const char *key);
  String txt(int idx, const char *key);

 private:
  bool started_ = false;
};
extern MDNSResponder MDNS;
