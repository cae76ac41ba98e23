// lwip/sockets.h for the host shim: lwIP's socket options (SOL_SOCKET,
// SO_LINGER, struct linger) are the POSIX ones on the host.
#pragma once

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
