#!/bin/sh
# PASSporTs signed by a token key through the sks provider: sksctl sign with a
# pkcs11: URI and with a key-reference PEM, verified with the public key read
# back from the token, and the 10,000-PASSporT sign/verify round trip of
# check_passport run against the token key (SKS_TEST_KEY).
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_program tests/unit/check_passport "make check builds it"
sks_mkwork
make_token sks-formats
cd "$sks_work"

priv_uri=$(keygen sp-formats 05)
write_openssl_cnf openssl.cnf
OPENSSL_CONF=$sks_work/openssl.cnf
export OPENSSL_CONF
run_ok pubout "$OPENSSL" pkey -pubin -in "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-formats;type=public" \
    -pubout -out pub.pem
run_ok keyref env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" keyref --out keyref.pem "$priv_uri"
x5u=https://cert.example.org/sp-formats.pem

for key in "$priv_uri" keyref.pem; do
    run_ok sign "$SKSCTL" sign --key "$key" --orig 12155550121 --dest 12155550131 --attest A \
        --x5u "$x5u"
    run_ok verify "$SKSCTL" verify --pubkey pub.pem < sign.out
    assert_grep verify "verified: 200 OK" verify.out
    pass "sksctl sign --key $key signs in the token; verify accepts it with the token's public key"
done

run_ok verify-other-key "$SKSCTL" sign --key "$priv_uri" --orig 1 --dest 2 --attest B --x5u "$x5u"
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key
sw_openssl pkey -in other.key -pubout -out other.pub
run_fails wrong-key "438 Invalid Identity Header" "$SKSCTL" verify --pubkey other.pub \
    < verify-other-key.out
pass "a token signature does not verify with another key"

# Only the es256 case: the vectors and JSON cases do not depend on the key.
run_ok round-trip env SKS_TEST_KEY="$priv_uri" CK_RUN_CASE=es256 \
    "$top_builddir/tests/unit/check_passport"
assert_grep round-trip "round trip: 10000 PASSporTs signed with $priv_uri" round-trip.out
assert_grep round-trip "100%: Checks: 2, Failures: 0, Errors: 0" round-trip.out
pass "10,000 PASSporTs signed by the token key verify: $(grep 'round trip' round-trip.out)"
