#!/bin/sh
# The key store's bad-input catalogue: each input is refused before anything
# is written, with a message that names the rule it breaks, and the token's
# objects are exactly what they were (pkcs11-tool -O before and after).
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup

x5u=https://cert.example.org/sp-main.pem
run_ok seed ks import sp-main --key pki/sp-1234.key --cert pki/sp-1234.pem --chain pki/chain.pem \
    --x5u "$x5u"
run_ok wrapping-key ks wrapping-key --out wrap.pub

# import_rejects NAME RULE KEYARGS...: an import of KEYARGS into sp-main is refused naming RULE.
import_rejects() {
    ir_name=$1
    ir_rule=$2
    shift 2
    ks_refused "$ir_name" "$ir_rule" import sp-main "$@"
    pass "import_rejects_$ir_name: '$ir_rule', token unchanged"
}

# flip FILE OFFSET OUT: OUT is FILE with one bit of the byte at OFFSET flipped.
flip() {
    cp "$1" "$3"
    fb=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # dd aborts under a sanitizer run's preloaded ASan runtime; it is none of our code.
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' $((fb ^ 1)))" |
        env -u LD_PRELOAD dd of="$3" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ---- keys -------------------------------------------------------------------------

import_rejects key_cert_mismatch "key-match: the certificate does not match the private key" \
    --key pki/sp-5678.key --cert pki/sp-1234.pem --chain pki/chain.pem --x5u "$x5u"
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null
import_rejects p384_key "key-p256" --key p384.key --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
sw_openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
import_rejects rsa_key "key-p256" --key rsa.key --cert pki/sp-1234-fullchain.pem --x5u "$x5u"

printf -- '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n' > garbage.pem
import_rejects garbage_pem "is not a private key" --key garbage.pem \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
: > empty.pem
import_rejects empty_file "is empty" --key empty.pem --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
dd if=/dev/zero of=big.pem bs=1048576 count=10 2>/dev/null
import_rejects ten_megabyte_file "too large" --key big.pem --cert pki/sp-1234-fullchain.pem \
    --x5u "$x5u"

printf 'right\n' > right.pass
printf 'wrong\n' > wrong.pass
sw_openssl pkcs8 -topk8 -v2 aes-256-cbc -passout file:right.pass -in pki/sp-1234.key -out enc.pem
import_rejects wrong_passphrase "wrong passphrase" --key enc.pem --passphrase-file wrong.pass \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
ks_refused no-passphrase "give --passphrase-file" import sp-main --key enc.pem \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u" < /dev/null
pass "import_asks_for_a_passphrase_file_without_a_terminal"

# ---- certificates -------------------------------------------------------------------

for case in no-tnauthlist two-spcs tn expired not-yet-valid; do
    run_ok "mkcert-$case" "$MKCERT" --ca pki --key pki/sp-1234.key --spc 1234 --out "$case.pem" \
        "--$case"
done
import_rejects cert_without_tnauthlist "tnauthlist: extension (1.3.6.1.5.5.7.1.26) is absent" \
    --key pki/sp-1234.key --cert no-tnauthlist.pem --chain pki/chain.pem --x5u "$x5u"
import_rejects cert_with_two_spcs "tnauthlist" --key pki/sp-1234.key --cert two-spcs.pem \
    --chain pki/chain.pem --x5u "$x5u"
import_rejects cert_with_tn_not_spc "tnauthlist" --key pki/sp-1234.key --cert tn.pem \
    --chain pki/chain.pem --x5u "$x5u"
import_rejects expired_cert "validity: expired at" --key pki/sp-1234.key --cert expired.pem \
    --chain pki/chain.pem --x5u "$x5u"
import_rejects not_yet_valid_cert "validity: not valid before" --key pki/sp-1234.key \
    --cert not-yet-valid.pem --chain pki/chain.pem --x5u "$x5u"

run_ok other-pki "$SKSCTL" pki --out other --spc 1234
import_rejects chain_to_unknown_root "chain: does not verify to a configured STI-PA root" \
    --key other/sp-1234.key --cert other/sp-1234-fullchain.pem --x5u "$x5u"
import_rejects wrong_spc "spc: the certificate is for SPC 5678 but identity sp-main has SPC 1234" \
    --key pki/sp-5678.key --cert pki/sp-5678-fullchain.pem --x5u "$x5u"
ks_refused spc-flag "spc: the certificate is for SPC 1234, not the --spc 5678 given" import sp-new \
    --key pki/sp-1234.key --cert pki/sp-1234-fullchain.pem --x5u "$x5u" --spc 5678
pass "import_rejects_spc_flag_mismatch"

# ---- x5u ---------------------------------------------------------------------------------

import_rejects x5u_http "x5u: \"http://cert.example.org/a.pem\" is not an https:// URL" \
    --key pki/sp-1234.key --cert pki/sp-1234-fullchain.pem --x5u http://cert.example.org/a.pem
import_rejects x5u_query "has a query" --key pki/sp-1234.key --cert pki/sp-1234-fullchain.pem \
    --x5u 'https://cert.example.org/a.pem?v=1'
import_rejects x5u_fragment "has a fragment" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/a.pem#top'
import_rejects x5u_userinfo "has userinfo" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://user:pw@cert.example.org/a.pem'
# Bytes that a URI cannot hold or that end info=<...> in an Identity header,
# and ports outside 1-65535: signing refuses them, so import must too.
import_rejects x5u_gt "byte 0x3e at position 27, which a URI cannot contain" \
    --key pki/sp-1234.key --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/a>b.pem'
import_rejects x5u_lt "byte 0x3c at position 26" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/<a.pem'
import_rejects x5u_quote "byte 0x22 at position 26" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/"a.pem'
import_rejects x5u_semicolon "has ';' at position 31" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/a.pem;alg=none'
import_rejects x5u_space "byte 0x20 at position 27" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org/a b.pem'
import_rejects x5u_tab "byte 0x09 at position 27" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u "$(printf 'https://cert.example.org/a\tb.pem')"
import_rejects x5u_port0 "has port \"0\", not a number from 1 to 65535" --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org:0/a.pem'
import_rejects x5u_port65536 "has port \"65536\", not a number from 1 to 65535" \
    --key pki/sp-1234.key --cert pki/sp-1234-fullchain.pem --x5u 'https://cert.example.org:65536/a.pem'

# ---- wrapped blobs -------------------------------------------------------------------------

run_ok wrap "$SKSCTL" wrap --wrapping-key wrap.pub --key pki/sp-1234.key --out good.blob
size=$(wc -c < good.blob)
head -c $((size - 5)) good.blob > cut5.blob
head -c $((size - 8)) good.blob > cut8.blob
head -c 300 good.blob > cut-rsa.blob
flip good.blob $((size - 3)) flip-kwp.blob
flip good.blob 100 flip-rsa.blob
wrapped_rejects() {
    ks_refused "$1" "$2" import sp-main --wrapped "$3" --cert pki/sp-1234-fullchain.pem \
        --x5u "$x5u"
    pass "import_wrapped_rejects_$1: '$2', token unchanged"
}
wrapped_rejects truncated_blob "the blob is truncated or malformed" cut5.blob
wrapped_rejects blob_cut_in_rsa_part "the blob is truncated or malformed" cut-rsa.blob
wrapped_rejects blob_cut_by_a_block "AES key wrap integrity check failed (RFC 5649)" cut8.blob
wrapped_rejects bit_flip_in_aes_wrap "AES key wrap integrity check failed (RFC 5649)" flip-kwp.blob
wrapped_rejects bit_flip_in_rsa_part "RSA-OAEP unwrapping of the AES key failed" flip-rsa.blob

sw_openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out other-wrap.key 2>/dev/null
sw_openssl pkey -in other-wrap.key -pubout -out other-wrap.pub
run_ok wrap-other "$SKSCTL" wrap --wrapping-key other-wrap.pub --key pki/sp-1234.key \
    --out other.blob
wrapped_rejects wrong_wrapping_key "not wrapped for this token's wrapping key" other.blob
run_ok wrap-p384 "$SKSCTL" wrap --wrapping-key wrap.pub --key pki/sp-5678.key --out p256-other.blob
wrapped_rejects wrapped_key_cert_mismatch "key-match" p256-other.blob
run_fails wrap-rsa-key "key-p256" "$SKSCTL" wrap --wrapping-key wrap.pub --key rsa.key --out x.blob
pass "wrap_refuses_a_key_that_is_not_p256"

# ---- accepted, with a warning ---------------------------------------------------------------

run_ok mkcert-soon "$MKCERT" --ca pki --key pki/sp-1234.key --spc 1234 --out soon.pem \
    --expires-in 10
run_ok import-soon ks import sp-main --key pki/sp-1234.key --cert soon.pem --chain pki/chain.pem \
    --x5u "$x5u"
assert_grep import-soon "sp-main/2 standby" "$sks_work/import-soon.out"
assert_grep import-soon "warning: expiry: the certificate for SPC 1234 expires in" \
    "$sks_work/import-soon.out"
pass "import_warns_on_certificate_expiring_within_30_days"

: > empty.conf
run_fails no-trust "no trust anchors" "$SKSCTL" import sp-x --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u" --module "$SOFTHSM_MODULE" \
    --token "$SKS_TOKEN_LABEL" --pin-file "$SKS_PIN_FILE" -c empty.conf
printf '[sks]\npin_fle = x\n' > typo.conf
run_fails conf-typo "unknown key \"pin_fle\" in [sks]" "$SKSCTL" list -c typo.conf
run_fails conf-missing "cannot read the configuration file" "$SKSCTL" list -c missing.conf
pass "configuration_errors_are_named: no trust anchors, misspelt key, missing file"
