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

While a file named DOWN is in DIR, every path answers 503.  Each request
is logged on stderr, one line each.
"""
import email.utils
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

    def do_GET(self):
        port = self.server.server_address[1]
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
