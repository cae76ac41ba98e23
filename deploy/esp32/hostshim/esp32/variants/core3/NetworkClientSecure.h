// NetworkClientSecure.h, a 3.x header
// (libraries/NetworkClientSecure/src): the TLS client.
#pragma once
#include "hostshim_tls.h"
