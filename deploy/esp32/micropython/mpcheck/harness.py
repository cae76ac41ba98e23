# Runs gatewayd_client.py's real logic under MicroPython (run.mjs loads it
# into the WebAssembly port, which has no socket module) with an in-memory
# echo "network": two refused connects, echoes split into 5-byte pieces, a
# connection dropped by the "gateway", and (when CORRUPT_AT > 0) one
# corrupted echo. SRC and CORRUPT_AT are set by run.mjs.
import sys

class Net:
    refuse = 2
    sends = 0
    drop_at = 3
    corrupt_at = CORRUPT_AT

class FakeSock:
    def __init__(self, fam, typ):
        self.buf = b""
        self.eof = False
    def settimeout(self, t):
        pass
    def connect(self, addr):
        if Net.refuse > 0:
            Net.refuse -= 1
            raise OSError(111)
    def sendall(self, d):
        Net.sends += 1
        if Net.sends == Net.drop_at:
            self.eof = True
            return
        d = bytes(d)
        if Net.sends == Net.corrupt_at:
            d = d.replace(b"seq", b"SEQ")
        self.buf += d
    def recv(self, n):
        if self.eof:
            return b""
        if not self.buf:
            raise OSError(110)
        n = min(n, 5)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def close(self):
        pass

class FakeSocketModule:
    AF_INET = 2
    SOCK_STREAM = 1
    socket = FakeSock

def getaddrinfo(h, p):
    return [(2, 1, 0, "", (h, p))]

m = FakeSocketModule()
m.getaddrinfo = getaddrinfo
sys.modules["socket"] = m

g = {"__name__": "gatewayd_client"}
exec(SRC, g)
args = ["--port", "1", "--interval", "0", "--count", "8", "--backoff-min", "0.01", "--backoff-max", "0.05", "--id", "esp32-TEST"]
rc = g["main"](args)
print("RESULT rc=%d" % rc)
