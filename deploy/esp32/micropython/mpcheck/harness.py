# Runs gatewayd_client.py's real logic under MicroPython (run.mjs loads it
# into the WebAssembly port, which has no network) against an in-memory
# gateway: two refused connects, answers split into 5-byte pieces, one
# connection dropped by the "gateway" with a line unreceipted, and a !msg.
#
# The stand-in modules have the methods of MicroPython 1.22 on an ESP32 and
# nothing more, so a call only CPython has fails here as on a board:
# - socket: ports/esp32/modsocket.c (settimeout, setblocking, connect, send,
#   sendall, recv, read, readinto, readline, write, close, ...); a
#   non-blocking read() with nothing there returns None, recv() raises
#   EAGAIN; a timeout raises ETIMEDOUT.
# - ssl: extmod/modssl_mbedtls.c: SSLContext(protocol) with verify_mode,
#   load_verify_locations(cadata) taking one positional argument only,
#   load_cert_chain(cert, key) taking the data, wrap_socket(sock, *,
#   server_side, do_handshake_on_connect, server_hostname); its SSLSocket
#   has read, readinto, readline, write, setblocking, close, getpeercert,
#   cipher: no recv, send, sendall or settimeout. A handshake reads from
#   the raw socket, so a gateway that never answers holds it for the raw
#   socket's timeout, forever without one. The stand-in starts at
#   CERT_NONE, as micropython-lib's ssl does, so a client that does not
#   ask for CERT_REQUIRED is caught.
# - select: extmod/modselect.c: poll() with register, unregister, modify,
#   poll(timeout_ms), ipoll.
#
# MODE (set by run.mjs): "session" answers the hello with !ok; "raw"
# echoes it back as a raw-framing gatewayd does; "mdns" is a session with
# an empty host, so the client must resolve MDNS_HOST.local; "tls" is a
# session over the stand-in TLS, with a non-UTF-8 !msg; "tlshung" never
# answers the TLS handshake; "board" runs main() as on a board (config.py,
# machine.WDT) and fails a write with MemoryError after 10 lines, which
# the catch-all must turn into machine.reset().
import sys

EAGAIN = 11
ETIMEDOUT = 110
ECONNREFUSED = 111
CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"


class Done(BaseException):
    """Ends a run that would otherwise go on for ever (tlshung)."""


class Net:
    refuse = 2
    data_lines = 0
    drop_at = 3  # the 3rd data line is lost with the connection
    msg_after = 5  # a !msg after the 5th data line
    asked = []
    handshakes = 0


class Gateway:
    """The gateway's side of one connection: bytes in, bytes out."""

    def __init__(self):
        self.out = b""
        self.inbuf = b""
        self.eof = False

    def feed(self, d):
        self.inbuf += bytes(d)
        while b"\n" in self.inbuf:
            i = self.inbuf.index(b"\n")
            line, self.inbuf = self.inbuf[: i + 1], self.inbuf[i + 1 :]
            self.line(line)

    def line(self, line):
        if self.eof:
            return
        if line.startswith(b"!hello "):
            if MODE == "raw":
                self.out += line
            else:
                self.out += b"!ok " + line.split(b" ")[1] + b" session=1\n"
            return
        if line.startswith(b"!ping"):
            self.out += b"!pong\n"
            return
        Net.data_lines += 1
        if Net.data_lines == 1:
            print("first data line: %s" % line.decode().strip())
        if Net.data_lines == Net.drop_at:
            self.eof = True  # the gateway goes away before this receipt
            return
        self.out += line
        if Net.data_lines == Net.msg_after and MODE != "raw":
            if MODE == "tls":
                self.out += b"!msg \xff\xfe not utf-8\n"
            self.out += b"!msg " + b"z" * 1500 + b"\n"
            self.out += b"!msg led on\n"

    def take(self, n):
        n = min(n, 5)
        chunk, self.out = self.out[:n], self.out[n:]
        return chunk


class socket_:
    """socket.socket of MicroPython 1.22 on an ESP32."""

    def __init__(self, af=2, typ=1, proto=0):
        self._gw = None
        self._timeout = None  # None: blocking without limit
        self._closed = False

    def settimeout(self, t):
        self._timeout = t

    def setblocking(self, flag):
        self._timeout = None if flag else 0

    def connect(self, addr):
        if Net.refuse > 0:
            Net.refuse -= 1
            raise OSError(ECONNREFUSED)
        self._gw = Gateway()

    def _wait(self):
        """What a blocking call does when nothing is there."""
        if self._timeout == 0:
            raise OSError(EAGAIN)
        if self._timeout is None:
            print("HANG: a blocking socket call with no timeout would wait for ever")
            raise SystemExit(9)
        raise OSError(ETIMEDOUT)

    def _ready(self):
        g = self._gw
        return g is not None and (bool(g.out) or g.eof)

    def write(self, d):
        if self._gw is None:
            raise OSError(107)
        self._gw.feed(d)
        return len(d)

    def send(self, d):
        return self.write(d)

    def sendall(self, d):
        self.write(d)

    def read(self, n=-1):
        if not self._gw.out:
            if self._gw.eof:
                return b""
            if self._timeout == 0:
                return None
            self._wait()
        return self._gw.take(n if n > 0 else 1 << 20)

    def readinto(self, buf, n=-1):
        d = self.read(len(buf) if n < 0 else n)
        if d is None:
            return None
        buf[: len(d)] = d
        return len(d)

    def readline(self):
        raise OSError(95)  # not used by the client; present on the board

    def recv(self, n):
        d = self.read(n)
        if d is None:
            raise OSError(EAGAIN)
        return d

    def setsockopt(self, level, opt, val):
        pass

    def makefile(self, *a):
        return self

    def fileno(self):
        return 3

    def bind(self, a):
        pass

    def listen(self, n=0):
        pass

    def accept(self):
        raise OSError(EAGAIN)

    def recvfrom(self, n):
        raise OSError(EAGAIN)

    def sendto(self, d, a):
        return len(d)

    def close(self):
        self._closed = True


class SSLSocket:
    """ssl.SSLSocket of MicroPython 1.22: a stream, not a socket."""

    def __init__(self, raw):
        self._raw = raw

    def _ready(self):
        return self._raw._ready()

    def read(self, n=-1):
        return self._raw.read(n)

    def readinto(self, buf, n=-1):
        return self._raw.readinto(buf, n)

    def readline(self):
        return self._raw.readline()

    def write(self, d):
        return self._raw.write(d)

    def setblocking(self, flag):
        self._raw.setblocking(flag)

    def close(self):
        self._raw.close()

    def getpeercert(self, binary_form):
        return b"DER"

    def cipher(self):
        return ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLSv1.2")


class SSLContext:
    """ssl.SSLContext of MicroPython 1.22 (extmod/modssl_mbedtls.c)."""

    def __init__(self, protocol):
        self.verify_mode = ssl_mod.CERT_NONE
        self._cadata = None
        self._cert = None

    def load_verify_locations(self, *args, **kw):
        if kw:
            raise TypeError("function doesn't take keyword arguments")
        if len(args) != 1:
            raise TypeError("function takes 2 positional arguments but %d were given" % (len(args) + 1))
        self._cadata = bytes(args[0])

    def load_cert_chain(self, cert, key):
        if not isinstance(cert, (bytes, str)) or not isinstance(key, (bytes, str)):
            raise TypeError("can't convert to str implicitly")
        self._cert = cert

    def get_ciphers(self):
        return ["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"]

    def set_ciphers(self, c):
        pass

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        if server_hostname is None and self.verify_mode == ssl_mod.CERT_REQUIRED and not server_side:
            raise ValueError("CERT_REQUIRED requires server_hostname")
        Net.handshakes += 1
        if self.verify_mode != ssl_mod.CERT_REQUIRED:
            print("INSECURE: TLS without CERT_REQUIRED: the gateway's certificate is not checked")
        if MODE == "tlshung":
            if Net.handshakes > 3:
                raise Done()  # three handshakes given up: each was bounded
            sock._wait()  # the gateway never answers the ClientHello
        if self._cadata != CA.encode():
            raise ValueError("The certificate is not correctly signed by the trusted CA")
        if server_hostname != "gw.local":
            raise ValueError("The certificate Common Name (CN) does not match with the expected CN")
        if self._cert is None:
            print("NO CLIENT CERTIFICATE")
        return SSLSocket(sock)


class ssl_mod:
    PROTOCOL_TLS_CLIENT = 0
    PROTOCOL_TLS_SERVER = 1
    CERT_NONE = 0
    CERT_OPTIONAL = 1
    CERT_REQUIRED = 2
    MBEDTLS_VERSION = "Mbed TLS 3.5.1"
    SSLContext = SSLContext


class Poll:
    """select.poll() of MicroPython 1.22 (extmod/modselect.c)."""

    def __init__(self):
        self._reg = {}

    def register(self, obj, mask=1 | 4):
        self._reg[id(obj)] = [obj, mask]

    def unregister(self, obj):
        self._reg.pop(id(obj), None)

    def modify(self, obj, mask):
        if id(obj) not in self._reg:
            raise OSError(2)  # ENOENT
        self._reg[id(obj)][1] = mask

    def poll(self, timeout=-1):
        ready = []
        for obj, mask in self._reg.values():
            ev = 0
            if mask & select_mod.POLLIN and obj._ready():
                ev |= select_mod.POLLIN
            if mask & select_mod.POLLOUT:
                ev |= select_mod.POLLOUT
            if ev:
                ready.append((obj, ev))
        if not ready and (timeout is None or timeout < 0):
            print("HANG: poll() with no timeout and nothing ready would wait for ever")
            raise SystemExit(9)
        return ready

    def ipoll(self, timeout=-1, flags=0):
        return iter(self.poll(timeout))


class select_mod:
    POLLIN = 1
    POLLOUT = 4
    POLLERR = 8
    POLLHUP = 16
    poll = Poll


class socket_mod:
    AF_INET = 2
    AF_INET6 = 10
    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    SOCK_RAW = 3
    IPPROTO_TCP = 6
    SOL_SOCKET = 4095
    SO_REUSEADDR = 4
    socket = socket_


def getaddrinfo(h, p, af=0, typ=0, proto=0, flags=0):
    Net.asked.append(h)
    return [(2, 1, 0, "", (h, p))]


socket_mod.getaddrinfo = getaddrinfo


class WDT:
    """machine.WDT of MicroPython 1.22 on an ESP32: WDT(id=0, timeout=5000), feed()."""

    feeds = 0
    made = None

    def __init__(self, id=0, timeout=5000):
        WDT.made = timeout

    def feed(self):
        WDT.feeds += 1


class Pin:
    OUT = 3
    IN = 1

    def __init__(self, pin, mode=-1, pull=-1, value=None):
        self.v = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v

    def on(self):
        self.v = 1

    def off(self):
        self.v = 0


def reset():
    print("machine.reset() after %d watchdog feeds (WDT timeout %s ms)" % (WDT.feeds, WDT.made))
    raise Done()


class machine_mod:
    WDT = WDT
    Pin = Pin
    reset = reset

    @staticmethod
    def unique_id():
        return b"\x24\x0a\xc4\x12\x34\x56"


class WLAN:
    def __init__(self, interface_id=0):
        self._on = False
        self._up = False

    def active(self, is_active=None):
        if is_active is None:
            return self._on
        self._on = is_active

    def connect(self, ssid=None, key=None):
        self._up = True

    def disconnect(self):
        self._up = False

    def isconnected(self):
        return self._up

    def status(self, param=None):
        if param == "rssi":
            return -50
        return 1010 if self._up else 1001

    def ifconfig(self, cfg=None):
        return ("192.168.1.77", "255.255.255.0", "192.168.1.1", "192.168.1.1")


class network_mod:
    STA_IF = 0
    AP_IF = 1
    WLAN = WLAN


class config_mod:
    WIFI_SSID = "lab"
    WIFI_PASSWORD = "secret"
    GATEWAY_HOST = "127.0.0.1"
    GATEWAY_PORT = 1
    INTERVAL = 0.02
    WATCHDOG = 30
    READ_TIMEOUT = 1
    BACKOFF_MIN = 0.01
    BACKOFF_MAX = 0.05


if MODE == "board":
    with open("/gatewayd_boot", "w") as f:
        f.write("6\n")  # six boots before this one
    sys.modules["machine"] = machine_mod
    sys.modules["network"] = network_mod
    sys.modules["config"] = config_mod
    _write = socket_.write

    def write_then_fail(self, d):
        if Net.data_lines >= 10:
            raise MemoryError("memory allocation failed, allocating 4096 bytes")
        return _write(self, d)

    socket_.write = write_then_fail
sys.modules["socket"] = socket_mod
sys.modules["ssl"] = ssl_mod
sys.modules["select"] = select_mod

g = {"__name__": "gatewayd_client"}
exec(SRC, g)
host = "" if MODE == "mdns" else ("gw.local" if MODE.startswith("tls") else "127.0.0.1")
args = ["--host", host, "--port", "1", "--interval", "0", "--count", "8", "--backoff-min", "0.01",
        "--backoff-max", "0.05", "--id", "esp32-TEST", "--read-timeout", "1"]
if MODE.startswith("tls"):
    # A config.py as `gatewayctl pki board` prints it.
    with open("/tls_config.py", "w") as f:
        f.write("GATEWAY_TLS = True\nGATEWAY_CA_PEM = %r\n" % CA)
        f.write("CLIENT_CERT_PEM = %r\nCLIENT_KEY_PEM = %r\n" % ("-----BEGIN CERTIFICATE-----\nB\n", "-----BEGIN EC PRIVATE KEY-----\nK\n"))
    args += ["--config", "/tls_config.py"]
if MODE == "tlshung":
    args[args.index("--count") + 1] = "1"
try:
    rc = g["main"](args)
except Done:
    rc = 0
print("asked for %s" % ",".join(Net.asked))
print("handshakes %d" % Net.handshakes)
print("RESULT rc=%d" % rc)
