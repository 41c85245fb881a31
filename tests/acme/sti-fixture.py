#!/usr/bin/env python3
"""A test STI-PA and STI-CA (ATIS-1000080) on loopback HTTPS, for the ACME tests.

usage: sti-fixture.py PKI STATE TLS-CERT TLS-KEY TLS-CA PORTFILE

PKI is a directory `sksctl pki` wrote (root.pem/root.key: the STI-PA root;
ca.pem/ca.key: the STI-CA).  STATE is the fixture's own directory; it reads
there:

  stipa-accounts.json  {"ACCOUNT": {"key": "API KEY", "spcs": ["1234", ...]}}:
                       the STI-PA's accounts, their API keys and the SPCs
                       each owns (read at each request)
  MODE                 one hostile mode per line (read at each request):
    malformed-json     every STI-CA answer is cut JSON
    huge-body          every STI-CA answer is 10 MB
    chain-other-key    the chain's certificate is for a key of the fixture's
    chain-other-spc    the certificate names SPC 9999, not the order's
    chain-expired      the certificate expired yesterday
    wrong-content-type the chain comes as text/html
    rate-limited       newOrder answers 429 rateLimited, Retry-After: 2
    order-invalid      finalize turns the order invalid
    stall              every STI-CA POST is held, never answered
    slow-validation    a tkauth-01 answer is "processing" for a second: the
                       authorization says pending, with Retry-After: 1
    hold-validation    a tkauth-01 answer stays "processing" while this mode
                       is set (a client to interrupt at a known point)
    orders-expired     an order made before this mode was set that is fetched
                       and is not valid yet has expired: invalid from then on
    ari-due            the renewal information (RFC 9773) of every
                       certificate suggests a window that began an hour ago
    stipa-expired      the STI-PA issues tokens that expired a minute ago
    stipa-padded-base64  the STI-PA writes tkvalue in padded standard base64,
                       as the deployed one does, not RFC 9448's base64url
    stipa-malformed-json, stipa-huge-body, stipa-wrong-content-type (text/html),
    stipa-stall        the same faults in the STI-PA's token API answers
  orders.log           (written) each order's identifier, a JSON line each
  crl-url              the CRL distribution point of issued certificates
                       (default https://sti-ca.test/crl.pem, as sksctl pki's)

It makes the STI-PA's token-signing key and certificate (issued by the
STI-PA root) at start, in STATE/stipa.pem, and serves on 127.0.0.1 at a
free port, written to PORTFILE once it listens:

  STI-PA   POST /stipa/account/ID/token   (Authorization: Bearer KEY)
               {"atc":{"tktype","tkvalue","ca","fingerprint"}} -> {"status":
               "success","token":...}: an SPC token (ES256 JWT, x5u to the
               certificate below) for the SPC and fingerprint requested,
               if the account owns the SPC
           GET  /stipa/cert.pem               the token-signing certificate
  STI-CA   GET  /acme/directory, HEAD|GET /acme/new-nonce, and POST
               (RFC 8555 JWS) new-account, new-order, authz/N, chall/N,
               order/N, order/N/finalize, cert/N, acct/N, key-change,
               revoke-cert (by the ordering account or the certificate's key)
           GET  /acme/renewal-info/CERTID     RFC 9773 renewal information of a
               certificate it issued: its suggestedWindow, the last third of
               its lifetime (or, in ari-due, one that began an hour ago)

The STI-CA takes nothing on trust: each POST's JWS is verified (ES256, jwk
for new-account and kid after, the url header, a nonce it issued and has
not seen used); the tkauth-01 answer's token is verified against the
certificate its x5u names (fetched over HTTPS, chained to the STI-PA root),
its atc claim against the order's TNAuthList identifier, the account key's
fingerprint and its exp; the CSR against the order's TNAuthList.  Each
request is logged on stderr, one line each.
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.request

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)
from cryptography.x509.oid import NameOID

pki, state, tls_cert, tls_key, tls_ca, portfile = sys.argv[1:7]
TNAUTHLIST_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26")
DEFAULT_CRL_URL = "https://sti-ca.test/crl.pem"
BIG = 10 * 1024 * 1024
MAX_BODY = 64 * 1024
ERR = "urn:ietf:params:acme:error:"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64_any(s):
    """base64url, or the padded standard base64 a deployed STI-PA writes in tkvalue."""
    if isinstance(s, str) and ("+" in s or "/" in s or s.endswith("=")):
        if len(s) % 4 or not s.rstrip("=").replace("+", "").replace("/", "").isalnum():
            raise ValueError("not base64")
        return base64.b64decode(s, validate=True)
    return unb64u(s)


def unb64u(s):
    if not isinstance(s, str) or "=" in s or not s.replace("-", "").replace("_", "").isalnum():
        if s != "":
            raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_pem(name):
    with open(os.path.join(pki, name), "rb") as f:
        return f.read()


root_cert = x509.load_pem_x509_certificate(load_pem("root.pem"))
root_key = serialization.load_pem_private_key(load_pem("root.key"), None)
ca_cert = x509.load_pem_x509_certificate(load_pem("ca.pem"))
ca_key = serialization.load_pem_private_key(load_pem("ca.key"), None)
ca_policy = ca_cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
now_utc = datetime.datetime.utcnow


def sign_cert(builder, key):
    return builder.sign(key, hashes.SHA256())


def make_stipa_cert():
    """The STI-PA's token-signing certificate, issued by the STI-PA root."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SKS Test STI-PA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "SKS Test STI-PA SPC tokens")])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(root_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now_utc() - datetime.timedelta(hours=1))
         .not_valid_after(now_utc() + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             root_key.public_key()), False))
    return key, sign_cert(b, root_key)


stipa_key, stipa_cert = make_stipa_cert()
stipa_pem = stipa_cert.public_bytes(serialization.Encoding.PEM)
with open(os.path.join(state, "stipa.pem"), "wb") as f:
    f.write(stipa_pem)


# ---- DER TNAuthList (RFC 8226 section 9, EXPLICIT tags) -------------------------------------

def der_tlv(data, pos):
    """One DER TLV at |pos|: (tag, value, next position); lengths must be minimal."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, n = data[pos], data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 2 or pos + k > len(data) or data[pos] == 0:
            raise ValueError("not a DER length")
        n = int.from_bytes(data[pos:pos + k], "big")
        if n < 0x80:
            raise ValueError("not a DER length")
        pos += k
    if pos + n > len(data):
        raise ValueError("truncated")
    return tag, data[pos:pos + n], pos + n


def tnauthlist_spcs(der):
    """The SPCs of a DER TNAuthList that holds only SPC entries."""
    tag, body, end = der_tlv(der, 0)
    if tag != 0x30 or end != len(der) or not body:
        raise ValueError("not a SEQUENCE OF TNEntry")
    spcs, pos = [], 0
    while pos < len(body):
        tag, inner, pos = der_tlv(body, pos)
        if tag != 0xA0:
            raise ValueError("an entry that is not an SPC (only SPC entries are issued here)")
        t2, spc, e2 = der_tlv(inner, 0)
        if t2 != 0x16 or e2 != len(inner) or not spc:
            raise ValueError("an SPC that is not an IA5String")
        spcs.append(spc.decode("ascii"))
    return spcs


def tnauthlist_der(spc):
    s = spc.encode("ascii")
    return bytes([0x30, len(s) + 4, 0xA0, len(s) + 2, 0x16, len(s)]) + s


# ---- JWS --------------------------------------------------------------------------------------

def jwk_key(jwk):
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("jwk is not an EC P-256 key")
    x, y = unb64u(jwk["x"]), unb64u(jwk["y"])
    if len(x) != 32 or len(y) != 32:
        raise ValueError("jwk coordinates are not 32 bytes")
    return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                         ec.SECP256R1()).public_key()


def jwk_of(pub):
    n = pub.public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


def thumbprint(pub):
    j = jwk_of(pub)
    canon = '{"crv":"%s","kty":"%s","x":"%s","y":"%s"}' % (j["crv"], j["kty"], j["x"], j["y"])
    return hashlib.sha256(canon.encode()).digest()


def fingerprint(pub):
    return "SHA256 " + ":".join("%02X" % b for b in thumbprint(pub))


def es256_verify(pub, sig, data):
    if len(sig) != 64:
        raise InvalidSignature()
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, data, ec.ECDSA(hashes.SHA256()))


def es256_sign(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# ---- state ------------------------------------------------------------------------------------

lock = threading.Lock()
nonce_lock = threading.Lock()
nonces = set()
accounts = {}   # id -> {"jwk": ..., "key": pub, "thumb": bytes, "contact": [...]}
by_thumb = {}
orders = {}     # id -> order dict
authzs = {}     # id -> authz dict
challs = {}     # id -> (authz id)
certs = {}      # id -> PEM chain bytes
issued = {}     # serial -> {"der", "account", "revoked": None or the reason}
counter = [0]


def next_id():
    counter[0] += 1
    return str(counter[0])


def modes():
    try:
        with open(os.path.join(state, "MODE")) as f:
            return set(line.strip() for line in f if line.strip())
    except FileNotFoundError:
        return set()


def crl_url():
    try:
        with open(os.path.join(state, "crl-url")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return DEFAULT_CRL_URL


class Problem(Exception):
    def __init__(self, status, kind, detail, headers=None):
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers = status, kind, detail, headers or {}


# ---- the STI-PA -------------------------------------------------------------------------------

def stipa_token(base, account, auth, body):
    try:
        with open(os.path.join(state, "stipa-accounts.json")) as f:
            accts = json.load(f)
    except FileNotFoundError:
        accts = {}
    acct = accts.get(account)
    want = "Bearer " + acct["key"] if acct else ""
    if acct is None or not hmac.compare_digest((auth or "").encode(), want.encode()):
        return 401, {"status": "failed", "message": "unknown account or wrong API key"}
    try:
        atc = json.loads(body)["atc"]
        tkvalue, fp, ca = atc["tkvalue"], atc["fingerprint"], atc.get("ca", False)
        if atc.get("tktype") != "TNAuthList" or not isinstance(ca, bool):
            raise ValueError("tktype must be TNAuthList and ca a boolean")
        spcs = tnauthlist_spcs(unb64_any(tkvalue))
        if not (isinstance(fp, str) and fp.startswith("SHA256 ") and len(fp) == 7 + 95):
            raise ValueError("fingerprint must be SHA256 and 32 hex pairs")
    except (ValueError, KeyError, TypeError) as e:
        return 400, {"status": "failed", "message": "malformed token request: %s" % e}
    for spc in spcs:
        if spc not in acct["spcs"]:
            return 403, {"status": "failed",
                         "message": "account %s does not own SPC %s" % (account, spc)}
    exp = int(time.time()) + (-60 if "stipa-expired" in modes() else 3600)
    if "stipa-padded-base64" in modes():
        tkvalue = base64.b64encode(unb64_any(tkvalue)).decode()
    header = {"alg": "ES256", "typ": "JWT", "x5u": base + "/stipa/cert.pem"}
    claims = {"exp": exp, "jti": secrets.token_hex(16),
              "atc": {"tktype": "TNAuthList", "tkvalue": tkvalue, "ca": ca, "fingerprint": fp}}
    signing = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    token = signing + "." + b64u(es256_sign(stipa_key, signing.encode()))
    return 200, {"status": "success", "message": "SPC token for %s" % ",".join(spcs),
                 "token": token, "crl": base + "/stipa/crl.pem"}


# ---- the STI-CA's checks ----------------------------------------------------------------------

def fetch_x5u(url):
    if not url.startswith("https://"):
        raise Problem(403, "unauthorized", "the SPC token's x5u is not https")
    ctx = ssl.create_default_context(cafile=tls_ca)
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
        return x509.load_pem_x509_certificate(r.read(MAX_BODY))


def check_stipa_cert(cert):
    """The token's certificate must be issued by the STI-PA root and be valid now."""
    t = now_utc()
    if cert.issuer != root_cert.subject:
        raise Problem(403, "unauthorized", "the SPC token's certificate is not the STI-PA's")
    try:
        root_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                      ec.ECDSA(cert.signature_hash_algorithm))
    except InvalidSignature:
        raise Problem(403, "unauthorized", "the SPC token's certificate does not verify "
                      "with the STI-PA root") from None
    if not cert.not_valid_before <= t <= cert.not_valid_after:
        raise Problem(403, "unauthorized", "the SPC token's certificate is not valid now")


def check_atc(token, order, account):
    """RFC 9448 section 5.5 (or the equivalent): what the STI-CA checks of the token."""
    try:
        h64, c64, s64 = token.split(".")
        header, claims = json.loads(unb64u(h64)), json.loads(unb64u(c64))
        sig = unb64u(s64)
    except (ValueError, AttributeError):
        raise Problem(400, "malformed", "the atc is not a compact JWS") from None
    if header.get("alg") != "ES256" or not isinstance(header.get("x5u"), str):
        raise Problem(403, "unauthorized", "the SPC token is not ES256 with an x5u")
    cert = fetch_x5u(header["x5u"])
    check_stipa_cert(cert)
    try:
        es256_verify(cert.public_key(), sig, (h64 + "." + c64).encode())
    except InvalidSignature:
        raise Problem(403, "unauthorized", "the SPC token's signature does not verify with the "
                      "STI-PA certificate") from None
    atc = claims.get("atc") if isinstance(claims, dict) else None
    if not isinstance(atc, dict) or atc.get("tktype") != "TNAuthList":
        raise Problem(403, "unauthorized", "the SPC token's atc.tktype is not TNAuthList")
    if atc.get("tkvalue") != order["identifiers"][0]["value"]:
        raise Problem(403, "unauthorized", "the SPC token's atc.tkvalue is not the order's "
                      "TNAuthList identifier")
    fp = atc.get("fingerprint")
    want = fingerprint(account["key"])
    if not isinstance(fp, str) or fp[:7].upper() != "SHA256 " or fp[7:].upper() != want[7:]:
        raise Problem(403, "unauthorized", "the SPC token's atc.fingerprint is not the ACME "
                      "account key's")
    if atc.get("ca", False) is not False:
        raise Problem(403, "unauthorized", "the SPC token is for a CA certificate; this STI-CA "
                      "issues end-entity certificates")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= time.time():
        raise Problem(403, "unauthorized", "the SPC token has expired")
    if not isinstance(claims.get("jti"), str):
        raise Problem(403, "unauthorized", "the SPC token has no jti")


def issue(csr, order):
    m = modes()
    spcs = tnauthlist_spcs(unb64_any(order["identifiers"][0]["value"]))
    spc = "9999" if "chain-other-spc" in m else spcs[0]
    pub = csr.public_key()
    if "chain-other-key" in m:
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    t = now_utc()
    nb, na = t - datetime.timedelta(hours=1), t + datetime.timedelta(days=30)
    if "chain-expired" in m:
        nb, na = t - datetime.timedelta(days=2), t - datetime.timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SKS Test SP " + spc),
                      x509.NameAttribute(NameOID.COMMON_NAME, "SHAKEN " + spc)])
    dp = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url())], None, None, None)
    # The SP certificate profile of ATIS-1000080 as testpki/ issues it.
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_cert.subject)
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                      False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False)
         .add_extension(ca_policy, critical=False)
         .add_extension(x509.CRLDistributionPoints([dp]), critical=False)
         .add_extension(x509.UnrecognizedExtension(TNAUTHLIST_OID, tnauthlist_der(spc)),
                        critical=False))
    cert = sign_cert(b, ca_key)
    issued_windows[ari_cert_id(cert)] = (nb + (na - nb) * 2 / 3, na)
    return cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM)


# RFC 9773 certID -> (start, end) of the suggested renewal window.
issued_windows = {}


def ari_cert_id(cert):
    """RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial's DER content)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    n = cert.serial_number
    return b64u(aki.key_identifier) + "." + b64u(n.to_bytes(n.bit_length() // 8 + 1, "big"))


def check_csr(csr_b64, order, account):
    try:
        csr = x509.load_der_x509_csr(unb64u(csr_b64))
    except ValueError:
        raise Problem(400, "badCSR", "the csr is not a DER PKCS#10 request") from None
    if not csr.is_signature_valid:
        raise Problem(400, "badCSR", "the CSR's signature does not verify")
    pub = csr.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        raise Problem(400, "badCSR", "the CSR's key is not EC P-256")
    if thumbprint(pub) == account["thumb"]:
        raise Problem(400, "badCSR", "the CSR's key is the ACME account key")
    try:
        ext = csr.extensions.get_extension_for_oid(TNAUTHLIST_OID).value.value
    except x509.ExtensionNotFound:
        raise Problem(400, "badCSR", "the CSR has no TNAuthList extension") from None
    if ext != unb64_any(order["identifiers"][0]["value"]):
        raise Problem(400, "badCSR", "the CSR's TNAuthList is not the order's identifier")
    return csr


# ---- the HTTP side ----------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def base(self):
        return "https://127.0.0.1:%d" % self.server.server_address[1]

    def answer(self, status, ctype, body, headers=None, acme=True, hostile=None):
        m = hostile if hostile is not None else modes() if acme else set()
        if "malformed-json" in m and ctype and "json" in ctype:
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if "huge-body" in m:
            self.send_header("Content-Length", str(BIG))
        else:
            self.send_header("Content-Length", str(len(body)))
        if acme:
            self.send_header("Replay-Nonce", new_nonce())
            self.send_header("Cache-Control", "no-store")
            self.send_header("Link", '<%s/acme/directory>;rel="index"' % self.base())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            if "huge-body" in m:
                chunk = b" " * 65536
                for _ in range(BIG // len(chunk)):
                    self.wfile.write(chunk)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def json(self, status, obj, headers=None, acme=True, hostile=None, ctype=None):
        if ctype is None:
            ctype = "application/problem+json" if status >= 400 and acme else "application/json"
        self.answer(status, ctype, json.dumps(obj).encode(), headers, acme, hostile)

    def problem(self, p):
        self.json(p.status, {"type": ERR + p.kind, "detail": p.detail, "status": p.status},
                  p.headers)

    def do_HEAD(self):
        if self.path == "/acme/new-nonce":
            return self.answer(200, None, b"")
        return self.answer(404, None, b"", acme=False)

    def do_GET(self):
        b = self.base()
        if self.path == "/acme/directory":
            return self.json(200, {"newNonce": b + "/acme/new-nonce",
                                   "newAccount": b + "/acme/new-account",
                                   "newOrder": b + "/acme/new-order",
                                   "revokeCert": b + "/acme/revoke-cert",
                                   "keyChange": b + "/acme/key-change",
                                   "renewalInfo": b + "/acme/renewal-info",
                                   "meta": {"termsOfService": b + "/acme/terms"}}, acme=False)
        if self.path == "/acme/new-nonce":
            return self.answer(204, None, b"")
        if self.path.startswith("/acme/renewal-info/"):
            window = issued_windows.get(self.path[len("/acme/renewal-info/"):])
            if window is None:
                return self.json(404, {"type": ERR + "malformed",
                                       "detail": "no certificate of this CA has that certID"},
                                 acme=False, ctype="application/problem+json")
            start, end = window
            if "ari-due" in modes():
                start, end = now_utc() - datetime.timedelta(hours=1), \
                    now_utc() + datetime.timedelta(hours=1)
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            sys.stderr.write("renewal-info %s\n" % self.path)
            return self.json(200, {"suggestedWindow": {"start": start.strftime(fmt),
                                                       "end": end.strftime(fmt)}},
                             {"Retry-After": "21600"}, acme=False)
        if self.path == "/stipa/cert.pem":
            return self.answer(200, "application/pem-certificate-chain", stipa_pem, acme=False)
        return self.json(404, {"detail": "no such resource"}, acme=False)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n > MAX_BODY:
            raise Problem(413, "malformed", "request body over %d bytes" % MAX_BODY)
        return self.rfile.read(n)

    def do_POST(self):
        try:
            body = self.read_body()
        except Problem as p:
            return self.problem(p)
        parts = self.path.split("/")
        if len(parts) == 5 and parts[1] == "stipa" and parts[2] == "account" and \
                parts[4] == "token":
            m = set(x[6:] for x in modes() if x.startswith("stipa-"))
            if "stall" in m:
                time.sleep(60)
                self.close_connection = True
                return None
            status, obj = stipa_token(self.base(), parts[3], self.headers.get("Authorization"),
                                      body)
            return self.json(status, obj, acme=False, hostile=m,
                             ctype="text/html" if "wrong-content-type" in m else None)
        if not self.path.startswith("/acme/"):
            return self.json(404, {"detail": "no such resource"}, acme=False)
        if "stall" in modes():
            time.sleep(60)
            self.close_connection = True
            return None
        try:
            with lock:
                self.acme(body)
        except Problem as p:
            self.problem(p)
        return None

    # RFC 8555 6.2-6.5: the JWS, its url and its nonce.
    def verify_jws(self, body):
        if self.headers.get("Content-Type") != "application/jose+json":
            raise Problem(415, "malformed", "Content-Type must be application/jose+json")
        try:
            jws = json.loads(body)
            prot64, pay64, sig64 = jws["protected"], jws["payload"], jws["signature"]
            prot = json.loads(unb64u(prot64))
            sig = unb64u(sig64)
        except (ValueError, KeyError, TypeError):
            raise Problem(400, "malformed", "the body is not a flattened JWS") from None
        if set(jws) - {"protected", "payload", "signature"}:
            raise Problem(400, "malformed", "the JWS has an unprotected header")
        if prot.get("alg") != "ES256":
            raise Problem(400, "badSignatureAlgorithm", "alg must be ES256")
        nonce = prot.get("nonce")
        with nonce_lock:
            fresh = isinstance(nonce, str) and nonce in nonces
            nonces.discard(nonce)
        if not fresh:
            raise Problem(400, "badNonce", "the nonce was not issued here or is used")
        if prot.get("url") != self.base() + self.path:
            raise Problem(401, "unauthorized", "the url header is not this request's URL")
        new_account = self.path == "/acme/new-account"
        # RFC 8555 7.6: a revocation may be signed with the certificate's own key.
        by_jwk = new_account or (self.path == "/acme/revoke-cert" and "jwk" in prot)
        if ("jwk" in prot) == ("kid" in prot) or by_jwk != ("jwk" in prot):
            raise Problem(400, "malformed", "new-account takes jwk, everything else kid")
        account = None
        if by_jwk:
            try:
                pub = jwk_key(prot["jwk"])
            except (ValueError, KeyError, TypeError) as e:
                raise Problem(400, "badPublicKey", str(e)) from None
        else:
            kid = prot["kid"]
            prefix = self.base() + "/acme/acct/"
            account = accounts.get(kid[len(prefix):]) if isinstance(kid, str) and \
                kid.startswith(prefix) else None
            if account is None:
                raise Problem(400, "accountDoesNotExist", "no account at kid")
            pub = account["key"]
        try:
            es256_verify(pub, sig, (prot64 + "." + pay64).encode())
        except InvalidSignature:
            raise Problem(403, "unauthorized", "the JWS signature does not verify") from None
        try:
            payload = json.loads(unb64u(pay64)) if pay64 != "" else None
        except ValueError:
            raise Problem(400, "malformed", "the payload is not JSON") from None
        return pub, account, payload

    def key_change(self, account, payload):
        """RFC 8555 7.3.5: the inner JWS, signed by the new key, names the account and old key."""
        try:
            prot64, pay64, sig64 = payload["protected"], payload["payload"], payload["signature"]
            prot, inner = json.loads(unb64u(prot64)), json.loads(unb64u(pay64))
            new = jwk_key(prot["jwk"])
            es256_verify(new, unb64u(sig64), (prot64 + "." + pay64).encode())
        except (ValueError, KeyError, TypeError, InvalidSignature):
            raise Problem(400, "malformed", "the inner JWS does not verify with its jwk") from None
        if "nonce" in prot or prot.get("url") != self.base() + self.path:
            raise Problem(400, "malformed", "the inner JWS must have this url and no nonce")
        if inner.get("account") != self.base() + "/acme/acct/" + account["id"] or \
                inner.get("oldKey") != jwk_of(account["key"]):
            raise Problem(400, "malformed", "the inner payload must name this account and its key")
        thumb = thumbprint(new)
        if thumb in by_thumb:
            raise Problem(409, "malformed", "the new key is another account's",
                          {"Location": self.base() + "/acme/acct/" + by_thumb[thumb]["id"]})
        del by_thumb[account["thumb"]]
        account["key"], account["thumb"] = new, thumb
        by_thumb[thumb] = account
        return self.json(200, account_obj(account))

    def revoke(self, pub, account, payload):
        try:
            der = unb64u(payload["certificate"])
            cert = x509.load_der_x509_certificate(der)
        except (ValueError, KeyError, TypeError):
            raise Problem(400, "malformed", "revoke-cert takes {\"certificate\": DER}") from None
        reason = payload.get("reason", 0)
        if not isinstance(reason, int) or reason not in (0, 1, 2, 3, 4, 5, 6, 8, 9, 10):
            raise Problem(400, "badRevocationReason", "no such reason code")
        entry = issued.get(cert.serial_number)
        if entry is None or entry["der"] != der:
            raise Problem(404, "malformed", "this STI-CA did not issue the certificate")
        if account is not None and entry["account"] is not account:
            raise Problem(403, "unauthorized", "the certificate is another account's")
        if account is None and thumbprint(pub) != thumbprint(cert.public_key()):
            raise Problem(403, "unauthorized", "the jwk is not the certificate's key")
        if entry["revoked"] is not None:
            raise Problem(400, "alreadyRevoked", "the certificate is already revoked")
        entry["revoked"] = reason
        return self.answer(200, None, b"")

    def acme(self, body):
        pub, account, payload = self.verify_jws(body)
        b, parts = self.base(), self.path.split("/")[2:]
        if parts == ["new-account"]:
            return self.new_account(pub, payload or {})
        if parts == ["new-order"]:
            return self.new_order(account, payload)
        if parts == ["revoke-cert"]:
            return self.revoke(pub, account, payload if isinstance(payload, dict) else {})
        if parts == ["key-change"]:
            return self.key_change(account, payload if isinstance(payload, dict) else {})
        if len(parts) == 2 and parts[0] == "acct" and accounts.get(parts[1]) is account:
            return self.json(200, account_obj(account))
        if len(parts) == 2 and parts[0] == "authz" and parts[1] in authzs:
            az = authzs[parts[1]]
            settle(az)
            later = {}
            if az["chall_status"] == "processing":
                later = {"Retry-After": "1"}
                sys.stderr.write("authz %s still processing: Retry-After 1\n" % az["id"])
            return self.json(200, authz_obj(b, az, account), later)
        if len(parts) == 2 and parts[0] == "chall" and parts[1] in challs:
            return self.challenge(account, parts[1], payload)
        if len(parts) in (2, 3) and parts[0] == "order" and parts[1] in orders:
            order = orders[parts[1]]
            if order["account"] is not account:
                raise Problem(403, "unauthorized", "the order is another account's")
            if len(parts) == 3 and parts[2] == "finalize":
                return self.finalize(account, order, payload)
            if "orders-expired" in modes() and order["status"] != "valid" and \
                    order["created"] < os.path.getmtime(os.path.join(state, "MODE")):
                order["status"] = "invalid"
                order["error"] = {"type": ERR + "malformed", "detail": "the order expired"}
            return self.json(200, order_obj(b, order), {"Location": b + "/acme/order/" +
                                                        order["id"]})
        if len(parts) == 2 and parts[0] == "cert" and parts[1] in certs:
            m = modes()
            ctype = "text/html" if "wrong-content-type" in m else \
                "application/pem-certificate-chain"
            return self.answer(200, ctype, certs[parts[1]])
        raise Problem(404, "malformed", "no such resource")

    def new_account(self, pub, payload):
        thumb = thumbprint(pub)
        if thumb in by_thumb:
            acct = by_thumb[thumb]
            return self.json(200, account_obj(acct), {"Location": self.base() + "/acme/acct/" +
                                                      acct["id"]})
        if payload.get("onlyReturnExisting"):
            raise Problem(400, "accountDoesNotExist", "no account for this key")
        if payload.get("termsOfServiceAgreed") is not True:
            raise Problem(403, "userActionRequired", "the terms of service must be agreed to")
        acct = {"id": next_id(), "key": pub, "thumb": thumb,
                "contact": payload.get("contact", [])}
        accounts[acct["id"]] = acct
        by_thumb[thumb] = acct
        return self.json(201, account_obj(acct), {"Location": self.base() + "/acme/acct/" +
                                                  acct["id"]})

    def new_order(self, account, payload):
        if "rate-limited" in modes():
            raise Problem(429, "rateLimited", "too many new orders", {"Retry-After": "2"})
        ids = payload.get("identifiers") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or len(ids) != 1 or not isinstance(ids[0], dict) or \
                ids[0].get("type") != "TNAuthList" or set(ids[0]) != {"type", "value"}:
            raise Problem(400, "rejectedIdentifier", "an order needs one TNAuthList identifier")
        try:
            tnauthlist_spcs(unb64_any(ids[0]["value"]))
        except (ValueError, TypeError) as e:
            raise Problem(400, "malformed", "the TNAuthList identifier: %s" % e) from None
        with open(os.path.join(state, "orders.log"), "a") as f:
            f.write(json.dumps(ids[0]) + "\n")
        oid, aid, cid = next_id(), next_id(), next_id()
        authzs[aid] = {"id": aid, "identifier": ids[0], "status": "pending", "chall": cid,
                       "chall_status": "pending", "error": None, "token": secrets.token_hex(16),
                       "account": account, "order": oid}
        challs[cid] = aid
        orders[oid] = {"id": oid, "identifiers": ids, "status": "pending", "authz": aid,
                       "account": account, "cert": None, "error": None,
                       "created": time.time()}
        return self.json(201, order_obj(self.base(), orders[oid]),
                         {"Location": self.base() + "/acme/order/" + oid})

    def challenge(self, account, cid, payload):
        az = authzs[challs[cid]]
        if az["account"] is not account:
            raise Problem(403, "unauthorized", "the authorization is another account's")
        order = orders[az["order"]]
        if az["chall_status"] == "pending":
            if not isinstance(payload, dict) or not isinstance(payload.get("atc"), str):
                raise Problem(400, "malformed", "a tkauth-01 answer is {\"atc\": TOKEN}")
            try:
                check_atc(payload["atc"], order, account)
                az["result"] = ("valid", None)
            except Problem as p:
                az["result"] = ("invalid", {"type": ERR + p.kind, "detail": p.detail})
            az["chall_status"] = "processing"
            az["ready_at"] = time.time() + (1.0 if "slow-validation" in modes() else 0)
            settle(az)
        return self.json(200, chall_obj(self.base(), az),
                         {"Link": '<%s/acme/authz/%s>;rel="up"' % (self.base(), az["id"])})

    def finalize(self, account, order, payload):
        if order["status"] != "ready":
            raise Problem(403, "orderNotReady", "the order is %s, not ready" % order["status"])
        if not isinstance(payload, dict) or not isinstance(payload.get("csr"), str):
            raise Problem(400, "malformed", "finalize takes {\"csr\": ...}")
        csr = check_csr(payload["csr"], order, account)
        if "order-invalid" in modes():
            order["status"] = "invalid"
            order["error"] = {"type": ERR + "serverInternal", "detail": "issuance failed"}
        else:
            cid = next_id()
            certs[cid] = issue(csr, order)
            leaf = x509.load_pem_x509_certificate(certs[cid])
            issued[leaf.serial_number] = {"der": leaf.public_bytes(serialization.Encoding.DER),
                                          "account": account, "revoked": None}
            order["cert"] = cid
            order["status"] = "valid"
        return self.json(200, order_obj(self.base(), order),
                         {"Location": self.base() + "/acme/order/" + order["id"]})


def settle(az):
    """A tkauth-01 answer's outcome, once its validation time has come."""
    if az["chall_status"] != "processing" or time.time() < az["ready_at"]:
        return
    if "hold-validation" in modes():
        return
    status, error = az["result"]
    order = orders[az["order"]]
    az["chall_status"] = az["status"] = status
    order["status"] = "ready" if status == "valid" else "invalid"
    if error:
        az["error"] = order["error"] = error


def new_nonce():
    n = secrets.token_urlsafe(16)
    with nonce_lock:
        nonces.add(n)
    return n


def account_obj(acct):
    return {"status": "valid", "contact": acct["contact"], "orders": ""}


def order_obj(b, o):
    obj = {"status": o["status"], "identifiers": o["identifiers"],
           "expires": (now_utc() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "authorizations": [b + "/acme/authz/" + o["authz"]],
           "finalize": b + "/acme/order/%s/finalize" % o["id"]}
    if o["cert"]:
        obj["certificate"] = b + "/acme/cert/" + o["cert"]
    if o["error"]:
        obj["error"] = o["error"]
    return obj


def chall_obj(b, az):
    c = {"type": "tkauth-01", "tkauth-type": "atc", "token-authority": b + "/stipa",
         "url": b + "/acme/chall/" + az["chall"], "token": az["token"],
         "status": az["chall_status"]}
    if az["error"]:
        c["error"] = az["error"]
    return c


def authz_obj(b, az, account):
    if az["account"] is not account:
        raise Problem(403, "unauthorized", "the authorization is another account's")
    return {"status": az["status"], "identifier": az["identifier"],
            "expires": (now_utc() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "challenges": [chall_obj(b, az)]}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


httpd = Server(("127.0.0.1", 0), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(tls_cert, tls_key)
httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % httpd.server_address[1])
os.rename(portfile + ".tmp", portfile)
httpd.serve_forever()
