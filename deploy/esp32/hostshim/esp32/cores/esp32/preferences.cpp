// Preferences on the host: every put rewrites the whole HOSTSHIM_NVS file
// (one "namespace TAB key TAB type:value" a line) through a rename, so a
// reboot or a kill never leaves half a store, as NVS commits are atomic.
// Without HOSTSHIM_NVS the store lives in memory and a reboot loses it, as
// a board with erased flash starts from nothing.
#include <stdio.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "Preferences.h"

namespace {

typedef std::map<std::string, std::string> Store;  // "ns\tkey" -> "u:1" or "s:text"

Store memory;

Store load() {
  const char *path = std::getenv("HOSTSHIM_NVS");
  if (!path) return memory;
  Store s;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find('\t');
    size_t b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos) continue;
    s[line.substr(0, b)] = line.substr(b + 1);
  }
  return s;
}

bool save(const Store &s) {
  const char *path = std::getenv("HOSTSHIM_NVS");
  if (!path) {
    memory = s;
    return true;
  }
  std::string tmp = std::string(path) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto &kv : s) out << kv.first << '\t' << kv.second << '\n';
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path) == 0;
}

bool validName(const char *s) { return s && *s && std::strlen(s) <= 15; }

}  // namespace

Preferences::Preferences() {}
Preferences::~Preferences() { end(); }

bool Preferences::begin(const char *name, bool readOnly, const char *) {
  if (started_) return false;
  if (!validName(name)) return false;
  std::snprintf(ns_, sizeof ns_, "%s", name);
  readOnly_ = readOnly;
  started_ = true;
  return true;
}

void Preferences::end() { started_ = false; }

bool Preferences::clear() {
  if (!started_ || readOnly_) return false;
  Store s = load();
  std::string prefix = std::string(ns_) + "\t";
  for (auto it = s.begin(); it != s.end();) {
    it = it->first.compare(0, prefix.size(), prefix) == 0 ? s.erase(it) : std::next(it);
  }
  return save(s);
}

bool Preferences::remove(const char *key) {
  if (!started_ || readOnly_ || !validName(key)) return false;
  Store s = load();
  s.erase(std::string(ns_) + "\t" + key);
  return save(s);
}

size_t Preferences::putUInt(const char *key, uint32_t value) {
  if (!started_ || readOnly_ || !validName(key)) return 0;
  Store s = load();
  s[std::string(ns_) + "\t" + key] = "u:" + std::to_string(value);
  return save(s) ? 4 : 0;
}

size_t Preferences::putString(const char *key, const char *value) {
  if (!started_ || readOnly_ || !validName(key) || !value || std::strchr(value, '\n')) return 0;
  Store s = load();
  s[std::string(ns_) + "\t" + key] = std::string("s:") + value;
  return save(s) ? std::strlen(value) : 0;
}

bool Preferences::isKey(const char *key) {
  if (!started_ || !validName(key)) return false;
  return load().count(std::string(ns_) + "\t" + key) > 0;
}

uint32_t Preferences::getUInt(const char *key, uint32_t defaultValue) {
  if (!started_ || !validName(key)) return defaultValue;
  Store s = load();
  auto it = s.find(std::string(ns_) + "\t" + key);
  if (it == s.end() || it->second.compare(0, 2, "u:") != 0) return defaultValue;
  return (uint32_t)std::strtoul(it->second.c_str() + 2, nullptr, 10);
}

size_t Preferences::getString(const char *key, char *value, size_t maxLen) {
  if (!started_ || !validName(key)) return 0;
  Store s = load();
  auto it = s.find(std::string(ns_) + "\t" + key);
  if (it == s.end() || it->second.compare(0, 2, "s:") != 0) return 0;
  size_t n = it->second.size() - 2 + 1;
  if (!value) return n;
  if (n > maxLen) return 0;
  std::memcpy(value, it->second.c_str() + 2, n);
  return n;
}
