// Arduino.h for the host shim: the part of the arduino-esp32 core API that
// the GatewaydClient library and its example use, on Linux, so the
// unchanged example builds with arduino-builder and runs against a real
// gatewayd in tests. Not for boards. Declarations follow the real core's
// (cores/esp32/Arduino.h, Esp.h, WString.h, IPAddress.h at 2.0.17 and
// 3.0.x); where the two differ, ESP_ARDUINO_VERSION_MAJOR from the
// variant's esp_arduino_version.h picks, as on a board.
#pragma once

#include "esp_arduino_version.h"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define HIGH 0x1
#define LOW 0x0
#define INPUT 0x01
#define OUTPUT 0x03

uint32_t millis();
void delay(uint32_t ms);
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);

// String: the few members of Arduino's String the sketch calls.
class String {
 public:
  String() {}
  String(const char *s) : s_(s ? s : "") {}
  String(const std::string &s) : s_(s) {}
  const char *c_str() const { return s_.c_str(); }
  unsigned int length() const { return (unsigned int)s_.size(); }
  bool operator==(const String &o) const { return s_ == o.s_; }
  bool operator==(const char *o) const { return s_ == (o ? o : ""); }
  bool operator!=(const char *o) const { return !(*this == o); }

 private:
  std::string s_;
};

// IPAddress: IPv4 only, as the sketch uses it.
class IPAddress {
 public:
  IPAddress() : a_{0, 0, 0, 0} {}
  IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d) : a_{a, b, c, d} {}
  bool fromString(const char *s);
  String toString() const;
  uint8_t operator[](int i) const { return a_[i]; }

 private:
  uint8_t a_[4];
};

// HardwareSerial: the serial console, written to stdout.
class HardwareSerial {
 public:
  void begin(unsigned long baud);
  size_t printf(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
  size_t print(const char *s);
  size_t println(const char *s);
  size_t println();
  void flush();
};
extern HardwareSerial Serial;

// EspClass: ESP.getEfuseMac() from HOSTSHIM_MAC (AA:BB:CC:DD:EE:FF), and
// ESP.restart(), which reboots the "board": the program starts again from
// its first instruction (exec), keeping only what NVS (Preferences) holds.
class EspClass {
 public:
  uint64_t getEfuseMac();
  void restart();
};
extern EspClass ESP;
