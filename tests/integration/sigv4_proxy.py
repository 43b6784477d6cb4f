#!/usr/bin/python3
"""An S3 front on loopback that checks every request's AWS Signature Version 4
with botocore (Debian's python3-botocore, AWS's own Python signer) before it
passes the request on to an upstream S3 (s3rver, which checks no signature).

    sigv4_proxy.py --access-key AK --secret-key SK [--region R] [--log FILE]
                   [--tls-cert CRT --tls-key KEY] UPSTREAM_HOST UPSTREAM_PORT

Listens on 127.0.0.1 (a free port; HTTPS with --tls-cert, to an HTTPS
upstream) and prints "listening on PORT". For each
request, as S3 would:

  - the Authorization header must be AWS4-HMAC-SHA256 with a Credential of
    AK/DATE/R/s3/aws4_request (DATE the day of x-amz-date), SignedHeaders that
    include host and x-amz-date, and a Signature; x-amz-date within 15
    minutes of the clock;
  - the canonical request is rebuilt from the request as it arrived: the
    method, the path as sent, the query decoded and encoded again (RFC 3986,
    sorted), the signed headers, x-amz-content-sha256; botocore's
    S3SigV4Auth signs it with SK and the signature must be the client's;
  - the body must hash to x-amz-content-sha256 (unless UNSIGNED-PAYLOAD).

A request that fails is answered 403 with S3's error (AccessDenied,
InvalidAccessKeyId, RequestTimeTooSkewed, SignatureDoesNotMatch,
XAmzContentSHA256Mismatch) and
goes no further. Each request appends to the log "ok METHOD TARGET" or
"bad CODE METHOD TARGET: why". A connection idle for 5 s between requests is
closed, as s3rver's are. Stops on SIGTERM.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import re
import ssl
import sys
import threading
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
# An idle kept-alive connection is closed after this, as Node's HTTP server (s3rver) does.
IDLE_S = 5
# S3 refuses a request signed further than this from its own clock.
SKEW_MAX_S = 15 * 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--log")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (and --tls-key); "
                    "the upstream is then HTTPS too, its certificate not checked")
    ap.add_argument("--tls-key")
    ap.add_argument("upstream_host")
    ap.add_argument("upstream_port", type=int)
    a = ap.parse_args()
    lock = threading.Lock()

    def log(line):
        if a.log:
            with lock, open(a.log, "a") as f:
                f.write(line + "\n")

    def check(h, body):
        """None when the request is signed right, else (S3 error code, why)."""
        auth = h.headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            return "AccessDenied", "no AWS4-HMAC-SHA256 Authorization header: %r" % auth[:80]
        key, day, region, service, signed, sig = m.groups()
        if key != a.access_key:
            return "InvalidAccessKeyId", "access key %s" % key
        amz_date = h.headers.get("x-amz-date", "")
        if not re.match(r"^\d{8}T\d{6}Z$", amz_date) or amz_date[:8] != day:
            return "AccessDenied", "x-amz-date %r against the scope's day %s" % (amz_date, day)
        sent = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - sent).total_seconds())
        if skew > SKEW_MAX_S:
            return "RequestTimeTooSkewed", "x-amz-date %s is %.0f s off" % (amz_date, skew)
        if region != a.region or service != "s3":
            return "SignatureDoesNotMatch", "scope %s/%s" % (region, service)
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names or names != sorted(names):
            return "SignatureDoesNotMatch", "SignedHeaders %s" % signed
        missing = [n for n in names if h.headers.get(n) is None]
        if missing:
            return "SignatureDoesNotMatch", "signed headers not sent: %s" % ",".join(missing)
        payload = h.headers.get("x-amz-content-sha256")
        if payload is None:
            return "AccessDenied", "no x-amz-content-sha256"
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch", "the body does not hash to %s" % payload
        target = urlsplit(h.path)
        # only the signed headers, as received (several of one name joined by commas)
        headers = {n: ",".join(h.headers.get_all(n)) for n in names}
        req = AWSRequest(method=h.command, url="http://%s%s" % (h.headers["host"], target.path),
                         headers=headers, data=body)
        req.params = parse_qsl(target.query, keep_blank_values=True)
        req.context["timestamp"] = amz_date
        signer = S3SigV4Auth(Credentials(a.access_key, a.secret_key), "s3", a.region)
        ours = signer.signed_headers(signer.headers_to_sign(req))
        if ours != signed:
            return "SignatureDoesNotMatch", "botocore signs %s" % ours
        canonical = signer.canonical_request(req)
        want = signer.signature(signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(want, sig):
            return "SignatureDoesNotMatch", "canonical request %r" % canonical
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_one_request(self):
            # between requests, at most IDLE_S; within one, as long as it takes
            self.connection.settimeout(IDLE_S)
            try:
                more = self.rfile.peek(1)
            except OSError:
                more = b""
            if not more:
                self.close_connection = True
                return
            self.connection.settimeout(None)
            super().handle_one_request()

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return bytes(out)
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def answer(self, status, headers, body):
            self.send_response(status)
            length = str(len(body))
            for k, v in headers:
                if k.lower() == "content-length" and self.command == "HEAD":
                    length = v  # the object's, which a HEAD describes without a body
                elif k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            body = self.read_body()
            bad = check(self, body)
            if bad:
                code, why = bad
                log("bad %s %s %s: %s" % (code, self.command, self.path, why))
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                       "<Message>checked by sigv4_proxy.py</Message></Error>" % code).encode()
                self.answer(403, [("Content-Type", "application/xml")], xml)
                return
            log("ok %s %s" % (self.command, self.path))
            if a.tls_cert:
                up = http.client.HTTPSConnection(a.upstream_host, a.upstream_port, timeout=120,
                                                 context=ssl._create_unverified_context())
            else:
                up = http.client.HTTPConnection(a.upstream_host, a.upstream_port, timeout=120)
            try:
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in HOP | {"expect"}}
                up.request(self.command, self.path, body=body if body or self.command in
                           ("PUT", "POST") else None, headers=fwd)
                r = up.getresponse()
                data = r.read()
                self.answer(r.status, r.getheaders(), data)
            finally:
                up.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
