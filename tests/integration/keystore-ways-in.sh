#!/bin/sh
# Every way into the key store, end to end against a SoftHSM2 token: a
# software key (PKCS#8, encrypted PKCS#8, SEC1, DER), a key wrapped for the
# token, and a key generated in the token with its CSR.  Each imported key
# signs through the sks provider by identity and by pkcs11: URI, the Identity
# header verifies against the test PKI, and the key is sensitive, not
# extractable and sign-only.  Also import-batch and list --json.
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup

x5u=https://cert.example.org

# ---- way 3: a software key ----------------------------------------------------------

run_ok import-pem ks import sp-soft --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-soft.pem"
assert_grep import-pem "sp-soft/1 active" "$sks_work/import-pem.out"
pass "import_takes_a_pkcs8_pem_key: the first version of a new identity is active"

ks_signs soft-identity identity:sp-soft pki/sp-1234-fullchain.pem
assert_grep soft-identity-verify "x5u: $x5u/sp-soft.pem" "$sks_work/soft-identity-verify.out"
ks_signs soft-bare sp-soft pki/sp-1234-fullchain.pem
ks_signs soft-uri "$(ks_uri sp-soft 1)" pki/sp-1234-fullchain.pem "$x5u/sp-soft.pem"
pass "sign_by_identity_and_uri: sp-soft signs by identity:NAME, bare NAME and pkcs11: URI; the header verifies"
ks_protected sp-soft 1
pass "imported_key_is_protected: sp-soft/1 is sensitive, not extractable, sign-only, unreadable"

# The same key as an encrypted PKCS#8 (PBES2), as SEC1 and as DER, each a new version.
sw_openssl pkcs8 -topk8 -v2 aes-256-cbc -passout file:"$SKS_PIN_FILE" \
    -in pki/sp-1234.key -out enc.pem
sw_openssl ec -in pki/sp-1234.key -out sec1.pem 2>/dev/null
sw_openssl pkcs8 -topk8 -nocrypt -in pki/sp-1234.key -outform DER -out key.der
run_ok import-enc ks import sp-soft --key enc.pem --passphrase-file "$SKS_PIN_FILE" \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u/sp-soft-2.pem"
assert_grep import-enc "sp-soft/2 standby" "$sks_work/import-enc.out"
run_ok import-sec1 ks import sp-soft --key sec1.pem --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-soft-3.pem"
run_ok import-der ks import sp-soft --key key.der --cert pki/sp-1234.pem --chain pki/chain.pem \
    --x5u "$x5u/sp-soft-4.pem"
assert_grep import-der "sp-soft/4 standby" "$sks_work/import-der.out"
pass "import_takes_encrypted_pkcs8_sec1_and_der: later versions wait as standby"

# ---- way 2: a wrapped key -----------------------------------------------------------

run_ok wrapping-key ks wrapping-key --out wrap.pub
run_ok wrapping-key-text sw_openssl pkey -pubin -in wrap.pub -noout -text
assert_grep wrapping-key-text "Public-Key: (3072 bit)" "$sks_work/wrapping-key-text.out"
run_ok wrapping-key-again ks wrapping-key --out wrap2.pub
assert_same_file "the wrapping key is made once" wrap.pub wrap2.pub
p11tool_login -O 2>/dev/null | awk '/^Private Key Object; RSA/ { k = 1; next } /^[A-Z]/ { k = 0 } k' \
    > wrap-priv.txt
assert_grep wrap-priv "label:      shaken-sks/wrapping" wrap-priv.txt
assert_grep wrap-priv "Usage:      unwrap" wrap-priv.txt
assert_grep wrap-priv "never extractable" wrap-priv.txt
pass "wrapping_key_is_rsa3072_unwrap_only: printed as PEM, made once, unwrap-only in the token"

run_ok wrap "$SKSCTL" wrap --wrapping-key wrap.pub --key pki/sp-5678.key --out sp-wrap.blob
[ "$(stat -c %a sp-wrap.blob)" = 600 ] || fail "the wrapped blob is not mode 0600"
run_ok import-wrapped ks import sp-wrap --wrapped sp-wrap.blob --cert pki/sp-5678.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-wrap.pem"
assert_grep import-wrapped "sp-wrap/1 active" "$sks_work/import-wrapped.out"
ks_signs wrap-identity identity:sp-wrap pki/sp-5678-fullchain.pem
ks_signs wrap-uri "$(ks_uri sp-wrap 1)" pki/sp-5678-fullchain.pem "$x5u/sp-wrap.pem"
ks_protected sp-wrap 1
pass "import_wrapped: unwrapped in the token, signs by identity and URI, protected"

# SoftHSM 2.6 unwraps RSA-OAEP with SHA-1 only: a SHA-256 blob is refused, named.
run_ok wrap-sha256 "$SKSCTL" wrap --wrapping-key wrap.pub --key pki/sp-5678.key \
    --out sha256.blob --oaep sha256
ks_refused wrapped-sha256 "RSA-OAEP unwrapping of the AES key failed" import sp-wrap \
    --wrapped sha256.blob --cert pki/sp-5678-fullchain.pem --x5u "$x5u/sp-wrap.pem"
pass "import_wrapped_names_oaep_failure: a SHA-256 OAEP blob on SoftHSM 2.6 is refused, token unchanged"

# ---- way 1: generated in the token ----------------------------------------------------

run_ok generate ks generate sp-gen --spc 4321 --csr gen.csr
assert_grep generate "sp-gen/1 pending" "$sks_work/generate.out"
run_ok csr-verify sw_openssl req -in gen.csr -noout -verify -subject -text
assert_grep csr-verify "verify OK" "$sks_work/csr-verify.out"
assert_grep csr-verify "CN = SHAKEN 4321" "$sks_work/csr-verify.out"
assert_grep csr-verify "1.3.6.1.5.5.7.1.26" "$sks_work/csr-verify.out"
sw_openssl req -in gen.csr -noout -pubkey > gen.pub
pass "generate_writes_a_signed_csr: CN SHAKEN 4321, TNAuthList, signature verifies"

run_ok list-pending ks list sp-gen
assert_grep list-pending "pending" "$sks_work/list-pending.out"
run_fails sign-pending "no active key version" ks sign --key sp-gen --orig 1 --dest 2 --attest A
pass "pending_version_does_not_sign"

run_ok issue "$MKCERT" --ca pki --key gen.pub --spc 4321 --out gen.pem
cat gen.pem pki/ca.pem > gen-fullchain.pem
run_ok attach ks attach sp-gen --cert gen.pem --chain pki/chain.pem --x5u "$x5u/sp-gen.pem"
ks_signs gen-identity sp-gen gen-fullchain.pem
ks_signs gen-uri "$(ks_uri sp-gen 1)" gen-fullchain.pem "$x5u/sp-gen.pem"
ks_protected sp-gen 1
assert_grep gen-key "never extractable" "$sks_work/sp-gen-1.key.txt"
pass "attach_completes_a_generated_key: signs by identity and URI, never extractable"

ks_refused attach-again "only a pending version takes a certificate" attach sp-gen \
    --version 1 --cert gen.pem --chain pki/chain.pem --x5u "$x5u/sp-gen.pem"
pass "attach_refuses_a_complete_version"

# ---- import-batch and list --json ---------------------------------------------------------

mkdir -p batch/sp-b1 batch/sp-b2 batch/sp-bad
for n in 1 2; do
    cp pki/sp-1234.key "batch/sp-b$n/key.pem"
    cp pki/sp-1234.pem "batch/sp-b$n/cert.pem"
    cp pki/chain.pem "batch/sp-b$n/chain.pem"
    echo "$x5u/sp-b$n.pem" > "batch/sp-b$n/x5u"
done
cp pki/sp-5678.key batch/sp-bad/key.pem
cp pki/sp-1234.pem batch/sp-bad/cert.pem
echo "$x5u/sp-bad.pem" > batch/sp-bad/x5u
if ks import-batch batch > batch.out 2>&1; then
    cat batch.out
    fail "import-batch with a bad set exited 0"
fi
assert_grep import-batch "2 imported, 1 failed, 3 in all" batch.out
assert_grep import-batch "FAILED sp-bad: key-match" batch.out
ks_signs batch-b2 sp-b2 pki/sp-1234-fullchain.pem
pass "import_batch_imports_each_set_and_reports_failures: 2 imported, sp-bad refused with key-match"

run_ok list-json ks list --json
jq -e '[.identities[].name] as $n | $n == ($n | sort) and
    (["sp-soft", "sp-wrap", "sp-gen", "sp-b1", "sp-b2"] - $n) == [] and
    [.identities[] | select(.name == "sp-soft") | .versions[].state] ==
        ["active", "standby", "standby", "standby"]' "$sks_work/list-json.out" > /dev/null ||
    fail "list --json does not describe the identities"
pass "list_json_describes_identities_and_versions"
