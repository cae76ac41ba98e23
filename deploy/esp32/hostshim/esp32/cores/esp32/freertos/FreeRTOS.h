// freertos/FreeRTOS.h for the host shim: only the types other headers name.
#pragma once

#include <cstdint>
