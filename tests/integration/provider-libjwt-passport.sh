#!/bin/sh
# libjwt 1.10 -- the JWT library of Asterisk and libstirshaken -- signs an
# ES256 PASSporT with a token key when it is handed a key-reference PEM in
# place of the private key PEM, with the sks provider activated from
# openssl.cnf.  The token is verified by libjwt, by the default provider, and
# by `openssl dgst -verify` with the public key exported through the provider.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_program tests/interop/jwt_passport "libjwt development files were not found by configure"
sks_mkwork
make_token sks-jwt
cd "$sks_work"

priv_uri=$(keygen sp-jwt 03)
write_openssl_cnf openssl.cnf
run_ok keyref env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" keyref --out key.pem "$priv_uri"
run_ok pubout env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$OPENSSL" pkey -pubin -in "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-jwt;type=public" -pubout \
    -out pub.pem

run_ok jwt env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$top_builddir/tests/interop/jwt_passport" key.pem pub.pem passport.jwt
pass_each jwt.out

# The same check with nothing but the openssl CLI: the JWS signing input is
# "header.payload"; the signature is base64url r || s (RFC 7518 3.4).
cut -d. -f1,2 passport.jwt | tr -d '\n' > signing-input
cut -d. -f3 passport.jwt | tr '_-' '/+' | tr -d '\n' > sig.b64
while [ $(($(wc -c < sig.b64) % 4)) -ne 0 ]; do printf '=' >> sig.b64; done
sw_openssl base64 -d -A -in sig.b64 -out sig.raw
[ "$(wc -c < sig.raw)" -eq 64 ] || fail "the PASSporT signature is not 64 bytes of r || s"
raw_sig_to_der sig.raw sig.der
run_ok verify sw_openssl dgst -sha256 -verify pub.pem -signature sig.der signing-input
assert_grep "PASSporT signature" "Verified OK" verify.out
pass "openssl dgst -verify accepts the PASSporT signature with the exported public key"

header=$(cut -d. -f1 passport.jwt | tr '_-' '/+')
while [ $((${#header} % 4)) -ne 0 ]; do header="$header="; done
echo "$header" | sw_openssl base64 -d -A > header.json
grep -q '"alg": *"ES256"' header.json || fail "the PASSporT header lacks alg ES256: $(cat header.json)"
grep -q '"ppt": *"shaken"' header.json || fail "the PASSporT header lacks ppt shaken: $(cat header.json)"
pass "the PASSporT header says alg ES256, ppt shaken"
