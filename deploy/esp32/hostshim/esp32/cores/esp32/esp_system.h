// esp_system.h for the host shim: the reset reason and restart of ESP-IDF
// (components/esp_system/include/esp_system.h, the same in IDF 4.4 and 5.x).
#pragma once

#include "esp_err.h"

typedef enum {
  ESP_RST_UNKNOWN,
  ESP_RST_POWERON,
  ESP_RST_EXT,
  ESP_RST_SW,
  ESP_RST_PANIC,
  ESP_RST_INT_WDT,
  ESP_RST_TASK_WDT,
  ESP_RST_WDT,
  ESP_RST_DEEPSLEEP,
  ESP_RST_BROWNOUT,
  ESP_RST_SDIO,
} esp_reset_reason_t;

// esp_reset_reason: why this boot happened; ESP_RST_POWERON on the first
// run, then what ended the previous "boot" (restart, task watchdog).
esp_reset_reason_t esp_reset_reason(void);
void esp_restart(void) __attribute__((noreturn));
