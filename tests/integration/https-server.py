#!/usr/bin/env python3
"""A loopback HTTPS server for the fetch tests, the STI-CR an x5u points at.

usage: https-server.py DIR CERT KEY PORTFILE

Serves the files of DIR over TLS (CERT, KEY) on 127.0.0.1 at a free port,
which it writes to PORTFILE once it listens.  Some paths answer the way a
hostile or broken server would:

  /redirect-http   302 to the same server over http://
  /redirect-loop   302 to itself, for ever
  /redirect-ok     302 to /chain.pem, over https
  /big             10 MB of PEM-looking bytes, no Content-Length
  /big-declared    Content-Length: 10485760, then the same bytes
  /stall           headers never sent
  /cc/VALUE/FILE   FILE with "Cache-Control: VALUE"
  /expires/S/FILE  FILE with an Expires header S seconds from now

For the general request (fetch.h's sks_fetch_request), what a protocol
server such as ACME answers:

  POST|PUT /echo       201, Location: /made/1, Replay-Nonce: nonce-1 and a
                       JSON body echoing the method, Content-Type,
                       Authorization and body received
  HEAD|GET /nonce      200 with Replay-Nonce: nonce-2, no body
  POST /problem        400 application/problem+json, Replay-Nonce: nonce-3
  POST /redirect-ok    302 to /chain.pem (a POST must not follow it)
  GET /retry/VALUE     503 with "Retry-After: VALUE"
  GET /retry-in/S      503 with Retry-After an HTTP-date S seconds from now

As an STI-CR that takes uploads (sksctl's [publish] method = put), when
the environment names HTTPS_SERVER_PUT_AUTH, a file whose first line is
the Authorization header value it requires:

  PUT /PATH            401 without that Authorization, 415 unless the
                       Content-Type is application/pem-certificate-chain;
                       else the body becomes DIR/PATH (written to a
                       temporary file and renamed), 201

While a file named DOWN is in DIR, every path answers 503.  Each request
is logged on stderr, one line each.
"""
import email.utils
import json
import http.server
import os
import ssl
import sys
import time

root, cert, key, portfile = sys.argv[1:5]
BIG = 10 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def big(self, declared):
        self.send_response(200)
        self.send_header("Content-Type", "application/pem-certificate-chain")
        if declared:
            self.send_header("Content-Length", str(BIG))
        self.end_headers()
        chunk = b"-----BEGIN CERTIFICATE-----\n" + b"A" * 65000 + b"\n"
        try:
            sent = 0
            while sent < BIG:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True

    def answer(self, status, ctype, body, headers):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/echo":
            echo = {"method": self.command, "content_type": self.headers.get("Content-Type"),
                    "authorization": self.headers.get("Authorization"),
                    "body": body.decode("latin-1")}
            return self.answer(201, "application/json", json.dumps(echo).encode(),
                               {"Location": "/made/1", "Replay-Nonce": "nonce-1"})
        if self.path == "/problem":
            problem = {"type": "urn:ietf:params:acme:error:malformed", "detail": "test problem"}
            return self.answer(400, "application/problem+json", json.dumps(problem).encode(),
                               {"Replay-Nonce": "nonce-3"})
        if self.path == "/redirect-ok":
            return self.redirect("/chain.pem")
        self.send_error(404)
        return None

    def do_PUT(self):
        auth_file = os.environ.get("HTTPS_SERVER_PUT_AUTH")
        if self.path == "/echo" or not auth_file:
            return self.do_POST()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(auth_file, encoding="utf-8") as f:
            want = f.readline().strip()
        if self.headers.get("Authorization") != want:
            return self.answer(401, "text/plain", b"unauthorized\n",
                               {"WWW-Authenticate": "Bearer"})
        if self.headers.get("Content-Type") != "application/pem-certificate-chain":
            return self.answer(415, "text/plain", b"not a PEM chain\n", {})
        name = os.path.normpath(self.path.lstrip("/"))
        if name.startswith("..") or name.startswith("/"):
            return self.answer(403, "text/plain", b"outside\n", {})
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(body)
        os.rename(path + ".tmp", path)
        return self.answer(201, "text/plain", b"stored\n", {})

    def do_HEAD(self):
        if self.path == "/nonce":
            return self.answer(200, None, b"", {"Replay-Nonce": "nonce-2"})
        self.send_error(404)
        return None

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/nonce":
            return self.do_HEAD()
        if self.path.startswith("/retry/"):
            return self.answer(503, "text/plain", b"later\n", {"Retry-After": self.path[7:]})
        if self.path.startswith("/retry-in/"):
            when = email.utils.formatdate(time.time() + int(self.path[10:]), usegmt=True)
            return self.answer(503, "text/plain", b"later\n", {"Retry-After": when})
        headers = {}
        if os.path.exists(os.path.join(root, "DOWN")):
            self.send_error(503)
            return None
        if self.path == "/redirect-http":
            return self.redirect("http://127.0.0.1:%d/chain.pem" % port)
        if self.path == "/redirect-loop":
            return self.redirect("/redirect-loop")
        if self.path == "/redirect-ok":
            return self.redirect("/chain.pem")
        if self.path in ("/big", "/big-declared"):
            return self.big(self.path == "/big-declared")
        if self.path == "/stall":
            time.sleep(30)
            return None
        path = self.path
        parts = path.split("/", 3)
        if len(parts) == 4 and parts[1] == "cc":
            headers["Cache-Control"] = parts[2]
            path = "/" + parts[3]
        elif len(parts) == 4 and parts[1] == "expires":
            headers["Expires"] = email.utils.formatdate(time.time() + int(parts[2]), usegmt=True)
            path = "/" + parts[3]
        name = os.path.normpath(path.lstrip("/"))
        path = os.path.join(root, name)
        if name.startswith("..") or not os.path.isfile(path):
            self.send_error(404)
            return None
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/pem-certificate-chain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        return None

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
