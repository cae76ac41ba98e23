// WiFiClientSecure.h in 3.x (libraries/NetworkClientSecure/src): the old
// name, kept with a deprecation warning, as the real header does.
#pragma once
#warning WiFiClientSecure has been deprecated, please use NetworkClientSecure instead.
#include "NetworkClientSecure.h"
#define WiFiClientSecure NetworkClientSecure
