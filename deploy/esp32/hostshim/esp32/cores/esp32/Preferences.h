// Preferences.h for the host shim: the NVS key-value store of
// arduino-esp32 (libraries/Preferences/src/Preferences.h, the same at
// 2.0.17 and 3.x), kept in the file HOSTSHIM_NVS so that it survives a
// reboot (ESP.restart(), the task watchdog) as flash does. As on a board,
// namespace and key names are at most 15 characters, a put in read-only
// mode or before begin() fails (returns 0), and a get of a missing key
// returns the default.
#pragma once

#include "Arduino.h"

class Preferences {
 public:
  Preferences();
  ~Preferences();

  bool begin(const char *name, bool readOnly = false, const char *partition_label = NULL);
  void end();

  bool clear();
  bool remove(const char *key);

  size_t putUInt(const char *key, uint32_t value);
  size_t putString(const char *key, const char *value);

  bool isKey(const char *key);
  uint32_t getUInt(const char *key, uint32_t defaultValue = 0);
  size_t getString(const char *key, char *value, size_t maxLen);

 private:
  bool started_ = false;
  bool readOnly_ = false;
  char ns_[16] = "";
};
