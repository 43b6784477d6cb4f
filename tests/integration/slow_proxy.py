#!/usr/bin/env python3
"""A TCP proxy on loopback that passes answers on at a bounded rate.

    slow_proxy.py UPSTREAM_HOST UPSTREAM_PORT BYTES_PER_SECOND [DELAY_SECONDS [PORT]]

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
"""
import socket
import sys
import threading
import time

CHUNK = 16384


def pipe(src, dst, rate, delay=0.0):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
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


def serve(conn, host, port, rate, delay):
    try:
        up = socket.create_connection((host, port))
    except OSError:
        conn.close()
        return
    threading.Thread(target=pipe, args=(conn, up, rate, delay), daemon=True).start()
    pipe(up, conn, rate)
    conn.close()
    up.close()


def main():
    host, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    listen_port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    print("listening on %d" % ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, host, port, rate, delay),
                         daemon=True).start()


if __name__ == "__main__":
    main()
