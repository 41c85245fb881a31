#!/bin/sh
# Bad input to the sks provider gets an error that names the problem and a
# non-zero exit, never a crash: a malformed URI, an object or a token that is
# not there, a wrong PIN (which leaves the token usable with the right one),
# keys of the wrong type, and corrupt key-reference PEM files.  No error
# message carries the PIN.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
require_pkcs11_tool
sks_mkwork
make_token sks-bad-input
cd "$sks_work"

token_uri="pkcs11:token=$SKS_TOKEN_LABEL"
priv_uri=$(keygen sp-good 05)
write_openssl_cnf openssl.cnf
printf 'INVITE sip:+12155550151@example.net SIP/2.0\r\n' > msg
sw_openssl dgst -sha256 -binary -out msg.sha256 msg
run_ok pubout env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$OPENSSL" pkey -pubin -in "$token_uri;object=sp-good;type=public" -pubout -out pub.pem

hsm_openssl() {
    OPENSSL_CONF=$sks_work/openssl.cnf "$OPENSSL" "$@"
}

# Signing with the right PIN works: the yardstick for the cases below.
sign_ok() {
    run_ok "$1-sign" hsm_openssl pkeyutl -sign -inkey "$priv_uri" -in msg.sha256 -out "$1.sig"
    run_ok "$1-verify" sw_openssl pkeyutl -verify -pubin -inkey pub.pem -in msg.sha256 \
        -sigfile "$1.sig"
    assert_grep "$1: signature with the right PIN" "Signature Verified Successfully" \
        "$1-verify.out"
}
sign_ok baseline

# --- URIs -----------------------------------------------------------------
run_fails malformed-uri "invalid PKCS#11 URI" hsm_openssl pkey -in 'pkcs11:id=%zz' -pubout
pass "pkcs11:id=%zz is refused as an invalid PKCS#11 URI"

# A URI that holds a PIN and is refused for another reason: the provider's
# refusal names the reason and quotes the URI without the PIN.  The openssl
# command itself echoes its -in argument, so only the provider's lines count.
for case in "malformed-uri-with-pin;id=%zz;invalid PKCS#11 URI" \
    "unknown-attr-with-pin;objekt=sp-good;attributes this provider does not know"; do
    name=${case%%;*}
    rest=${case#*;}
    run_fails "$name" "${rest#*;}" \
        hsm_openssl pkey -in "$token_uri;${rest%%;*}?pin-value=Wr0ngPin7731" -pubout
    grep ':sks:' "$name.out" > "$name.provider"
    mv "$name.out" "$name.openssl-echo"
    assert_grep "$name: the provider quotes the URI" 'pin-value="' "$name.provider"
    ! grep -F Wr0ngPin7731 "$name.provider" || fail "$name: the provider's error repeats the PIN"
done
pass "a refused URI that carries pin-value is quoted without its PIN"

run_fails unknown-public "no object matches" \
    hsm_openssl pkey -pubin -in "$token_uri;object=nosuch;type=public" -pubout
run_fails unknown-private "no object matches" \
    hsm_openssl pkeyutl -sign -inkey "$token_uri;object=nosuch;type=private" -in msg.sha256
pass "an unknown object is reported as 'no object matches'"

run_fails absent-token-key "no token matches" \
    hsm_openssl pkey -pubin -in 'pkcs11:token=nosuch;object=sp-good;type=public' -pubout
pass "pkcs11:token=nosuch is reported as 'no token matches', not another token's key"

# --- PIN ------------------------------------------------------------------
printf 'Wr0ngPin7731' > wrong.pin
write_openssl_cnf wrong-pin.cnf "$sks_work/wrong.pin"
run_fails wrong-pin "CKR_PIN_INCORRECT" env OPENSSL_CONF="$sks_work/wrong-pin.cnf" \
    "$OPENSSL" pkeyutl -sign -inkey "$priv_uri" -in msg.sha256 -out wrong-pin.sig
pass "a wrong PIN is reported as CKR_PIN_INCORRECT"

run_ok token-flags p11tool_nologin --list-token-slots
if grep -q 'locked' token-flags.out; then
    cat token-flags.out >&2
    fail "the user PIN is locked after one wrong PIN"
fi
sign_ok after-wrong-pin
pass "after a wrong PIN the token is not locked and the right PIN signs"

# --- wrong key types --------------------------------------------------------
run_ok rsa-keygen p11tool_login --keypairgen --key-type rsa:2048 --label rsa-key --id 0c
run_fails rsa-sign "not an EC P-256 key" \
    hsm_openssl pkeyutl -sign -inkey "$token_uri;object=rsa-key;type=private" -in msg.sha256
run_fails rsa-dgst "not an EC P-256 key" \
    hsm_openssl dgst -sha256 -sign "$token_uri;object=rsa-key;type=private" msg
pass "an RSA key is refused as 'not an EC P-256 key'"

run_ok p384-keygen p11tool_login --keypairgen --key-type EC:secp384r1 --label p384-key --id 0d
run_fails p384-sign "not an EC P-256 key" \
    hsm_openssl pkeyutl -sign -inkey "$token_uri;object=p384-key;type=private" -in msg.sha256
pass "a P-384 key is refused as 'not an EC P-256 key'"

# --- corrupt key-reference PEM files -----------------------------------------
run_ok keyref env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" keyref --out key.pem "$priv_uri"
sed '1d;$d' key.pem | sw_openssl base64 -d -out key.der

# $1: name, stdin: the DER to wrap in key-reference PEM armour.
write_keyref_pem() {
    {
        echo '-----BEGIN PKCS#11 PROVIDER URI-----'
        sw_openssl base64
        echo '-----END PKCS#11 PROVIDER URI-----'
    } > "$1"
}

{
    echo '-----BEGIN PKCS#11 PROVIDER URI-----'
    echo 'MIGF!!!this*is*not*base64###'
    echo '-----END PKCS#11 PROVIDER URI-----'
} > bad-base64.pem

der_len=$(wc -c < key.der)
head -c $((der_len - 12)) key.der | write_keyref_pem truncated.pem

{
    echo "asn1 = SEQUENCE:keyref"
    echo "[keyref]"
    echo "version = VISIBLESTRING:PKCS#11 Provider URI v9.9"
    echo "uri = UTF8:$priv_uri"
} > wrong-version.cnf
sw_openssl asn1parse -genconf wrong-version.cnf -out wrong-version.der -noout
write_keyref_pem wrong-version.pem < wrong-version.der

for pem in bad-base64.pem truncated.pem wrong-version.pem; do
    run_fails "keyref-sign-$pem" "key-reference" env OPENSSL_CONF="$sks_work/openssl.cnf" \
        "$top_builddir/tests/interop/keyref_sign" "$pem" msg "$pem.sig"
    pass "$pem: PEM_read_bio_PrivateKey reports a bad key-reference"
done

# --- through the openssl CLI's file store and STORE listing -------------------
for pem in bad-base64.pem truncated.pem wrong-version.pem; do
    run_fails "pkey-$pem" "key-reference" hsm_openssl pkey -in "$pem" -pubout
    pass "$pem: openssl pkey -in reports a bad key-reference"
done

run_fails absent-token-store "no token matches" hsm_openssl storeutl -noout 'pkcs11:token=nosuch'
pass "storeutl on pkcs11:token=nosuch fails with 'no token matches'"

# --- no secret in any message -------------------------------------------------
pin=$(cat "$SKS_PIN_FILE")
if grep -lF -e "$pin" -e Wr0ngPin7731 ./*.out; then
    fail "a PIN appears in the output of the commands above"
fi
pass "no PIN appears in any error message"
