#!/bin/sh
# Through p11-kit's client module and a `p11-kit server`: a server that
# exports no token gives "no token matches" (not CKR_BUFFER_TOO_SMALL from an
# empty slot list), and a server that exports the test token signs, through
# the provider and through sksctl.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_p11kit_client
sks_mkwork
make_token sks-remote
cd "$sks_work"
priv_uri=$(keygen sp-remote 0b)
printf 'INVITE sip:+12155550131@example.net SIP/2.0\r\n' > msg

write_openssl_cnf remote.cnf
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $P11KIT_CLIENT|" remote.cnf

# --- no token exported ---
p11kit_server_start empty 'pkcs11:token=nonexistent'
run_fails empty-openssl "no token matches pkcs11:" env OPENSSL_CONF=remote.cnf \
    "$OPENSSL" dgst -sha256 -sign "$priv_uri" -out /dev/null msg
assert_grep empty-openssl "module $P11KIT_CLIENT lists no initialised token" empty-openssl.out
if grep -q CKR_BUFFER_TOO_SMALL empty-openssl.out; then
    cat empty-openssl.out >&2
    fail "an empty remote slot list still reports CKR_BUFFER_TOO_SMALL"
fi
pass "a_server_that_exports_no_token_gives_no_token_matches"

# --- the test token exported: the provider and sksctl sign through it ---
p11kit_server_start token "pkcs11:token=$SKS_TOKEN_LABEL"
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
