// esp_random.h for the host shim: random numbers from the host's getrandom.
#pragma once
#include <cstdint>

uint32_t esp_random(void);
