#!/usr/bin/env python3
"""A TCP proxy on loopback that passes answers on at a bounded rate.

    slow_proxy.py [--log FILE] [--hold REGEX --release FILE]
                  UPSTREAM_HOST UPSTREAM_PORT BYTES_PER_SECOND [DELAY_SECONDS [PORT]]

Listens on 127.0.0.1:PORT (a free port when 0 or not given: a proxy
started again on the port of one that was stopped stands for an S3 that
came back), prints "listening on PORT", and forwards
every connection to UPSTREAM, each direction of each connection at most
BYTES_PER_SECOND (0: no bound). With DELAY_SECONDS, every piece read from
the client waits that long before it goes upstream, so that even a small
request (an S3 PUT of a record) takes that long: a slow S3's round trip.
The registry tests put it in front of s3rver to make an S3 transfer last
long enough to watch the registry serve other requests meanwhile. Stops on
SIGTERM.

With --log, the proxy reads the HTTP/1.1 requests in what clients send
(their heads, skipping bodies by Content-Length) and appends a line
"METHOD TARGET" to FILE for each one as soon as its head has arrived, before
it goes upstream: a test knows which S3 request is in flight. With --hold,
the first request whose "METHOD TARGET" matches REGEX (re.search) is held
back, after its log line, until the file --release names exists: a test
does what it must while that request has reached the store's side but not
the store, then creates the file (no timing involved). The log then gets
"released METHOD TARGET".
"""
import argparse
import os
import re
import socket
import threading
import time

CHUNK = 16384
# a request head longer than this is not parsed further (S3 requests' heads are a few KB)
HEAD_MAX = 65536
# how often a held request looks for its release file
RELEASE_POLL_S = 0.01


class Watch:
    """The requests of one client connection, found in its bytes as they pass."""

    hold_lock = threading.Lock()
    held_once = False

    def __init__(self, opts):
        self.opts = opts
        self.buf = b""
        self.body_left = 0
        self.broken = False  # chunked or unparsable: the rest of the connection is not logged

    def log(self, line):
        with open(self.opts.log, "a") as f:
            f.write(line + "\n")

    def feed(self, data):
        """Logs the requests whose heads end in data; holds one when it matches --hold."""
        while data and not self.broken:
            if self.body_left:
                n = min(self.body_left, len(data))
                self.body_left -= n
                data = data[n:]
                continue
            self.buf += data
            data = b""
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > HEAD_MAX:
                    self.broken = True
                return
            head, data = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            self.buf = b""
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.broken = True
                return
            line = "%s %s" % (parts[0], parts[1])
            self.log(line)
            for h in lines[1:]:
                name, _, value = h.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    self.body_left = int(value.strip())
                elif name == "transfer-encoding":
                    self.broken = True
            self.hold(line)

    def hold(self, line):
        o = self.opts
        if not o.hold or not re.search(o.hold, line):
            return
        with Watch.hold_lock:
            if Watch.held_once:
                return
            Watch.held_once = True
        while not os.path.exists(o.release):
            time.sleep(RELEASE_POLL_S)
        self.log("released " + line)


def pipe(src, dst, rate, delay=0.0, watch=None):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            if watch:
                watch.feed(data)
            if delay:
                time.sleep(delay)
            dst.sendall(data)
            if rate:
                sent += len(data)
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, opts):
    try:
        up = socket.create_connection((opts.host, opts.port))
    except OSError:
        conn.close()
        return
    watch = Watch(opts) if opts.log else None
    threading.Thread(target=pipe, args=(conn, up, opts.rate, opts.delay, watch),
                     daemon=True).start()
    pipe(up, conn, opts.rate)
    conn.close()
    up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--hold")
    ap.add_argument("--release")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("rate", type=int)
    ap.add_argument("delay", type=float, nargs="?", default=0.0)
    ap.add_argument("listen_port", type=int, nargs="?", default=0)
    opts = ap.parse_args()
    if opts.hold and not (opts.log and opts.release):
        ap.error("--hold needs --log and --release")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", opts.listen_port))
    ls.listen(64)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, opts), daemon=True).start()


if __name__ == "__main__":
    main()
