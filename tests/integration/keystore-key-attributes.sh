#!/bin/sh
# A key never leaves the token, even for someone who holds the PIN.  After
# each way in (keygen, generate, PKCS#8, encrypted PKCS#8, SEC1, wrapped
# import, the wrapping key) p11attrs, which calls PKCS#11 itself, reads
# every attribute of every key: not modifiable, sign-only (or unwrap-only),
# sensitive, never extractable, CKA_ALLOWED_MECHANISMS limited; every change
# it tries (C_SetAttributeValue, C_CopyObject) is refused, the wrapping key
# refuses C_Decrypt of a wrapped blob and unwrapping its AES key as readable
# or decrypting.  Keys made modifiable the old way are
# named by sksctl list and re-protected by sksctl protect, also across an
# interruption between the copy and the destroy, and they still sign.
. "$top_srcdir/tests/integration/keystore-common.sh"
P11ATTRS=$top_builddir/tests/keystore/p11attrs
require_program tests/keystore/p11attrs "make check builds it"
P11FAULT_SO=$top_builddir/tests/p11fault/.libs/libp11fault.so
[ -f "$P11FAULT_SO" ] || fail "p11fault is not built at $P11FAULT_SO"
ks_setup

x5u=https://cert.example.org

# attrs_hold NAME [ARGS...]: p11attrs check passes on the whole token.
attrs_hold() {
    attrs_name=$1
    shift
    if ! "$P11ATTRS" check "$@" > "$sks_work/attrs-$attrs_name.out" 2>&1; then
        cat "$sks_work/attrs-$attrs_name.out" >&2
        fail "$attrs_name: a key on the token breaks the key policy (p11attrs check)"
    fi
    assert_grep "attrs-$attrs_name" "; 0 failures" "$sks_work/attrs-$attrs_name.out"
}

# ---- every way in ----------------------------------------------------------------------

keygen kg-key 0a > keygen.out
attrs_hold keygen
assert_grep attrs-keygen "checked: 1 private keys, 1 public keys" "$sks_work/attrs-keygen.out"
pass "keygen_key_is_fixed: sign-only, not modifiable, every change refused"

run_ok generate ks generate sp-gen --spc 4321 --csr gen.csr
sw_openssl req -in gen.csr -noout -pubkey > gen.pub
run_ok issue "$MKCERT" --ca pki --key gen.pub --spc 4321 --out gen.pem
run_ok attach ks attach sp-gen --cert gen.pem --chain pki/chain.pem --x5u "$x5u/sp-gen.pem"
attrs_hold generate
assert_grep attrs-generate "checked: 2 private keys, 2 public keys" "$sks_work/attrs-generate.out"
pass "generated_key_is_fixed: no CKA_SIGN_RECOVER, CKA_ALLOWED_MECHANISMS CKM_ECDSA"

run_ok import-pem ks import sp-soft --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-soft.pem"
attrs_hold pkcs8
sw_openssl pkcs8 -topk8 -v2 aes-256-cbc -passout file:"$SKS_PIN_FILE" \
    -in pki/sp-1234.key -out enc.pem
run_ok import-enc ks import sp-soft --key enc.pem --passphrase-file "$SKS_PIN_FILE" \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u/sp-soft-2.pem"
attrs_hold pkcs8-encrypted
sw_openssl ec -in pki/sp-1234.key -out sec1.pem 2>/dev/null
run_ok import-sec1 ks import sp-soft --key sec1.pem --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-soft-3.pem"
attrs_hold sec1
assert_grep attrs-sec1 "checked: 5 private keys, 5 public keys" "$sks_work/attrs-sec1.out"
pass "imported_keys_are_fixed: PKCS#8, encrypted PKCS#8 and SEC1 imports, public keys too"

run_ok wrapping-key ks wrapping-key --out wrap.pub
attrs_hold wrapping-key
assert_grep attrs-wrapping-key "C_UnwrapKey with CKM_RSA_PKCS refused" \
    "$sks_work/attrs-wrapping-key.out"
run_ok wrap "$SKSCTL" wrap --wrapping-key wrap.pub --key pki/sp-5678.key --out sp-wrap.blob
run_ok import-wrapped ks import sp-wrap --wrapped sp-wrap.blob --cert pki/sp-5678.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-wrap.pem"
attrs_hold wrapped --blob sp-wrap.blob
assert_grep attrs-wrapped "checked: 7 private keys, 7 public keys" "$sks_work/attrs-wrapped.out"
assert_grep attrs-wrapped "ok shaken-sks/wrapping: C_Decrypt (0x9) refused" \
    "$sks_work/attrs-wrapped.out"
pass "wrapping_key_only_unwraps: C_Decrypt of the blob's RSA-OAEP part refused, CKM_RSA_PKCS unwrap refused"
pass "wrapped_key_is_fixed: the unwrapped key is not modifiable either"

run_ok list-clean ks list
if grep -q "modifiable" "$sks_work/list-clean.out"; then
    cat "$sks_work/list-clean.out" >&2
    fail "sksctl list warns about keys this version made"
fi
ks_signs sign-new sp-wrap pki/sp-5678-fullchain.pem
pass "fixed_keys_still_sign: sp-wrap signs through the provider"

# ---- keys made the old way -------------------------------------------------------------

# sp-soft/1 and the wrapping key pair as the key store made them before, and
# a keygen key pair made then.
sp_soft_id=$(ks_key_id sp-soft 1)
run_ok legacy-soft "$P11ATTRS" legacy-import "$sp_soft_id" pki/sp-1234.key
run_ok legacy-keygen "$P11ATTRS" legacy-generate old-key 0b
run_ok legacy-wrap "$P11ATTRS" legacy-wrapping-key
run_ok list-old ks list
for key in "object=sp-soft%2F1;type=private" "object=sp-soft%2F1;type=public" \
    "object=old-key;type=private" "object=shaken-sks%2Fwrapping;type=private"; do
    assert_grep list-old "$key (label" "$sks_work/list-old.out"
done
assert_grep list-old "is modifiable: anyone with the PIN" "$sks_work/list-old.out"
ks list --json > list-old.json 2> list-old-json.err || fail "sksctl list --json failed"
assert_grep list-old-json "object=old-key;type=private" list-old-json.err
labels=$(jq -c '[.unprotectedKeys[].label] | sort' list-old.json) ||
    fail "sksctl list --json is not JSON"
[ "$labels" = '["old-key","old-key","shaken-sks/wrapping","shaken-sks/wrapping","sp-soft/1","sp-soft/1"]' ] ||
    fail "list --json does not name the modifiable keys: $labels"
pass "list_names_modifiable_keys: human and JSON output name each key by URI and label"

# An interruption between the copy and the destroy: the first C_DestroyObject fails.
P11FAULT_MODULE=$SOFTHSM_MODULE
P11FAULT_CONTROL=$sks_work/control
export P11FAULT_MODULE P11FAULT_CONTROL
echo "fail C_DestroyObject CKR_DEVICE_ERROR nth=1" > control
run_fails protect-cut "run sksctl sweep" ks protect sp-soft --module "$P11FAULT_SO"
rm -f control
ks_signs sign-twins sp-soft pki/sp-1234-fullchain.pem
run_ok sweep-twins ks sweep
assert_grep sweep-twins "destroyed the modifiable twin" "$sks_work/sweep-twins.out"
pass "protect_interrupted_leaves_a_usable_state: the key signs with its twin; sweep removes the modifiable one"

run_ok protect ks protect --all
assert_grep protect "object=old-key;type=private: protected" "$sks_work/protect.out"
assert_grep protect "object=shaken-sks%2Fwrapping;type=private: protected" "$sks_work/protect.out"
assert_grep protect "regenerate and rotate" "$sks_work/protect.out"
run_ok list-after ks list
if grep -q "modifiable" "$sks_work/list-after.out"; then
    cat "$sks_work/list-after.out" >&2
    fail "sksctl list still warns after sksctl protect --all"
fi
ks list --json > list-after.json 2>/dev/null || fail "sksctl list --json failed"
[ "$(jq -c .unprotectedKeys list-after.json)" = "[]" ] ||
    fail "sksctl list --json still names modifiable keys after sksctl protect --all"
pass "protect_fixes_old_keys: list warns no more"

# SoftHSM 2.6.1 cannot set CKA_ALLOWED_MECHANISMS or CKA_UNWRAP_TEMPLATE
# after creation, so protect tells the administrator to replace the old
# wrapping key pair: do as it says.
assert_grep protect "destroy the wrapping key pair (label shaken-sks/wrapping) and run sksctl wrapping-key" \
    "$sks_work/protect.out"
for type in privkey pubkey; do
    run_ok "delete-wrap-$type" p11tool_login --delete-object --type "$type" \
        --label shaken-sks/wrapping
done
run_ok wrapping-key-new ks wrapping-key --out wrap-new.pub

# The old signing keys keep the CKA_ALLOWED_MECHANISMS they were made with;
# everything else about them is checked.
attrs_hold protected --no-mechs sp-soft/1 --no-mechs old-key
assert_grep attrs-protected "checked: 8 private keys, 8 public keys" "$sks_work/attrs-protected.out"
ks_signs sign-protected sp-soft pki/sp-1234-fullchain.pem
ks_signs sign-protected-uri "$(ks_uri sp-soft 1)" pki/sp-1234-fullchain.pem "$x5u/sp-soft.pem"
pass "protected_keys_still_sign: by identity and by URI, every change refused"

run_ok wrap-new "$SKSCTL" wrap --wrapping-key wrap-new.pub --key pki/sp-5678.key --out new.blob
run_ok import-new ks import sp-wrap --wrapped new.blob --cert pki/sp-5678.pem \
    --chain pki/chain.pem --x5u "$x5u/sp-wrap-2.pem"
attrs_hold wrapped-new --blob new.blob --no-mechs sp-soft/1 --no-mechs old-key
assert_grep attrs-wrapped-new "unwrap to a readable AES key refused" "$sks_work/attrs-wrapped-new.out"
pass "replaced_wrapping_key_unwraps: and refuses C_Decrypt of the blob and weak unwrap templates"
