// The Arduino core on the host: time, GPIO (logged), the serial console on
// stdout, the MAC, random numbers, and main() that runs setup() and loop()
// to a bounded end:
//   HOSTSHIM_UNTIL=TEXT      exit 0 once the serial console printed a line
//                            containing TEXT
//   HOSTSHIM_TIMEOUT_MS=N    exit 3 after N ms (default 120000) without it
//   HOSTSHIM_LOOPS=N         exit 0 after N passes of loop()
//   HOSTSHIM_MAX_BOOTS=N     exit 4 instead of the N+1-th boot (default 10)
// A reboot (ESP.restart(), esp_restart(), the task watchdog) execs the
// program again: millis() starts from 0, RAM is gone, the Preferences file
// stays, and esp_reset_reason() says why, as on a board.
#include <errno.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "Arduino.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_task_wdt.h"

HardwareSerial Serial;
EspClass ESP;

static uint64_t monoMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const uint64_t startMs = monoMs();

uint32_t millis() { return (uint32_t)(monoMs() - startMs); }

void delay(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void pinMode(uint8_t pin, uint8_t mode) {
  std::printf("hostshim: pinMode(%u, %s)\n", pin, mode == OUTPUT ? "OUTPUT" : "INPUT");
  std::fflush(stdout);
}

void digitalWrite(uint8_t pin, uint8_t val) {
  std::printf("hostshim: digitalWrite(%u, %s)\n", pin, val ? "HIGH" : "LOW");
  std::fflush(stdout);
}

uint32_t esp_random(void) {
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) std::abort();
  return r;
}

uint64_t EspClass::getEfuseMac() {
  const char *s = std::getenv("HOSTSHIM_MAC");
  unsigned b[6] = {0x24, 0x0A, 0xC4, 0x00, 0x00, 0x01};
  if (s && std::sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    std::fprintf(stderr, "hostshim: HOSTSHIM_MAC=%s: want AA:BB:CC:DD:EE:FF\n", s);
    std::exit(2);
  }
  uint64_t mac = 0;
  for (int i = 5; i >= 0; i--) mac = (mac << 8) | (b[i] & 0xFF);  // byte 0 lowest
  return mac;
}

bool IPAddress::fromString(const char *s) {
  unsigned v[4];
  char extra;
  if (std::sscanf(s, "%u.%u.%u.%u%c", &v[0], &v[1], &v[2], &v[3], &extra) != 4) return false;
  for (int i = 0; i < 4; i++) {
    if (v[i] > 255) return false;
    a_[i] = (uint8_t)v[i];
  }
  return true;
}

String IPAddress::toString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a_[0], a_[1], a_[2], a_[3]);
  return String(buf);
}

// The serial console. Output is watched for HOSTSHIM_UNTIL line by line.
static std::string pendingLine;
static const char *untilText = nullptr;
static bool untilSeen = false;

static void serialOut(const char *s, size_t n) {
  std::fwrite(s, 1, n, stdout);
  std::fflush(stdout);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n') {
      if (untilText && pendingLine.find(untilText) != std::string::npos) untilSeen = true;
      pendingLine.clear();
    } else {
      pendingLine += s[i];
    }
  }
}

void HardwareSerial::begin(unsigned long) {}

size_t HardwareSerial::printf(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return 0;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;  // Arduino's printf cuts the same way
  serialOut(buf, (size_t)n);
  return (size_t)n;
}

size_t HardwareSerial::print(const char *s) {
  size_t n = std::strlen(s);
  serialOut(s, n);
  return n;
}

size_t HardwareSerial::println(const char *s) { return print(s) + print("\r\n"); }

size_t HardwareSerial::println() { return print("\r\n"); }

void HardwareSerial::flush() { std::fflush(stdout); }

static long envLong(const char *name, long def) {
  const char *s = std::getenv(name);
  if (!s || !*s) return def;
  char *end;
  long v = std::strtol(s, &end, 10);
  if (*end || v < 0) {
    std::fprintf(stderr, "hostshim: %s=%s: want a number >= 0\n", name, s);
    std::exit(2);
  }
  return v;
}

// ---------------------------------------------------------------- reboot

static char **savedArgv;

static const char *reasonName(esp_reset_reason_t r) {
  switch (r) {
    case ESP_RST_POWERON: return "POWERON";
    case ESP_RST_SW: return "SW";
    case ESP_RST_TASK_WDT: return "TASK_WDT";
    default: return "OTHER";
  }
}

esp_reset_reason_t esp_reset_reason(void) {
  const char *s = std::getenv("HOSTSHIM_RESET_REASON");
  if (!s) return ESP_RST_POWERON;
  if (std::strcmp(s, "SW") == 0) return ESP_RST_SW;
  if (std::strcmp(s, "TASK_WDT") == 0) return ESP_RST_TASK_WDT;
  return ESP_RST_UNKNOWN;
}

static void reboot(esp_reset_reason_t why) __attribute__((noreturn));
static void reboot(esp_reset_reason_t why) {
  std::fflush(stdout);
  long boots = std::getenv("HOSTSHIM_BOOT") ? std::strtol(std::getenv("HOSTSHIM_BOOT"), nullptr, 10) : 1;
  const char *maxs = std::getenv("HOSTSHIM_MAX_BOOTS");
  long maxBoots = maxs ? std::strtol(maxs, nullptr, 10) : 10;
  if (boots >= maxBoots) {
    std::fprintf(stderr, "hostshim: stop: reboot %ld (%s) would pass HOSTSHIM_MAX_BOOTS=%ld\n", boots + 1,
                 reasonName(why), maxBoots);
    std::_Exit(4);
  }
  std::fprintf(stderr, "hostshim: reboot (%s), boot %ld\n", reasonName(why), boots + 1);
  setenv("HOSTSHIM_RESET_REASON", reasonName(why), 1);
  setenv("HOSTSHIM_BOOT", std::to_string(boots + 1).c_str(), 1);
  execv("/proc/self/exe", savedArgv);
  std::fprintf(stderr, "hostshim: reboot: exec: %s\n", std::strerror(errno));
  std::_Exit(5);
}

void esp_restart(void) { reboot(ESP_RST_SW); }

void EspClass::restart() { esp_restart(); }

// ---------------------------------------------------------------- task watchdog

// The startup code of both cores begins the task watchdog (IDF's
// CONFIG_ESP_TASK_WDT_INIT) with 5 s and no panic, watching no task of the
// sketch's: loopTask is subscribed only when the sketch asks.
static std::atomic<uint32_t> wdtTimeoutMs{5000};
static std::atomic<bool> wdtPanic{false};
static std::atomic<bool> wdtInitialized{true};
static std::atomic<bool> wdtSubscribed{false};
static std::atomic<uint32_t> wdtFedAt{0};

static void *wdtWatch(void *) {
  uint32_t reportedAt = 0;
  for (;;) {
    delay(20);
    if (!wdtInitialized || !wdtSubscribed) continue;
    uint32_t now = millis();
    if (now - wdtFedAt < wdtTimeoutMs || now - reportedAt < wdtTimeoutMs) continue;
    reportedAt = now;
    // What IDF prints on the console when the watchdog fires.
    std::printf("E (%u) task_wdt: Task watchdog got triggered. The following tasks/users did not reset the watchdog in time:\n", now);
    std::printf("E (%u) task_wdt:  - loopTask (CPU 1)\n", now);
    std::fflush(stdout);
    if (wdtPanic) {
      std::printf("E (%u) task_wdt: Aborting.\n\nRebooting...\n", now);
      reboot(ESP_RST_TASK_WDT);
    }
  }
  return nullptr;
}

static esp_err_t wdtSet(uint32_t timeoutMs, bool panic) {
  if (timeoutMs == 0) return ESP_ERR_INVALID_ARG;
  wdtTimeoutMs = timeoutMs;
  wdtPanic = panic;
  wdtInitialized = true;
  wdtFedAt = millis();
  std::fprintf(stderr, "hostshim: task_wdt: %u ms, panic %s\n", timeoutMs, panic ? "on" : "off");
  return ESP_OK;
}

#if ESP_ARDUINO_VERSION_MAJOR >= 3
esp_err_t esp_task_wdt_init(const esp_task_wdt_config_t *config) {
  if (!config) return ESP_ERR_INVALID_ARG;
  if (wdtInitialized) return ESP_ERR_INVALID_STATE;  // IDF 5: reconfigure a running watchdog
  return wdtSet(config->timeout_ms, config->trigger_panic);
}

esp_err_t esp_task_wdt_reconfigure(const esp_task_wdt_config_t *config) {
  if (!config) return ESP_ERR_INVALID_ARG;
  if (!wdtInitialized) return ESP_ERR_INVALID_STATE;
  return wdtSet(config->timeout_ms, config->trigger_panic);
}
#else
esp_err_t esp_task_wdt_init(uint32_t timeout, bool panic) {
  return wdtSet(timeout * 1000, panic);  // IDF 4.4: seconds; reconfigures a running one
}
#endif

esp_err_t esp_task_wdt_deinit(void) {
  if (!wdtInitialized) return ESP_ERR_INVALID_STATE;
  if (wdtSubscribed) return ESP_ERR_INVALID_STATE;  // tasks still subscribed
  wdtInitialized = false;
  return ESP_OK;
}

esp_err_t esp_task_wdt_add(TaskHandle_t) {
  if (!wdtInitialized) return ESP_ERR_INVALID_STATE;
  if (wdtSubscribed) return ESP_ERR_INVALID_ARG;  // already subscribed
  wdtFedAt = millis();
  wdtSubscribed = true;
  return ESP_OK;
}

esp_err_t esp_task_wdt_reset(void) {
  if (!wdtInitialized) return ESP_ERR_INVALID_STATE;
  if (!wdtSubscribed) return ESP_ERR_NOT_FOUND;
  wdtFedAt = millis();
  return ESP_OK;
}

esp_err_t esp_task_wdt_delete(TaskHandle_t) {
  if (!wdtSubscribed) return ESP_ERR_INVALID_ARG;
  wdtSubscribed = false;
  return ESP_OK;
}

// ---------------------------------------------------------------- main

void setup();
void loop();

int main(int, char **argv) {
  savedArgv = argv;
  pthread_t wdt;
  pthread_create(&wdt, nullptr, wdtWatch, nullptr);
  pthread_detach(wdt);
  untilText = std::getenv("HOSTSHIM_UNTIL");
  if (untilText && !*untilText) untilText = nullptr;
  long timeoutMs = envLong("HOSTSHIM_TIMEOUT_MS", 120000);
  long loops = envLong("HOSTSHIM_LOOPS", 0);
  setup();
  for (long n = 1;; n++) {
    loop();
    if (untilSeen) {
      std::fprintf(stderr, "hostshim: stop: the console printed %s\n", untilText);
      return 0;
    }
    if (loops > 0 && n >= loops) {
      std::fprintf(stderr, "hostshim: stop: %ld loops\n", loops);
      return 0;
    }
    if (timeoutMs > 0 && (long)millis() > timeoutMs) {
      std::fprintf(stderr, "hostshim: stop: timed out after %ld ms%s%s\n", timeoutMs,
                   untilText ? " waiting for " : "", untilText ? untilText : "");
      return 3;
    }
  }
}
