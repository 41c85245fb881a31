#!/bin/sh
# Through p11-kit's client module and a `p11-kit server`: a server that
# exports no token gives "no token matches" (not CKR_BUFFER_TOO_SMALL from an
# empty slot list), and a server that exports the test token signs, through
# the provider and through sksctl.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
command -v p11-kit >/dev/null 2>&1 || skip "the p11-kit command is not installed"
client=
for m in /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so /usr/lib/*-linux-gnu/pkcs11/p11-kit-client.so \
         /usr/lib/pkcs11/p11-kit-client.so; do
    if [ -f "$m" ]; then client=$m; break; fi
done
[ -n "$client" ] || skip "p11-kit-client.so is not installed (package p11-kit-modules)"
sks_mkwork
make_token sks-remote
cd "$sks_work"
priv_uri=$(keygen sp-remote 0b)
printf 'INVITE sip:+12155550131@example.net SIP/2.0\r\n' > msg

server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap 'rc=$?; stop_server; (exit $rc); sks_cleanup' EXIT

# start_server NAME TOKEN-URI: a foreground p11-kit server on $sks_work/NAME.sock
start_server() {
    stop_server
    p11-kit server -f -n "$sks_work/$1.sock" --provider "$SOFTHSM_MODULE" "$2" \
        > "$1.server.out" 2>&1 &
    server_pid=$!
    i=0
    until [ -S "$sks_work/$1.sock" ]; do
        i=$((i + 1))
        if [ "$i" -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$1.server.out" >&2
            fail "p11-kit server did not start"
        fi
        sleep 0.1
    done
    P11_KIT_SERVER_ADDRESS=unix:path=$sks_work/$1.sock
    export P11_KIT_SERVER_ADDRESS
}

write_openssl_cnf remote.cnf
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $client|" remote.cnf

# --- no token exported ---
start_server empty 'pkcs11:token=nonexistent'
run_fails empty-openssl "no token matches pkcs11:" env OPENSSL_CONF=remote.cnf \
    "$OPENSSL" dgst -sha256 -sign "$priv_uri" -out /dev/null msg
assert_grep empty-openssl "module $client lists no initialised token" empty-openssl.out
if grep -q CKR_BUFFER_TOO_SMALL empty-openssl.out; then
    cat empty-openssl.out >&2
    fail "an empty remote slot list still reports CKR_BUFFER_TOO_SMALL"
fi
pass "a_server_that_exports_no_token_gives_no_token_matches"

# --- the test token exported: the provider and sksctl sign through it ---
start_server token "pkcs11:token=$SKS_TOKEN_LABEL"
run_ok remote-pub env OPENSSL_CONF=remote.cnf "$OPENSSL" pkey -pubin \
    -in "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-remote;type=public" -pubout -out pub.pem
run_ok remote-sign env OPENSSL_CONF=remote.cnf "$OPENSSL" dgst -sha256 -sign "$priv_uri" \
    -out msg.sig msg
run_ok remote-verify sw_openssl dgst -sha256 -verify pub.pem -signature msg.sig msg
assert_grep remote-verify "Verified OK" remote-verify.out
pass "the_provider_signs_through_p11-kit-client_and_a_p11-kit_server"
run_ok remote-passport env OPENSSL_CONF=remote.cnf "$SKSCTL" sign --key "$priv_uri" \
    --orig 12155550121 --dest 12155550131 --attest A --x5u https://cert.example.org/sp.pem
run_ok remote-passport-verify "$SKSCTL" verify --pubkey pub.pem < remote-passport.out
pass "sksctl_sign_signs_through_p11-kit-client"
