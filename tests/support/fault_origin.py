#!/usr/bin/env python3
"""An HTTP origin that misbehaves on request, for the tests of fetches from --origin (tests/support/http_origin.hpp).

Listens on 127.0.0.1 on a free port and prints that port as the first line of stdout. Each request is logged to
--log as one line, "METHOD PATH IF-NONE-MATCH" ("-" when absent), flushed at once. What a request gets depends on
its path; the last component is the requested name and is ignored, so a TFTP test can use
--origin http://127.0.0.1:PORT/<behaviour>/ with any file name:

  /ok/SIZE/NAME                   200, Content-Length, the test pattern (seed 0), ETag "v1" and a fixed
                                  Last-Modified; If-None-Match "v1" (or *) gets 304
  /no-length/SIZE/NAME            200 without Content-Length, the body ended by closing the connection
                                  (HTTP/1.1 with "Connection: close", no chunked encoding)
  /slow-first-byte/MS/SIZE/NAME   MS milliseconds before the status line, then as /ok
  /cut/SIZE/AT/NAME               Content-Length SIZE, AT bytes of it, then the connection closed
  /stall/SIZE/AT/NAME             Content-Length SIZE, AT bytes, then silence (at most 60 s, or until the client
                                  goes) without closing
  /status/CODE/NAME               that status with a small body
  /redirect-loop/NAME             302 to itself, forever
  /redirect/N/NAME                N redirects, then /ok/1000/NAME
  /redirect-file/NAME             302 to file:///etc/passwd
  /slow-body/SIZE/CHUNK/MS/NAME   Content-Length SIZE, CHUNK bytes every MS milliseconds
  /long-etag/LENGTH/NAME          as /ok/10, with an ETag LENGTH characters long (quotes included)

Python 3 standard library only.
"""

import argparse
import http.server
import select
import struct
import sys
import threading
import time

MASK = (1 << 64) - 1
MAX_SILENCE = 60.0  # seconds: a stall never outlives a test that forgot its client
MAX_SIZE = 1 << 32
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


# tests/support/pattern.hpp, word for word: a test compares a fetched body with tftp::test::pattern().
def mix(x):
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def pattern_word(index, seed):
    return mix(index ^ (((seed + 1) * 0x9E3779B97F4A7C15) & MASK))


class Pattern:
    """The pattern's bytes for seed 0, computed once up to the largest offset asked for so far."""

    def __init__(self):
        self._lock = threading.Lock()
        self._bytes = bytearray()

    def slice(self, offset, length):
        end = offset + length
        with self._lock:
            if len(self._bytes) < end:
                first = len(self._bytes) // 8
                last = (end + 7) // 8
                self._bytes += b"".join(struct.pack("<Q", pattern_word(i, 0)) for i in range(first, last))
            return bytes(self._bytes[offset:end])


PATTERN = Pattern()


class BadRequest(Exception):
    pass


def number(text, limit=MAX_SIZE):
    if not text.isdigit() or int(text) > limit:
        raise BadRequest(text)
    return int(text)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive where a length allows it: curl reuses connections
    server_version = "fault-origin"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def do_GET(self):
        self.server.log(f"GET {self.path} {self.headers.get('If-None-Match') or '-'}")
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        try:
            self.dispatch(parts[0], parts[1:-1])
        except BadRequest:
            self.reply(400, b"bad request\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def dispatch(self, behaviour, args):
        if behaviour == "ok" and len(args) == 1:
            self.ok(number(args[0]))
        elif behaviour == "no-length" and len(args) == 1:
            self.no_length(number(args[0]))
        elif behaviour == "slow-first-byte" and len(args) == 2:
            time.sleep(min(number(args[0]) / 1000, MAX_SILENCE))
            self.ok(number(args[1]))
        elif behaviour == "cut" and len(args) == 2:
            self.partial(number(args[0]), number(args[1]))
            self.close_connection = True
        elif behaviour == "stall" and len(args) == 2:
            self.partial(number(args[0]), number(args[1]))
            self.wait_for_client_to_go(MAX_SILENCE)
            self.close_connection = True
        elif behaviour == "status" and len(args) == 1:
            code = number(args[0], 999)
            if code < 200:
                raise BadRequest(args[0])
            self.reply(code, b"" if code in (204, 304) else f"status {code}\n".encode())
        elif behaviour == "redirect-loop" and not args:
            self.redirect(self.path)
        elif behaviour == "redirect" and len(args) == 1:
            left = number(args[0])
            name = self.path.rstrip("/").rsplit("/", 1)[-1]
            if left == 0:
                self.ok(1000)
            else:
                self.redirect(f"/redirect/{left - 1}/{name}" if left > 1 else f"/ok/1000/{name}")
        elif behaviour == "redirect-file" and not args:
            self.redirect("file:///etc/passwd")
        elif behaviour == "long-etag" and len(args) == 1:
            length = number(args[0], 1 << 16)
            if length < 2:
                raise BadRequest(args[0])
            self.reply(200, PATTERN.slice(0, 10), (("ETag", '"' + "x" * (length - 2) + '"'),))
        elif behaviour == "slow-body" and len(args) == 3:
            self.slow_body(number(args[0]), number(args[1]), number(args[2]))
        else:
            raise BadRequest(behaviour)

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        if code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def ok(self, size):
        validators = (("ETag", ETAG), ("Last-Modified", LAST_MODIFIED))
        asked = [tag.strip() for tag in (self.headers.get("If-None-Match") or "").split(",")]
        if ETAG in asked or "*" in asked:
            self.reply(304, b"", validators)
            return
        self.send_response(200)
        for name, value in validators:
            self.send_header(name, value)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.send_body(0, size)

    def no_length(self, size):
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.send_body(0, size)
        self.close_connection = True

    def partial(self, size, at):
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.send_body(0, min(at, size))
        self.wfile.flush()

    def redirect(self, location):
        self.reply(302, b"redirected\n", (("Location", location),))

    def slow_body(self, size, chunk, ms):
        if chunk == 0:
            raise BadRequest("chunk 0")
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.flush()
        for offset in range(0, size, chunk):
            self.send_body(offset, min(chunk, size - offset))
            self.wfile.flush()
            if offset + chunk < size:
                time.sleep(ms / 1000)

    def send_body(self, offset, size, piece=1 << 16):
        for at in range(offset, offset + size, piece):
            self.wfile.write(PATTERN.slice(at, min(piece, offset + size - at)))

    def wait_for_client_to_go(self, limit):
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable and not self.connection.recv(4096):
                return  # the client closed its end


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log_path):
        super().__init__(("127.0.0.1", 0), Handler)
        self._log = open(log_path, "a", encoding="utf-8")
        self._log_lock = threading.Lock()

    def log(self, line):
        with self._log_lock:
            self._log.write(line + "\n")
            self._log.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True, help="one line per request")
    args = parser.parse_args()
    server = Server(args.log)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
