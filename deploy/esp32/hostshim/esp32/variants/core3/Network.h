// Network.h, a 3.x header (libraries/Network/src): the network classes.
#pragma once
#include "hostshim_tcp.h"
