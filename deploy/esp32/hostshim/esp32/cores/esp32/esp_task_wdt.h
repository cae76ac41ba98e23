// esp_task_wdt.h for the host shim: ESP-IDF's task watchdog, in the two
// forms the two cores ship. arduino-esp32 2.0.x (IDF 4.4):
//   esp_task_wdt_init(uint32_t timeout_s, bool panic), which also
//   reconfigures a watchdog the startup code already began.
// arduino-esp32 3.x (IDF 5.x): a config struct; the startup code has begun
// the watchdog, so esp_task_wdt_init answers ESP_ERR_INVALID_STATE and
// esp_task_wdt_reconfigure is the call that changes it.
// A subscribed task that does not call esp_task_wdt_reset within the
// timeout triggers it: the shim prints what IDF prints and, with panic set,
// reboots the "board" (reset reason ESP_RST_TASK_WDT).
#pragma once

#include <cstdint>

#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "esp_arduino_version.h"

#if ESP_ARDUINO_VERSION_MAJOR >= 3
typedef struct {
  uint32_t timeout_ms;
  uint32_t idle_core_mask;
  bool trigger_panic;
} esp_task_wdt_config_t;

esp_err_t esp_task_wdt_init(const esp_task_wdt_config_t *config);
esp_err_t esp_task_wdt_reconfigure(const esp_task_wdt_config_t *config);
#else
esp_err_t esp_task_wdt_init(uint32_t timeout, bool panic);
#endif
esp_err_t esp_task_wdt_deinit(void);
esp_err_t esp_task_wdt_add(TaskHandle_t task_handle);
esp_err_t esp_task_wdt_reset(void);
esp_err_t esp_task_wdt_delete(TaskHandle_t task_handle);
