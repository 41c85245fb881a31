#!/bin/sh
# The openssl command line lists, exports, signs and certifies with a token
# key through the sks provider -- once with the provider activated from
# openssl.cnf, once with `-provider sks -provider default` and the SKS_PKCS11_*
# environment -- and the default provider alone verifies everything the token
# produced.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
sks_mkwork
make_token sks-cli
cd "$sks_work"

have_p11tool=no
if command -v pkcs11-tool >/dev/null 2>&1; then have_p11tool=yes; fi

priv_uri=$(keygen sp-main 01)
case "$priv_uri" in
pkcs11:*) pass "sksctl keygen prints the private key's pkcs11: URI ($priv_uri)" ;;
*) fail "sksctl keygen printed '$priv_uri', not a pkcs11: URI" ;;
esac
token_uri="pkcs11:token=$SKS_TOKEN_LABEL"
package_version=$("$SKSCTL" --version | sed 's/.* //')
pub_uri="$token_uri;object=sp-main;type=public"
write_openssl_cnf openssl.cnf

# A SIP INVITE start line stands in for the PASSporT signing input.
printf 'INVITE sip:+12155550123@example.net SIP/2.0\r\n' > msg
sw_openssl dgst -sha256 -binary -out msg.sha256 msg

if [ "$have_p11tool" = yes ]; then
    p11tool_export_pubkey 01 ref-pub.pem
fi

# Runs `openssl SUBCOMMAND ...` with the provider made available the way
# $mode says.  The SKS_PKCS11_* variables are set only in cmdline mode, so
# config mode proves that openssl.cnf alone is enough.
hsm_openssl() {
    hsm_sub=$1
    shift
    if [ "$mode" = config ]; then
        OPENSSL_CONF=$sks_work/openssl.cnf "$OPENSSL" "$hsm_sub" "$@"
    else
        OPENSSL_CONF=$sks_work/plain.cnf SKS_PKCS11_MODULE=$SOFTHSM_MODULE \
            SKS_PKCS11_TOKEN_PIN=file:$SKS_PIN_FILE SKS_PKCS11_TOKEN=$token_uri \
            "$OPENSSL" "$hsm_sub" -provider sks -provider default "$@"
    fi
}

# Fails unless PEM public key $2 is the token key; $1 names the check.
assert_token_pubkey() {
    assert_same_file "$1" "$2" "$mode-pub.pem"
}

check_provider_listed() {
    run_ok "$mode-list" hsm_openssl list -providers
    grep -qx '  sks' "$mode-list.out" || {
        cat "$mode-list.out" >&2
        fail "$mode: 'openssl list -providers' does not show the sks provider"
    }
    [ "$(grep -c 'status: active' "$mode-list.out")" -ge 2 ] || {
        cat "$mode-list.out" >&2
        fail "$mode: the sks and default providers are not both active"
    }
    awk '/^  [^ ]/ { p = ($1 == "sks") } p' "$mode-list.out" > "$mode-sks.txt"
    assert_grep "$mode: provider name" "name: " "$mode-sks.txt"
    assert_grep "$mode: provider version" "version: $package_version" "$mode-sks.txt"
    assert_grep "$mode: provider status" "status: active" "$mode-sks.txt"
    pass "$mode: openssl list -providers shows sks active, named, version $package_version"
}

check_pkey_pubout() {
    run_ok "$mode-pkey-pub" hsm_openssl pkey -pubin -in "$pub_uri" -pubout -out "$mode-pub.pem"
    run_ok "$mode-pub-text" sw_openssl pkey -pubin -in "$mode-pub.pem" -noout -text
    assert_grep "$mode: exported key is P-256" "ASN1 OID: prime256v1" "$mode-pub-text.out"
    if [ "$have_p11tool" = yes ]; then
        assert_same_file "$mode: pkey -pubout equals pkcs11-tool's export" \
            "$mode-pub.pem" ref-pub.pem
    fi
    pass "$mode: pkey -pubin -pubout on the public key URI prints the token's P-256 key"

    run_ok "$mode-pkey-priv" hsm_openssl pkey -in "$priv_uri" -pubout -out "$mode-privpub.pem"
    assert_token_pubkey "$mode: pkey -pubout on the private key URI" "$mode-privpub.pem"
    pass "$mode: pkey -pubout on the private key URI prints the same public key"
}

check_pkeyutl_sign() {
    run_ok "$mode-pkeyutl" hsm_openssl pkeyutl -sign -inkey "$priv_uri" \
        -in msg.sha256 -out "$mode-pkeyutl.sig"
    run_ok "$mode-pkeyutl-verify" sw_openssl pkeyutl -verify -pubin -inkey "$mode-pub.pem" \
        -in msg.sha256 -sigfile "$mode-pkeyutl.sig"
    assert_grep "$mode: pkeyutl signature" "Signature Verified Successfully" \
        "$mode-pkeyutl-verify.out"
    pass "$mode: pkeyutl -sign makes a DER signature the default provider verifies"

    run_ok "$mode-pkeyutl-raw" hsm_openssl pkeyutl -sign -inkey "$priv_uri" \
        -pkeyopt sks-signature-format:raw -in msg.sha256 -out "$mode-raw.sig"
    raw_len=$(wc -c < "$mode-raw.sig")
    [ "$raw_len" -eq 64 ] || fail "$mode: the raw signature is $raw_len bytes, not 64 (r || s)"
    raw_sig_to_der "$mode-raw.sig" "$mode-raw.der" || fail "$mode: cannot re-encode r || s"
    run_ok "$mode-raw-verify" sw_openssl pkeyutl -verify -pubin -inkey "$mode-pub.pem" \
        -in msg.sha256 -sigfile "$mode-raw.der"
    assert_grep "$mode: raw signature" "Signature Verified Successfully" "$mode-raw-verify.out"
    pass "$mode: sks-signature-format:raw gives a 64-byte r || s that verifies"
}

check_dgst_sign() {
    run_ok "$mode-dgst" hsm_openssl dgst -sha256 -sign "$priv_uri" -out "$mode-dgst.sig" msg
    run_ok "$mode-dgst-verify" sw_openssl dgst -sha256 -verify "$mode-pub.pem" \
        -signature "$mode-dgst.sig" msg
    assert_grep "$mode: dgst signature" "Verified OK" "$mode-dgst-verify.out"
    pass "$mode: dgst -sha256 -sign signs a message that dgst -verify accepts"
}

check_csr() {
    run_ok "$mode-req" hsm_openssl req -new -key "$priv_uri" -subj "/O=sks test/CN=SHAKEN $mode" \
        -out "$mode-csr.pem"
    run_ok "$mode-req-verify" sw_openssl req -in "$mode-csr.pem" -verify -noout
    assert_grep "$mode: CSR self-signature" "verify OK" "$mode-req-verify.out"
    sw_openssl req -in "$mode-csr.pem" -pubkey -noout > "$mode-csr-pub.pem"
    assert_token_pubkey "$mode: CSR public key" "$mode-csr-pub.pem"
    pass "$mode: req -new makes a CSR signed by the token key that req -verify accepts"
}

# Checks that certificate $1 is self-signed by the token key.
assert_self_signed() {
    run_ok "$mode-verify-$1" sw_openssl verify -CAfile "$1" "$1"
    assert_grep "$mode: $1 verifies" "$1: OK" "$mode-verify-$1.out"
    sw_openssl x509 -in "$1" -pubkey -noout > "$1.pub"
    assert_token_pubkey "$mode: public key of $1" "$1.pub"
    run_ok "$mode-text-$1" sw_openssl x509 -in "$1" -noout -text
    assert_grep "$mode: $1 algorithm" "ecdsa-with-SHA256" "$mode-text-$1.out"
}

check_self_signed() {
    run_ok "$mode-req-x509" hsm_openssl req -x509 -new -key "$priv_uri" -days 30 \
        -subj "/O=sks test/CN=SHAKEN self-signed $mode" -out "$mode-cert.pem"
    assert_self_signed "$mode-cert.pem"
    pass "$mode: req -x509 makes a self-signed certificate that verifies and holds the token key"

    run_ok "$mode-x509-signkey" hsm_openssl x509 -req -in "$mode-csr.pem" -signkey "$priv_uri" \
        -days 30 -out "$mode-signkey.pem"
    assert_self_signed "$mode-signkey.pem"
    pass "$mode: x509 -req -signkey self-signs the CSR with the token key"
}

# Stores the certificate next to the key (same CKA_ID and label), once.
store_cert_on_token() {
    [ "$have_p11tool" = yes ] || return 0
    [ ! -f cert-on-token.pem ] || return 0
    cp "$mode-cert.pem" cert-on-token.pem
    sw_openssl x509 -in cert-on-token.pem -outform DER -out cert-on-token.der
    run_ok write-cert p11tool_login --write-object cert-on-token.der --type cert \
        --id 01 --label sp-main
}

check_storeutl() {
    store_cert_on_token
    run_ok "$mode-storeutl" hsm_openssl storeutl -noout "$token_uri"
    assert_grep "$mode: storeutl lists the private key" ": Pkey" "$mode-storeutl.out"
    assert_grep "$mode: storeutl lists the public key" ": Public key" "$mode-storeutl.out"
    want=2
    if [ "$have_p11tool" = yes ]; then
        assert_grep "$mode: storeutl lists the certificate" ": Certificate" "$mode-storeutl.out"
        want=3
    fi
    assert_grep "$mode: storeutl object count" "Total found: $want" "$mode-storeutl.out"
    pass "$mode: storeutl lists the token's private key, public key and certificate"

    run_ok "$mode-storeutl-keys" hsm_openssl storeutl -noout -keys "$token_uri"
    assert_grep "$mode: storeutl -keys" "Total found: 1" "$mode-storeutl-keys.out"
    assert_grep "$mode: storeutl -keys" "0: Pkey" "$mode-storeutl-keys.out"
    pass "$mode: storeutl -keys lists the private key alone"

    if [ "$have_p11tool" = yes ]; then
        run_ok "$mode-storeutl-certs" hsm_openssl storeutl -certs "$token_uri;object=sp-main"
        sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' \
            "$mode-storeutl-certs.out" > "$mode-stored-cert.pem"
        assert_same_file "$mode: certificate read back through storeutl" \
            "$mode-stored-cert.pem" cert-on-token.pem
        pass "$mode: storeutl -certs returns the certificate stored on the token"
    fi
}

for mode in config cmdline; do
    check_provider_listed
    check_pkey_pubout
    check_pkeyutl_sign
    check_dgst_sign
    check_csr
    check_self_signed
    check_storeutl
done

# The provider logs in only for private objects: a public key exports with no
# PIN configured at all.
# (openssl pkey without -pubin asks the store for private keys only.)
mode=nopin
run_ok nopin-pkey env OPENSSL_CONF="$sks_work/plain.cnf" SKS_PKCS11_MODULE="$SOFTHSM_MODULE" \
    "$OPENSSL" pkey -provider sks -provider default -pubin -in "$pub_uri" -pubout -out nopin-pub.pem
assert_same_file "public key without a PIN" nopin-pub.pem config-pub.pem
pass "pkey -pubin -pubout on a public key needs no PIN"

# RFC 7512 pin-source in the URI's query part is a PIN source of its own.
run_ok pinsource-sign env OPENSSL_CONF="$sks_work/plain.cnf" SKS_PKCS11_MODULE="$SOFTHSM_MODULE" \
    "$OPENSSL" pkeyutl -provider sks -provider default -sign \
    -inkey "$token_uri;object=sp-main;type=private?pin-source=file:$SKS_PIN_FILE" \
    -in msg.sha256 -out pinsource.sig
run_ok pinsource-verify sw_openssl pkeyutl -verify -pubin -inkey config-pub.pem \
    -in msg.sha256 -sigfile pinsource.sig
assert_grep "pin-source signature" "Signature Verified Successfully" pinsource-verify.out
pass "a pkcs11: URI with ?pin-source=file:... signs with no other PIN configured"
