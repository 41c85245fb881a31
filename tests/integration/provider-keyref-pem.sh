#!/bin/sh
# A key-reference PEM written by `sksctl keyref` stands in for a private key
# file: applications that only read PEM (PEM_read_bio_PrivateKey on a memory
# BIO, `openssl pkey -in key.pem`, OSSL_DECODER through OSSL_STORE) sign with
# the token key through the sks provider activated from openssl.cnf.  The key
# itself never leaves the token: the PEM holds a URI and no PIN, and the
# token shows the private key sensitive and never extractable.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_pkcs11_tool
sks_mkwork
make_token sks-keyref
cd "$sks_work"

priv_uri=$(keygen sp-keyref 02)
write_openssl_cnf openssl.cnf
p11tool_export_pubkey 02 pub.pem
printf 'INVITE sip:+12155550131@example.net SIP/2.0\r\n' > msg

# --- the file: the pkcs11-provider key-reference format, and no secret ---
run_ok keyref env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" keyref --out key.pem "$priv_uri"
head -n 1 key.pem | grep -qx -- '-----BEGIN PKCS#11 PROVIDER URI-----' ||
    fail "key.pem does not start with '-----BEGIN PKCS#11 PROVIDER URI-----'"
tail -n 1 key.pem | grep -qx -- '-----END PKCS#11 PROVIDER URI-----' ||
    fail "key.pem does not end with '-----END PKCS#11 PROVIDER URI-----'"
pass "sksctl keyref --out writes a PKCS#11 PROVIDER URI PEM"

run_ok keyref-asn1 sw_openssl asn1parse -in key.pem
assert_grep "key-reference version" "VISIBLESTRING     :PKCS#11 Provider URI v1.0" keyref-asn1.out
assert_grep "key-reference URI" "UTF8STRING        :pkcs11:" keyref-asn1.out
# SEQUENCE { VisibleString, UTF8String } and nothing else: no key material.
[ "$(grep -c 'prim:' keyref-asn1.out)" -eq 2 ] || {
    cat keyref-asn1.out >&2
    fail "key.pem holds more than the version string and the URI"
}
pass "the DER is SEQUENCE { VisibleString \"PKCS#11 Provider URI v1.0\", UTF8String URI }"

if grep -qF -- "$(cat "$SKS_PIN_FILE")" key.pem keyref-asn1.out; then
    fail "the user PIN appears in the key-reference PEM"
fi
if grep -q 'pin-value\|pin-source' keyref-asn1.out; then
    fail "the key-reference URI carries a PIN attribute"
fi
pass "the key-reference PEM carries no PIN"

run_ok keyref-stdout env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" keyref "$priv_uri"
assert_same_file "sksctl keyref to stdout" keyref-stdout.out key.pem
pass "sksctl keyref without --out prints the same PEM"

# --- applications load it -------------------------------------------------
run_ok keyref-sign env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$top_builddir/tests/interop/keyref_sign" key.pem msg keyref.sig
run_ok keyref-verify sw_openssl dgst -sha256 -verify pub.pem -signature keyref.sig msg
assert_grep "keyref_sign signature" "Verified OK" keyref-verify.out
pass "PEM_read_bio_PrivateKey on a memory BIO + EVP_DigestSign signs with the token key"

# KEYMGMT as applications see it, for the key loaded three ways.
check_key_params() {
    run_ok "key-params-$1" env OPENSSL_CONF="$sks_work/openssl.cnf" \
        "$top_builddir/tests/interop/key_params" "$2" pub.pem
    pass_each "key-params-$1.out" "$1: "
}
check_key_params keyref-pem-decoder key.pem
check_key_params private-uri-store "$priv_uri"
check_key_params public-uri-store "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-keyref;type=public"
pass "KEYMGMT: equality, bits, group, encoded point, export/import, get1_EC_KEY"

# --- the private key stays in the token -----------------------------------
run_ok objects p11tool_login --list-objects --type privkey
awk '/^Private Key Object/ { p = 0 } /label: *sp-keyref$/ { p = 1 } p' objects.out > privkey.txt
access=$(grep 'Access:' privkey.txt || true)
usage=$(grep 'Usage:' privkey.txt || true)
echo "sp-keyref private key: $access; $usage"
case "$access" in
*" sensitive,"*"never extractable"*) ;;
*) fail "the private key is not shown sensitive and never extractable: '$access'" ;;
esac
if echo "$access" | sed 's/never extractable//' | grep -q extractable; then
    fail "the private key is extractable: '$access'"
fi
pass "pkcs11-tool shows the private key CKA_SENSITIVE, not CKA_EXTRACTABLE"
case "$usage" in
*"Usage:"*" sign") ;;
*) fail "the private key may do more than sign: '$usage'" ;;
esac
pass "the private key is sign-only"

rm -f privkey.der
p11tool_login --read-object --type privkey --id 02 -o privkey.der > read-priv.out 2>&1 || true
if [ -s privkey.der ]; then
    fail "pkcs11-tool read the private key's value out of the token"
fi
pass "pkcs11-tool --read-object --type privkey gets no key value"

# --- the openssl CLI reads key.pem through its file store ------------------
run_ok pkey-pubout env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$OPENSSL" pkey -in key.pem -pubout -out keyref-pub.pem
assert_same_file "openssl pkey -in key.pem -pubout" keyref-pub.pem pub.pem
pass "openssl pkey -in key.pem -pubout prints the token's public key"

run_ok dgst-keyref env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$OPENSSL" dgst -sha256 -sign key.pem -out dgst.sig msg
run_ok dgst-keyref-verify sw_openssl dgst -sha256 -verify pub.pem -signature dgst.sig msg
assert_grep "openssl dgst -sign key.pem" "Verified OK" dgst-keyref-verify.out
pass "openssl dgst -sign key.pem signs with the token key"
