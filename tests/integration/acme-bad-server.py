#!/usr/bin/env python3
"""An ACME server on loopback that misbehaves in the ways the client must
survive, one way per URL prefix: the directory of way W is /W/dir.

usage: acme-bad-server.py DIR CERT KEY PORTFILE

Serves TLS (CERT, KEY) on 127.0.0.1 at a free port, written to PORTFILE.
DIR holds ca.pem and ca.key, with which finalize signs the CSR it is sent
(openssl x509 -req), other-chain.pem, a chain for another key, and
sti-ca.pem and sti-ca.key, a test STI-CA for the way "shaken".  It is
a fixture for the client's side of the protocol: it does not check JWS
signatures or nonces (pebble does, in acme-pebble.sh).  Ways:

  good          a well-behaved server
  shaken        the same, issuing with the STI-CA (SHAKEN profile extensions,
                the CSR's TNAuthList copied) and accepting revocations
  slow          the authorization stays pending for 2 polls, Retry-After: 1
  stuck         the authorization stays pending for ever, Retry-After: 1
  invalid       the authorization goes invalid, with the challenge's error
  rate-limited  newOrder answers 429 rateLimited with Retry-After: 30
  malformed     newOrder answers 201 with a body that is not JSON
  redirect      newOrder answers 302 to an http:// URL
  wrong-type    the certificate comes as text/html
  other-key     the certificate is for another key
  big           the certificate is 10 MB
  stall         the certificate never comes (the answer waits 20 s)

Each request is logged on stderr, one line each, with the time (seconds
since the epoch): "POST /W/authz/1 1765000000.123".
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time

root, cert, key, portfile = sys.argv[1:5]
lock = threading.Lock()
state = {}  # way -> {"answered", "polls", "finalized", "chain"}


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def base(self):
        return "https://localhost:%d" % self.server.server_address[1]

    def answer(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Replay-Nonce", base64.urlsafe_b64encode(os.urandom(12)).decode())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def problem(self, status, kind, detail, headers=None):
        self.answer(status, {"type": "urn:ietf:params:acme:error:" + kind, "detail": detail},
                    "application/problem+json", headers)

    def log_message(self, fmt, *args):
        pass

    def route(self):
        sys.stderr.write("%s %s %.3f\n" % (self.command, self.path, time.time()))
        sys.stderr.flush()
        parts = self.path.strip("/").split("/")
        return parts[0], "/".join(parts[1:])

    def do_GET(self):
        way, rest = self.route()
        b = "%s/%s" % (self.base(), way)
        if rest == "dir":
            return self.answer(200, {"newNonce": b + "/nonce", "newAccount": b + "/account",
                                     "newOrder": b + "/order", "revokeCert": b + "/revoke",
                                     "keyChange": b + "/key-change"})
        if rest == "nonce":
            return self.answer(200, b"", "text/plain")
        return self.problem(404, "malformed", "no such resource")

    do_HEAD = do_GET

    def do_POST(self):
        way, rest = self.route()
        length = int(self.headers.get("Content-Length", "0"))
        jws = json.loads(self.rfile.read(length) or b"{}")
        payload = b64d(jws.get("payload", "")) if jws.get("payload") else b""
        b = "%s/%s" % (self.base(), way)
        with lock:
            st = state.setdefault(way, {"answered": False, "polls": 0, "finalized": False})
        if rest == "account":
            return self.answer(201, {"status": "valid"}, headers={"Location": b + "/acct/1"})
        if rest == "order":
            if way == "rate-limited":
                return self.problem(429, "rateLimited", "too many new orders",
                                    {"Retry-After": "30"})
            if way == "malformed":
                return self.answer(201, b"{not json", headers={"Location": b + "/o/1"})
            if way == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://localhost:1/order")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            with lock:
                st = state[way] = {"answered": False, "polls": 0, "finalized": False}
            return self.answer(201, self.order(b, st), headers={"Location": b + "/o/1"})
        if rest == "authz/1":
            return self.authz(b, way, st)
        if rest == "chall/1":
            st["answered"] = True
            return self.answer(200, {"type": "http-01", "url": b + "/chall/1",
                                     "status": "processing", "token": "t"})
        if rest == "o/1":
            return self.answer(200, self.order(b, st))
        if rest == "finalize/1":
            csr = b64d(json.loads(payload)["csr"])
            st["chain"] = self.sign(csr, "sti-ca" if way == "shaken" else "ca")
            st["finalized"] = True
            return self.answer(200, self.order(b, st))
        if rest == "cert/1":
            if way == "wrong-type":
                return self.answer(200, st["chain"], "text/html")
            if way == "other-key":
                with open(os.path.join(root, "other-chain.pem"), "rb") as f:
                    return self.answer(200, f.read(), "application/pem-certificate-chain")
            if way == "stall":
                time.sleep(20)
                return None
            if way == "big":
                return self.answer(200, b"A" * (10 * 1024 * 1024),
                                   "application/pem-certificate-chain")
            return self.answer(200, st["chain"], "application/pem-certificate-chain")
        if rest == "revoke":
            return self.answer(200, b"", "text/plain")
        return self.problem(404, "malformed", "no such resource")

    def authz_status(self, way, st):
        if not st["answered"]:
            return "pending"
        if way == "invalid":
            return "invalid"
        if way == "stuck":
            return "pending"
        if way == "slow":
            st["polls"] += 1
            return "pending" if st["polls"] <= 2 else "valid"
        return "valid"

    def authz(self, b, way, st):
        status = self.authz_status(way, st)
        chall = {"type": "http-01", "url": b + "/chall/1", "token": "t",
                 "status": "pending" if not st["answered"] else status}
        if status == "invalid":
            chall["error"] = {"type": "urn:ietf:params:acme:error:unauthorized",
                              "detail": "the token was refused"}
        headers = {"Retry-After": "1"} if status == "pending" and st["answered"] else {}
        return self.answer(200, {"status": status, "identifier": {"type": "dns", "value": way},
                                 "challenges": [chall]}, headers=headers)

    def order(self, b, st):
        o = {"identifiers": [], "authorizations": [b + "/authz/1"], "finalize": b + "/finalize/1"}
        if st["finalized"]:
            o["status"] = "valid"
            o["certificate"] = b + "/cert/1"
        elif st["answered"] and self.authz_status_peek(st):
            o["status"] = "ready"
        else:
            o["status"] = "pending"
        return o

    def authz_status_peek(self, st):
        return st["answered"] and (st["polls"] > 2 or st["polls"] == 0)

    def sign(self, csr, ca):
        shaken = ("basicConstraints = critical,CA:FALSE\n"
                  "keyUsage = critical,digitalSignature\n"
                  "subjectKeyIdentifier = hash\n"
                  "authorityKeyIdentifier = keyid:always\n"
                  "certificatePolicies = 2.16.840.1.114569.1.1.4\n"
                  "crlDistributionPoints = URI:https://sti-ca.test/crl.pem\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "csr.der"), "wb") as f:
                f.write(csr)
            with open(os.path.join(d, "ext"), "w") as f:
                f.write(shaken if ca == "sti-ca" else "")
            out = os.path.join(d, "cert.pem")
            extra = ["-copy_extensions", "copyall", "-extfile", os.path.join(d, "ext")] \
                if ca == "sti-ca" else []
            subprocess.run(["openssl", "x509", "-req", "-inform", "DER", "-in",
                            os.path.join(d, "csr.der"), "-CA", os.path.join(root, ca + ".pem"),
                            "-CAkey", os.path.join(root, ca + ".key"), "-set_serial",
                            str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
                            "-out", out] + extra, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out, "rb") as f, open(os.path.join(root, ca + ".pem"), "rb") as c:
                return f.read() + c.read()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
