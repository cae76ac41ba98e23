// MDNS on the host: queryService answers from the table in HOSTSHIM_MDNS or
// the file named by HOSTSHIM_MDNS_FILE (see ESPmDNS.h), so tests choose what
// the "network" advertises. As on the board, begin() must come first.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ESPmDNS.h"

MDNSResponder MDNS;

namespace {

struct Entry {
  std::string service, host;
  IPAddress ip;
  uint16_t port = 0;
  std::vector<std::pair<std::string, std::string>> txt;
};

std::vector<Entry> results;

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) {
    size_t a = part.find_first_not_of(" \t\r\n"), b = part.find_last_not_of(" \t\r\n");
    if (a != std::string::npos) out.push_back(part.substr(a, b - a + 1));
  }
  return out;
}

// table reads every entry; a malformed one stops the program with a line
// naming it, as a test table must be right.
std::vector<Entry> table() {
  std::string text;
  if (const char *f = std::getenv("HOSTSHIM_MDNS_FILE")) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "hostshim: HOSTSHIM_MDNS_FILE=%s: cannot read it\n", f);
      std::exit(2);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    for (char &c : text) {
      if (c == '\n') c = ';';
    }
  } else if (const char *t = std::getenv("HOSTSHIM_MDNS")) {
    text = t;
  }
  std::vector<Entry> out;
  for (const std::string &line : split(text, ';')) {
    size_t eq = line.find('=');
    std::vector<std::string> f = split(eq == std::string::npos ? "" : line.substr(eq + 1), ',');
    Entry e;
    unsigned long port = f.size() >= 3 ? std::strtoul(f[2].c_str(), nullptr, 10) : 0;
    if (f.size() < 3 || !e.ip.fromString(f[1].c_str()) || port == 0 || port > 65535) {
      std::fprintf(stderr, "hostshim: mdns entry %s: want _SERVICE._PROTO=HOST,IP,PORT[,KEY=VALUE...]\n",
                   line.c_str());
      std::exit(2);
    }
    e.service = line.substr(0, eq);
    e.host = f[0];
    e.port = (uint16_t)port;
    for (size_t i = 3; i < f.size(); i++) {
      size_t kv = f[i].find('=');
      e.txt.emplace_back(f[i].substr(0, kv), kv == std::string::npos ? "" : f[i].substr(kv + 1));
    }
    out.push_back(e);
  }
  return out;
}

const Entry *at(int idx) {
  if (idx < 0 || (size_t)idx >= results.size()) return nullptr;
  return &results[(size_t)idx];
}

}  // namespace

bool MDNSResponder::begin(const char *hostName) {
  std::fprintf(stderr, "hostshim: mdns: started as %s.local\n", hostName);
  started_ = true;
  return true;
}

void MDNSResponder::end() { started_ = false; }

int MDNSResponder::queryService(const char *service, const char *proto) {
  results.clear();
  if (!started_) {
    std::fprintf(stderr, "hostshim: mdns: queryService before begin\n");
    return 0;
  }
  // The board's mDNS adds the leading underscores when they are missing.
  std::string want = std::string(service[0] == '_' ? "" : "_") + service + "." + (proto[0] == '_' ? "" : "_") + proto;
  for (const Entry &e : table()) {
    if (e.service == want) results.push_back(e);
  }
  std::fprintf(stderr, "hostshim: mdns: query %s: %zu found\n", want.c_str(), results.size());
  return (int)results.size();
}

String MDNSResponder::hostname(int idx) { return at(idx) ? String(at(idx)->host) : String(); }

#if ESP_ARDUINO_VERSION_MAJOR >= 3
IPAddress MDNSResponder::address(int idx) { return at(idx) ? at(idx)->ip : IPAddress(); }
#else
IPAddress MDNSResponder::IP(int idx) { return at(idx) ? at(idx)->ip : IPAddress(); }
#endif

uint16_t MDNSResponder::port(int idx) { return at(idx) ? at(idx)->port : 0; }

bool MDNSResponder::hasTxt(int idx, const char *key) {
  if (!at(idx)) return false;
  for (const auto &kv : at(idx)->txt) {
    if (kv.first == key) return true;
  }
  return false;
}

String MDNSResponder::txt(int idx, const char *key) {
  if (!at(idx)) return String();
  for (const auto &kv : at(idx)->txt) {
    if (kv.first == key) return String(kv.second);
  }
  return String();
}
