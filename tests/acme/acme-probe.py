#!/usr/bin/env python3
"""A deliberately imperfect ACME client that checks what the test STI-CA refuses.

usage: acme-probe.py BASE TLS-CA ACCOUNT-KEY COMMAND [ARGS]

BASE is the fixture's https://127.0.0.1:PORT, TLS-CA its TLS CA (PEM),
ACCOUNT-KEY a P-256 private key (PEM) used as the ACME account key.  Each
command prints one JSON line: the answer of the step that matters.

  token SPC STIPA-ACCOUNT API-KEY-FILE [FINGERPRINT-KEY]
        asks the STI-PA for an SPC token for SPC, bound to ACCOUNT-KEY (or to
        FINGERPRINT-KEY's fingerprint, a private or public key PEM); prints
        {"status", "token"|"message"}
  bad-signature    new-account with a signature that does not verify
  replayed-nonce   two new-account requests with one nonce
  wrong-url        new-account with a url header naming another resource
  issue SPC TOKEN-FILE CSR-SPC OUT
        registers, orders a TNAuthList identifier for SPC, answers tkauth-01
        with the token of TOKEN-FILE, finalizes with a CSR (a fresh key)
        whose TNAuthList names CSR-SPC and writes the chain to OUT; prints
        the challenge's or the finalize's outcome
"""
import base64
import hashlib
import json
import ssl
import sys
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

base, tls_ca, key_file, command = sys.argv[1:5]
args = sys.argv[5:]
ctx = ssl.create_default_context(cafile=tls_ca)
with open(key_file, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), None)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(pub):
    n = pub.public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big"))}


def fingerprint(pub):
    j = jwk(pub)
    canon = '{"crv":"%s","kty":"%s","x":"%s","y":"%s"}' % (j["crv"], j["kty"], j["x"], j["y"])
    return "SHA256 " + ":".join("%02X" % b for b in hashlib.sha256(canon.encode()).digest())


def tnauthlist(spc):
    s = spc.encode()
    return bytes([0x30, len(s) + 4, 0xA0, len(s) + 2, 0x16, len(s)]) + s


def http(method, url, body=None, ctype=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


directory = json.loads(http("GET", base + "/acme/directory")[2])


def nonce():
    return http("HEAD", directory["newNonce"])[1]["Replay-Nonce"]


kid = None


def post(url, payload, use_nonce=None, url_header=None, break_sig=False):
    prot = {"alg": "ES256", "nonce": use_nonce or nonce(), "url": url_header or url}
    if kid is None:
        prot["jwk"] = jwk(key.public_key())
    else:
        prot["kid"] = kid
    p64 = b64u(json.dumps(prot).encode())
    pay64 = "" if payload is None else b64u(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign((p64 + "." + pay64).encode(),
                                         ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if break_sig:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    body = json.dumps({"protected": p64, "payload": pay64, "signature": b64u(sig)}).encode()
    status, headers, data = http("POST", url, body, "application/jose+json")
    return status, headers, data


def show(status, data, **extra):
    try:
        obj = json.loads(data)
    except ValueError:
        obj = {"raw": data.decode("latin-1")[:200]}
    obj["http"] = status
    obj.update(extra)
    print(json.dumps(obj))


account_req = {"termsOfServiceAgreed": True, "contact": ["mailto:noc@sp.test"]}
if command == "token":
    spc, account, api_key_file = args[:3]
    pub = key.public_key()
    if len(args) > 3:
        with open(args[3], "rb") as f:
            pem = f.read()
        if b"PUBLIC KEY" in pem:
            pub = serialization.load_pem_public_key(pem)
        else:
            pub = serialization.load_pem_private_key(pem, None).public_key()
    with open(api_key_file) as f:
        api_key = f.read().strip()
    body = {"atc": {"tktype": "TNAuthList", "tkvalue": b64u(tnauthlist(spc)), "ca": False,
                    "fingerprint": fingerprint(pub)}}
    st, _, data = http("POST", base + "/stipa/account/%s/token" % account,
                       json.dumps(body).encode(), "application/json",
                       {"Authorization": "Bearer " + api_key})
    show(st, data)
elif command == "bad-signature":
    show(*post(directory["newAccount"], account_req, break_sig=True)[::2])
elif command == "replayed-nonce":
    n = nonce()
    post(directory["newAccount"], account_req, use_nonce=n)
    show(*post(directory["newAccount"], account_req, use_nonce=n)[::2])
elif command == "wrong-url":
    show(*post(directory["newAccount"], account_req, url_header=directory["newOrder"])[::2])
elif command == "issue":
    spc, token_file, csr_spc, out = args[:4]
    st, h, data = post(directory["newAccount"], account_req)
    kid = h["Location"]
    ident = {"type": "TNAuthList", "value": b64u(tnauthlist(spc))}
    st, h, data = post(directory["newOrder"], {"identifiers": [ident]})
    order_url, order = h["Location"], json.loads(data)
    st, _, data = post(order["authorizations"][0], None)
    chall = json.loads(data)["challenges"][0]
    with open(token_file) as f:
        token = f.read().strip()
    st, _, data = post(chall["url"], {"atc": token})
    if json.loads(data).get("status") != "valid":
        show(st, data, step="challenge")
        sys.exit(0)
    csr_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SHAKEN " + spc)]))
           .add_extension(x509.UnrecognizedExtension(
               x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26"), tnauthlist(csr_spc)), False)
           .sign(csr_key, hashes.SHA256()))
    st, _, data = post(order["finalize"], {"csr": b64u(csr.public_bytes(
        serialization.Encoding.DER))})
    done = json.loads(data)
    if done.get("status") != "valid":
        show(st, data, step="finalize")
        sys.exit(0)
    st, h, chain = post(done["certificate"], None)
    with open(out, "wb") as f:
        f.write(chain)
    show(st, b"{}", step="certificate", content_type=h.get("Content-Type"))
else:
    sys.exit("unknown command " + command)
