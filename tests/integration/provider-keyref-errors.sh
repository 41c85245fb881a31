#!/bin/sh
# A key-reference PEM file fails for the same precise reason as the pkcs11:
# URI it holds (a wrong PIN, no such token, no such object), in the openssl
# CLI and in sksctl sign; sksctl keyref refuses a URI that names no private
# key, and the README's key-reference example works as written; sksctl finds
# its provider with no OPENSSL_MODULES or OPENSSL_CONF, or says it is not
# loaded; a relative PIN path in openssl.cnf is refused by name.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
sks_mkwork
make_token sks
cd "$sks_work"

x5u=https://cert.example.org/sp-main.pem
run_ok pki "$SKSCTL" pki --out pki --spc 1234 --days 365
cat > ks.conf <<CONF
[sks]
pkcs11_module = $SOFTHSM_MODULE
token = $SKS_TOKEN_LABEL
pin_file = $SKS_PIN_FILE
trust_anchors = pki/root.pem
# The test PKI's CRLs are not served.
crl_check = no
CONF
run_ok import "$SKSCTL" import sp-main -c ks.conf --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u"
write_openssl_cnf openssl.cnf
echo wrong-pin > wrong.pin
write_openssl_cnf wrong-pin.cnf "$sks_work/wrong.pin"
sw_openssl x509 -in pki/sp-1234.pem -pubkey -noout > pub.pem
printf 'INVITE sip:+12155550131@example.net SIP/2.0\r\n' > msg

# --- the README's example, as written (the key store labels versions NAME/N) ---
readme_cmd=$(grep -o "sksctl keyref --out [^ ]* 'pkcs11:[^']*'" "$top_srcdir/README.md") ||
    fail "README.md has no 'sksctl keyref --out FILE 'pkcs11:...'' example"
readme_uri=$(echo "$readme_cmd" | sed "s/.*'\(pkcs11:[^']*\)'/\1/")
run_ok readme-keyref env OPENSSL_CONF=openssl.cnf "$SKSCTL" keyref --out sp.key "$readme_uri"
run_ok readme-sign env OPENSSL_CONF=openssl.cnf "$OPENSSL" dgst -sha256 -sign sp.key -out msg.sig msg
run_ok readme-verify sw_openssl dgst -sha256 -verify pub.pem -signature msg.sig msg
assert_grep readme-verify "Verified OK" readme-verify.out
pass "the README key-reference example signs with the identity's key"

# --- sksctl keyref refuses a URI that names no private key ---
run_fails keyref-identity "refusing to write a key reference that cannot sign" \
    env OPENSSL_CONF=openssl.cnf "$SKSCTL" keyref --out bad.pem 'pkcs11:token=sks;object=sp-main;type=private'
assert_grep keyref-identity "no object matches pkcs11:token=sks;object=sp-main;type=private" \
    keyref-identity.out
[ ! -e bad.pem ] || fail "sksctl keyref wrote bad.pem although it refused the URI"
pass "sksctl_keyref_refuses_an_identity_name_and_writes_nothing"
run_ok keyref-no-check "$SKSCTL" keyref --no-check --out no-object.pem \
    'pkcs11:token=sks;object=nothere;type=private'
run_ok keyref-no-token "$SKSCTL" keyref --no-check --out no-token.pem \
    'pkcs11:token=nosuch;object=sp-main/1;type=private'
pass "sksctl_keyref_--no-check_writes_without_opening_the_token"

# --- through a key-reference file, the same reasons as through the URI ---
# keyref_fails NAME EXPECTED CNF KEYFILE: openssl pkeyutl, openssl dgst and sksctl sign
keyref_fails() {
    run_fails "$1-pkeyutl" "$2" env OPENSSL_CONF="$3" "$OPENSSL" pkeyutl -sign -inkey "$4" \
        -rawin -digest sha256 -in msg -out /dev/null
    run_fails "$1-dgst" "$2" env OPENSSL_CONF="$3" "$OPENSSL" dgst -sha256 -sign "$4" \
        -out /dev/null msg
    run_fails "$1-sksctl" "$2" env OPENSSL_CONF="$3" "$SKSCTL" sign --key "$4" \
        --orig 12155550121 --dest 12155550131 --attest A --x5u "$x5u"
    if grep -q "no private key in\|STORE routines::unsupported" "$1-sksctl.out"; then
        cat "$1-sksctl.out" >&2
        fail "$1: sksctl sign hides the cause"
    fi
}
keyref_fails wrong-pin CKR_PIN_INCORRECT wrong-pin.cnf sp.key
pass "a_wrong_PIN_through_a_key_reference_says_CKR_PIN_INCORRECT"
keyref_fails no-token "no token matches pkcs11:token=nosuch" openssl.cnf no-token.pem
pass "a_missing_token_through_a_key_reference_is_named"
keyref_fails no-object "no object matches pkcs11:token=sks;object=nothere;type=private" \
    openssl.cnf no-object.pem
pass "a_missing_object_through_a_key_reference_is_named"

# --- a relative PIN path in openssl.cnf: refused, and said so ---
sed 's|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:token/user.pin|' openssl.cnf \
    > relative-pin.cnf
run_fails relative-pin-sksctl "a relative path is not allowed" env OPENSSL_CONF=relative-pin.cnf \
    "$SKSCTL" sign --key "$readme_uri" --orig 12155550121 --dest 12155550131 --attest A --x5u "$x5u"
assert_grep relative-pin-sksctl "pkcs11-module-token-pin" relative-pin-sksctl.out
run_fails relative-pin-openssl "a relative path is not allowed" env OPENSSL_CONF=relative-pin.cnf \
    "$OPENSSL" dgst -sha256 -sign sp.key -out /dev/null msg
pass "a_relative_PIN_path_in_openssl_cnf_is_refused_by_name"

# --- sksctl finds its own provider: no OPENSSL_MODULES, no OPENSSL_CONF ---
run_ok own-provider env -u OPENSSL_MODULES -u OPENSSL_CONF "$SKSCTL" sign -c ks.conf \
    --key sp-main --orig 12155550121 --dest 12155550131 --attest A
run_ok own-provider-verify "$SKSCTL" verify --cert pki/sp-1234-fullchain.pem --trust pki/root.pem \
    < own-provider.out
pass "sksctl_sign_from_the_build_tree_loads_the_provider_built_next_to_it"

# A copy of sksctl with no provider next to it, and none installed, says so.
mkdir bin
cp "$SKSCTL" bin/sksctl
if [ -f "$("$OPENSSL" version -m | sed 's/.*"\(.*\)"/\1/')/sks.so" ]; then
    echo "# an sks provider is installed in OpenSSL's modules directory: the not-loaded message is not checked"
else
    run_fails not-loaded "the sks provider is not loaded (looked for " env -u OPENSSL_MODULES \
        -u OPENSSL_CONF bin/sksctl sign -c ks.conf --key sp-main --orig 12155550121 \
        --dest 12155550131 --attest A
    if grep -q unsupported not-loaded.out; then
        cat not-loaded.out >&2
        fail "sksctl says 'unsupported' when the provider is not loaded"
    fi
    pass "sksctl_without_its_provider_says_it_is_not_loaded_and_where_it_looked"
fi
