// NetworkClient.h, a 3.x header (libraries/Network/src): the TCP client.
#pragma once
#include "hostshim_tcp.h"
