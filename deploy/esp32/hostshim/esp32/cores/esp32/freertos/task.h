// freertos/task.h for the host shim: a task handle, NULL meaning the
// calling task, as esp_task_wdt_add(NULL) uses it.
#pragma once

#include "FreeRTOS.h"

struct tskTaskControlBlock;
typedef struct tskTaskControlBlock *TaskHandle_t;
