#!/bin/sh
# shaken-sks quick start for a fresh Debian 12 machine.
#
#   ./quickstart.sh         install what is missing, build, make a SoftHSM2
#                           token with a P-256 key, and sign through the sks
#                           provider with the openssl CLI
#   ./quickstart.sh check   the same set-up, then every test (make check)
#
# Each phase prints one line and keeps its output in a log that the line
# names; a failing phase shows the end of its log.
#
# Environment: SKS_BUILD_DIR (default: build in this directory; a relative
# path is taken from the current directory), SKS_CONFIGURE_FLAGS (extra
# configure flags, e.g. --enable-sanitizers).  For tests of the installation
# step: SKS_QUICKSTART_MISSING, package names to treat as not installed;
# SKS_QUICKSTART_NO_INSTALL=1, never run apt-get, even as root.
set -eu

build=${SKS_BUILD_DIR:-}
here=$(cd "$(dirname "$0")" && pwd)
[ -n "$build" ] || build=$here/build
mkdir -p "$build"
build=$(cd "$build" && pwd)
cd "$here"
mode=${1:-demo}
case $mode in
demo | check) ;;
*) echo "usage: $0 [check]" >&2; exit 2 ;;
esac

# Paths as a user in this directory types them.
rel() {
    case $1 in
    "$here"/*) printf '%s\n' "${1#"$here"/}" ;;
    *) printf '%s\n' "$1" ;;
    esac
}

# run LOG COMMAND...: COMMAND's output goes to LOG; on failure, the end of LOG
# and its name.
run() {
    log=$1
    shift
    if ! "$@" > "$log" 2>&1; then
        echo "FAILED: $*" >&2
        echo "---- last lines of $(rel "$log"):" >&2
        tail -n 40 "$log" >&2
        echo "---- the whole output is in $(rel "$log")" >&2
        exit 1
    fi
}

# groff-base: the man-page test; valgrind: the leak test; jq: the tests that
# read sksctl list --json and sksd's answers; python3: the crash tests' check
# of the token's objects; p11-kit-modules: the p11-kit remoting test;
# clang-format: make check-format, which CI runs; haproxy: the sksd replicas
# test (it runs its own haproxy on loopback ports, not the system service);
# libcurl4-openssl-dev: the HTTPS client (fetch/); systemd: systemd-sysusers
# for the install test's check of sksd's user; secsipidx: Kamailio's
# STIR/SHAKEN tool, whose Identity headers the verification API must take;
# python3-cryptography: the test STI-PA and STI-CA (tests/acme/sti-fixture.py),
# which sign SPC tokens and issue certificates as real ones do; pebble: the
# RFC 8555 test server the ACME client's test runs on loopback.
packages="build-essential autoconf automake libtool pkg-config openssl libssl-dev
  libp11-kit-dev p11-kit p11-kit-modules check libjansson-dev libmicrohttpd-dev libgnutls28-dev
  libjwt-dev softhsm2 opensc gnutls-bin libengine-pkcs11-openssl curl clang groff-base valgrind
  jq python3 python3-cryptography clang-format haproxy libcurl4-openssl-dev systemd secsipidx
  pebble"

missing=""
for p in $packages; do
    case " ${SKS_QUICKSTART_MISSING:-} " in
    *" $p "*) missing="$missing $p"; continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
# shellcheck disable=SC2086
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ] && [ "${SKS_QUICKSTART_NO_INSTALL:-0}" != 1 ]; then
        echo "== installing Debian packages:$missing (log: $(rel "$build")/quickstart-apt.log)"
        run "$build/quickstart-apt.log" apt_install
    else
        echo "Missing Debian packages:$missing"
        echo "Install them as root (su asks for root's password), then run $0 again:"
        echo "  su -c 'apt-get update && apt-get install -y --no-install-recommends$missing'"
        exit 1
    fi
fi

echo "== building in $(rel "$build") (logs: $(rel "$build")/configure.log, $(rel "$build")/make.log)"
[ -x configure ] || run "$build/autoreconf.log" autoreconf -fi
cd "$build"
# shellcheck disable=SC2086
[ -f Makefile ] || run "$build/configure.log" "$here/configure" --enable-werror ${SKS_CONFIGURE_FLAGS:-}
run "$build/make.log" make -j"$(nproc)"
top_builddir=$build
cd "$here"

if [ "$mode" = check ]; then
    echo "== running every test (whole output: $(rel "$build")/check.log)"
    # The results stream as they come; the rest of make's output stays in the log.
    { st=0; make -C "$build" -j"$(nproc)" check 2>&1 || st=$?; echo "$st" > "$build/check.status"; } |
        tee "$build/check.log" |
        grep --line-buffered -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):|^# [A-Z]+:|^=+$|^Testsuite summary' ||
        true
    status=$(cat "$build/check.status")
    if [ "$status" -ne 0 ]; then
        if grep -Eq '^# (FAIL|XPASS|ERROR): +[1-9]' "$build/check.log" && [ -f "$build/test-suite.log" ]; then
            echo "---- $(rel "$build")/test-suite.log: the logs of the tests that did not pass"
            cat "$build/test-suite.log"
        else
            echo "---- last lines of $(rel "$build")/check.log:"
            tail -n 40 "$build/check.log"
        fi
        echo "make check failed; the whole output is in $(rel "$build")/check.log" >&2
        exit 1
    fi
    exit 0
fi

demo=$here/demo
if [ -e "$demo" ]; then
    echo "== removing the previous demo in $(rel "$demo") (its throwaway token goes with it)"
    rm -rf "$demo"
fi
mkdir -p "$demo"
echo "== a throwaway SoftHSM2 token in $demo/token"
SKSCTL=$top_builddir/sksctl "$here/softhsm-conf/mktoken.sh" "$demo/token" sks-demo
. "$demo/token/env"

echo "== a P-256 key generated in the token (it never leaves it)"
uri=$("$top_builddir/sksctl" keygen --module "$SOFTHSM_MODULE" --token sks-demo \
    --pin-file "$SKS_PIN_FILE" --label sp-demo)
echo "   $uri"

cat > "$demo/openssl.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
sks = sks_sect
[default_sect]
activate = 1
[sks_sect]
module = $top_builddir/provider/.libs/sks.so
activate = 1
pkcs11-module-path = $SOFTHSM_MODULE
pkcs11-module-token-pin = file:$SKS_PIN_FILE
CNF
export OPENSSL_CONF="$demo/openssl.cnf"

echo "== the key's public half, read through the provider"
openssl pkey -pubin -in "${uri%;type=private};type=public" -pubout -out "$demo/sp-demo.pub"
cat "$demo/sp-demo.pub"

echo "== a key-reference file: what PEM_read_bio_PrivateKey users point at"
"$top_builddir/sksctl" keyref --out "$demo/sp-demo.keyref.pem" "$uri"
cat "$demo/sp-demo.keyref.pem"

echo "== ES256 in the token through the openssl CLI, verified in software"
printf 'shaken-sks demo\n' > "$demo/message"
openssl dgst -sha256 -sign "$demo/sp-demo.keyref.pem" -out "$demo/message.sig" "$demo/message"
OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify "$demo/sp-demo.pub" \
    -signature "$demo/message.sig" "$demo/message"
echo "== a test SHAKEN PKI: STI-PA root, STI-CA, and an SP certificate for SPC 1234"
echo "   issued for a CSR signed by the token key"
openssl req -new -key "$demo/sp-demo.keyref.pem" -subj "/CN=SHAKEN 1234" -out "$demo/sp-demo.csr"
"$top_builddir/sksctl" pki --out "$demo/pki" --spc 1234 --csr "$demo/sp-demo.csr" >/dev/null
openssl x509 -in "$demo/pki/sp-1234.pem" -noout -subject -issuer -enddate

echo "== a SHAKEN PASSporT signed in the token: the SIP Identity header"
x5u=https://cert.example.org/sp-1234.pem
"$top_builddir/sksctl" sign --key "$demo/sp-demo.keyref.pem" --orig +1-215-555-0121 \
    --dest 12155550131 --attest A --x5u "$x5u" > "$demo/identity"
cat "$demo/identity"

echo "== verified against the test PKI (signature, claims, SHAKEN profile, chain)"
"$top_builddir/sksctl" verify --cert "$demo/pki/sp-1234-fullchain.pem" \
    --trust "$demo/pki/root.pem" < "$demo/identity"
echo "== the key store: an SP-KMS key for identity sp-main, wrapped for the token"
"$top_builddir/sksctl" pki --out "$demo/kms-pki" --spc 5678 >/dev/null
cat > "$demo/sks.conf" <<CONF
[sks]
pkcs11_module = $SOFTHSM_MODULE
pkcs11_module_env = sks_module_env
token = sks-demo
pin_file = $SKS_PIN_FILE
trust_anchors = $demo/kms-pki/root.pem
# The demo's test PKI names CRLs that nobody serves: imports and activations
# that would check them are told not to (a real one keeps crl_check = yes).
crl_check = no

[sks_module_env]
SOFTHSM2_CONF = $SOFTHSM2_CONF

[sksd]
listen = 127.0.0.1:0
identities = sksd_identities
import_unix = sksd_import_unix

[sksd_identities]
default = sp-main

[sksd_import_unix]
path = $demo/import.sock
allowed_uids = $(id -u)
CONF
ks() { "$top_builddir/sksctl" "$@" -c "$demo/sks.conf"; }
ks wrapping-key --out "$demo/wrapping.pem"
"$top_builddir/sksctl" wrap --wrapping-key "$demo/wrapping.pem" \
    --key "$demo/kms-pki/sp-5678.key" --out "$demo/sp-main.blob"
rm -f "$demo/kms-pki/sp-5678.key" # from now on the key exists only in the token
ks import sp-main --wrapped "$demo/sp-main.blob" --cert "$demo/kms-pki/sp-5678.pem" \
    --chain "$demo/kms-pki/chain.pem" --x5u https://cert.example.org/sp-5678.pem
ks list

echo "== sksd on loopback, signing with curl (ATIS-1000082)"
: > "$demo/sksd.log" # before the wait below reads it
"$top_builddir/sksd/sksd" -c "$demo/sks.conf" > "$demo/sksd.log" 2>&1 &
sksd_pid=$!
trap 'kill $sksd_pid 2>/dev/null || true' EXIT INT TERM
i=0
until grep -q "sksd: ready" "$demo/sksd.log"; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$sksd_pid" 2>/dev/null; then
        cat "$demo/sksd.log" >&2
        echo "sksd did not start" >&2
        exit 1
    fi
    sleep 0.1
done
port=$(sed -n 's/.*signing API listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$demo/sksd.log" | tail -n 1)
curl -sS -X POST "http://127.0.0.1:$port/stir/v1/signing" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' \
    -d '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}' \
    > "$demo/sksd-response.json"
cat "$demo/sksd-response.json"
echo
sed -n 's/.*"identity":"\([^"]*\)".*/\1/p' "$demo/sksd-response.json" > "$demo/sksd-identity"
"$top_builddir/sksctl" verify --cert "$demo/kms-pki/sp-5678-fullchain.pem" \
    --trust "$demo/kms-pki/root.pem" < "$demo/sksd-identity"
kill "$sksd_pid"
wait "$sksd_pid" 2>/dev/null || true
trap - EXIT INT TERM
b=$(rel "$build")
d=$(rel "$demo")
cat <<NEXT
== done: everything is under $d

What to type next, in $here:
  $b/sksctl --help
        the administrator's tool; sksctl and sksd are in $b/ (make install
        puts them on the PATH)
  $b/sksctl list -c $d/sks.conf
        the demo's key store: the identity sp-main and its key version
  SOFTHSM2_CONF=$d/token/softhsm2.conf OPENSSL_CONF=$d/openssl.cnf openssl pkey -in $d/sp-demo.keyref.pem -pubout
        the openssl CLI with the sks provider: the token key's public half
        (SoftHSM2 finds the demo token through SOFTHSM2_CONF)
  $b/sksd/sksd -c $d/sks.conf
        sksd on the demo configuration; it logs its port in
        "signing API listening on 127.0.0.1:PORT", then:
  curl -sS -H 'Content-Type: application/json' -d '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}' http://127.0.0.1:PORT/stir/v1/signing
NEXT
