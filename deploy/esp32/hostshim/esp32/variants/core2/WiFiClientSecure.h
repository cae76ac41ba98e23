// WiFiClientSecure.h, the 2.0.17 header
// (libraries/WiFiClientSecure/src): the TLS client. 2.0.17 has no
// NetworkClientSecure.h.
#pragma once
#include <WiFi.h>
#include "hostshim_tls.h"
