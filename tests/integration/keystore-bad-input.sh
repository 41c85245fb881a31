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

# byte FILE OFFSET: the byte at OFFSET, in decimal.
byte() {
    od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '
}

# setbyte FILE OFFSET VALUE OUT: OUT is FILE with the byte at OFFSET set to VALUE (decimal).
setbyte() {
    cp "$1" "$4"
    # dd aborts under a sanitizer run's preloaded ASan runtime; it is none of our code.
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' "$3")" |
        env -u LD_PRELOAD dd of="$4" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# flip FILE OFFSET OUT: OUT is FILE with one bit of the byte at OFFSET flipped.
flip() {
    setbyte "$1" "$2" $(($(byte "$1" "$2") ^ 1)) "$3"
}

# The cases that pin a command which used to block for ever (a FIFO) or
# derive for minutes run sksctl under a guard that ends it after 120 s, so
# that a regression fails instead of hanging make check: a guard, not a
# timing assertion.
guarded() {
    (
        ks() {
            ks_cmd=$1
            shift
            env -u LD_PRELOAD timeout 120 env LD_PRELOAD="${LD_PRELOAD:-}" "$SKSCTL" "$ks_cmd" \
                -c "$sks_work/ks.conf" "$@"
        }
        "$@"
    )
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

# ---- key files: one key, nothing after it ---------------------------------------------

sw_openssl pkcs8 -topk8 -nocrypt -in pki/sp-1234.key -outform DER -out key.p8.der
sw_openssl ec -in pki/sp-1234.key -outform DER -out key.sec1.der 2>/dev/null
{ cat key.p8.der; printf 'xyz'; } > p8-trailing.der
{ cat key.sec1.der; printf '\0\0'; } > sec1-trailing.der
import_rejects pkcs8_der_with_trailing_bytes "is 138 bytes and 3 more follow it: trailing bytes" \
    --key p8-trailing.der --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
import_rejects sec1_der_with_trailing_bytes "is 121 bytes and 2 more follow it: trailing bytes" \
    --key sec1-trailing.der --cert pki/sp-1234-fullchain.pem --x5u "$x5u"

cat pki/sp-1234.key pki/sp-5678.key > two-keys.pem
import_rejects pem_with_two_keys "holds a second PEM block (PRIVATE KEY) after its PRIVATE KEY" \
    --key two-keys.pem --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
cat pki/sp-1234.key pki/sp-1234.pem > key-and-cert.pem
import_rejects pem_with_key_and_cert "holds a second PEM block (CERTIFICATE) after its PRIVATE KEY" \
    --key key-and-cert.pem --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
sw_openssl ecparam -name prime256v1 -genkey -out ecparam.pem
import_rejects pem_with_ec_parameters \
    "holds a second PEM block (EC PRIVATE KEY) after its EC PARAMETERS" \
    --key ecparam.pem --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
{ cat pki/sp-1234.key; printf '\n  \nnot a key\n'; } > key-then-text.pem
import_rejects pem_with_text_after_the_key "has text after its PRIVATE KEY PEM block (at byte" \
    --key key-then-text.pem --cert pki/sp-1234-fullchain.pem --x5u "$x5u"

# ---- EC keys: the curve and the stored public key ------------------------------------

# openssl ec's DER: 30 77 02 01 01 04 20 d(32) a0 0a 06 08 <prime256v1 OID, ends at 50> a1 ...
[ "$(byte key.sec1.der 50)" -eq 7 ] || fail "key.sec1.der is not laid out as expected"
setbyte key.sec1.der 50 1 sec1-prime192v1.der
import_rejects sec1_key_naming_another_curve \
    "key-p256: sec1-prime192v1.der is a key on the curve prime192v1 (1.2.840.10045.3.1.1)" \
    --key sec1-prime192v1.der --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
flip key.sec1.der 120 sec1-off-curve.der
import_rejects sec1_point_off_the_curve \
    "the public key stored with sec1-off-curve.der is not a point on the curve P-256" \
    --key sec1-off-curve.der --cert pki/sp-1234-fullchain.pem --x5u "$x5u"

# ---- encrypted keys: what the key derivation costs, before any is run ---------------------

# pbes2_key OUT CIPHER-OID KDF-OID KDF-PARAM...: an EncryptedPrivateKeyInfo with those PBES2
# parameters (RFC 8018 A.4) around bytes that are not a key.
pbes2_key() {
    pk_out=$1
    pk_cipher=$2
    pk_kdf=$3
    shift 3
    {
        echo "asn1 = SEQUENCE:epki"
        echo "[epki]"
        echo "alg = SEQUENCE:alg"
        echo "data = FORMAT:HEX,OCTETSTRING:000102030405060708090a0b0c0d0e0f"
        echo "[alg]"
        echo "oid = OID:1.2.840.113549.1.5.13"
        echo "params = SEQUENCE:pbes2"
        echo "[pbes2]"
        echo "kdf = SEQUENCE:kdf"
        echo "enc = SEQUENCE:enc"
        echo "[kdf]"
        echo "oid = OID:$pk_kdf"
        echo "params = SEQUENCE:kdfparams"
        echo "[enc]"
        echo "oid = OID:$pk_cipher"
        echo "iv = FORMAT:HEX,OCTETSTRING:000102030405060708090a0b0c0d0e0f"
        echo "[kdfparams]"
        echo "salt = FORMAT:HEX,OCTETSTRING:0102030405060708"
        for pk_line in "$@"; do echo "$pk_line"; done
    } > "$pk_out.cnf"
    sw_openssl asn1parse -genconf "$pk_out.cnf" -out "$pk_out" -noout ||
        fail "cannot make $pk_out"
}
aes256cbc=2.16.840.1.101.3.4.1.42
pbkdf2=1.2.840.113549.1.5.12
scrypt=1.3.6.1.4.1.11591.4.11
pbes2_key iter-0.der $aes256cbc $pbkdf2 "iter = INTEGER:0"
pbes2_key iter-max.der $aes256cbc $pbkdf2 "iter = INTEGER:2147483647"
pbes2_key cipher-unknown.der 1.3.6.1.4.1.99999.1 $pbkdf2 "iter = INTEGER:2048"
pbes2_key scrypt-1gib.der $aes256cbc $scrypt "n = INTEGER:1048576" "r = INTEGER:8" "p = INTEGER:1"
pbes2_key scrypt-p.der $aes256cbc $scrypt "n = INTEGER:1024" "r = INTEGER:8" "p = INTEGER:100000"
sw_openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -passout file:right.pass -in pki/sp-1234.key \
    -out pbes1.pem
: > empty.pass

encrypted_rejects() {
    er_name=$1
    er_rule=$2
    er_key=$3
    er_pass=${4:-right.pass}
    guarded ks_refused "$er_name" "$er_rule" import sp-main --key "$er_key" \
        --passphrase-file "$er_pass" --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
    pass "import_rejects_$er_name: '$er_rule', token unchanged"
}
encrypted_rejects pbkdf2_iteration_count_0 "has the PBKDF2 iteration count 0: it must be at least 1" \
    iter-0.der
encrypted_rejects pbkdf2_iteration_count_2e31 \
    "asks for a PBKDF2 iteration count over 10000000, the most this import derives" iter-max.der
encrypted_rejects unknown_cipher "with the cipher 1.3.6.1.4.1.99999.1, unknown to this OpenSSL" \
    cipher-unknown.der
encrypted_rejects scrypt_over_32_mib \
    "asks for scrypt with N=1048576 r=8 p=1, over what this import derives" scrypt-1gib.der
encrypted_rejects scrypt_parallelism "asks for scrypt with N=1024 r=8 p=100000, over what" \
    scrypt-p.der
encrypted_rejects pbes1 "is encrypted with PBE-SHA1-3DES (1.2.840.113549.1.12.1.3), a PBES1" \
    pbes1.pem
encrypted_rejects empty_passphrase_file \
    "--passphrase-file: empty.pass is empty: it must hold the key's passphrase" enc.pem empty.pass

# ---- inputs that are not regular files ------------------------------------------------

mkfifo in.fifo
guarded import_rejects key_fifo "in.fifo is not a regular file (a FIFO)" --key in.fifo \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
guarded import_rejects cert_fifo "in.fifo is not a regular file (a FIFO)" --key pki/sp-1234.key \
    --cert in.fifo --x5u "$x5u"
guarded import_rejects chain_fifo "in.fifo is not a regular file (a FIFO)" --key pki/sp-1234.key \
    --cert pki/sp-1234.pem --chain in.fifo --x5u "$x5u"
guarded import_rejects wrapped_fifo "in.fifo is not a regular file (a FIFO)" --wrapped in.fifo \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
guarded import_rejects passphrase_fifo "in.fifo is not a regular file (a FIFO)" --key enc.pem \
    --passphrase-file in.fifo --cert pki/sp-1234-fullchain.pem --x5u "$x5u"
import_rejects key_char_device "/dev/zero is not a regular file (a character device)" \
    --key /dev/zero --cert pki/sp-1234-fullchain.pem --x5u "$x5u"

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

sw_openssl x509 -in pki/sp-1234.pem -outform DER -out sp-1234.der
{ cat sp-1234.der; printf 'tail'; } > cert-trailing.der
import_rejects cert_der_with_trailing_bytes "more follow it: trailing bytes are refused" \
    --key pki/sp-1234.key --cert cert-trailing.der --chain pki/chain.pem --x5u "$x5u"
sw_openssl x509 -in pki/chain.pem -outform DER -out ca.der
{ cat ca.der; printf 'tail'; } > chain-trailing.der
import_rejects chain_der_with_trailing_bytes "--chain: chain-trailing.der: its DER certificate is" \
    --key pki/sp-1234.key --cert pki/sp-1234.pem --chain chain-trailing.der --x5u "$x5u"

run_ok other-pki "$SKSCTL" pki --out other --spc 1234
import_rejects chain_to_unknown_root "chain: does not verify to a configured STI-PA root" \
    --key other/sp-1234.key --cert other/sp-1234-fullchain.pem --x5u "$x5u"
import_rejects wrong_spc "spc: the certificate is for SPC 5678 but identity sp-main has SPC 1234" \
    --key pki/sp-5678.key --cert pki/sp-5678-fullchain.pem --x5u "$x5u"
ks_refused spc-flag "spc: the certificate is for SPC 1234 but --spc has SPC 5678" import sp-new \
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
import_rejects x5u_semicolon "x5u: ';' at position 31" --key pki/sp-1234.key \
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

# sksctl wrap runs the key checks of import --key: the importer never sees the private value.
flip key.sec1.der 20 sec1-damaged-d.der
run_fails wrap-damaged "key-consistency: the private value does not give the public key" \
    "$SKSCTL" wrap --wrapping-key wrap.pub --key sec1-damaged-d.der --out x.blob
pass "wrap_refuses_a_key_whose_public_key_is_not_its_private_value's"

# p8_with_d HEX OUT: a P-256 PKCS#8 key whose private value is HEX (64 digits), without a
# public key, so that the token computes it from the private value.
p8_with_d() {
    {
        echo "asn1 = SEQUENCE:p8"
        echo "[p8]"
        echo "version = INTEGER:0"
        echo "alg = SEQUENCE:alg"
        echo "key = OCTWRAP,SEQUENCE:ec"
        echo "[alg]"
        echo "oid = OID:id-ecPublicKey"
        echo "curve = OID:prime256v1"
        echo "[ec]"
        echo "version = INTEGER:1"
        echo "d = FORMAT:HEX,OCTETSTRING:$1"
    } > "$2.cnf"
    sw_openssl asn1parse -genconf "$2.cnf" -out "$2" -noout || fail "cannot make $2"
}
# raw_wrap P8 OUT: the blob sksctl wrap makes, made with the openssl CLI alone (SHA-1 OAEP),
# for keys sksctl wrap refuses.
raw_wrap() {
    head -c 32 /dev/urandom > "$2.kek"
    sw_openssl pkeyutl -encrypt -pubin -inkey wrap.pub -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 -in "$2.kek" -out "$2.rsa"
    sw_openssl enc -id-aes256-wrap-pad -K "$(od -An -tx1 -v "$2.kek" | tr -d ' \n')" \
        -iv A65959A6 -in "$1" -out "$2.kwp"
    cat "$2.rsa" "$2.kwp" > "$2"
}
order=FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
p8_with_d "$(printf '%064d' 0)" d-zero.p8
p8_with_d $order d-order.p8
run_fails wrap-d-zero "key-range" "$SKSCTL" wrap --wrapping-key wrap.pub --key d-zero.p8 \
    --out x.blob
run_fails wrap-d-order "key-range" "$SKSCTL" wrap --wrapping-key wrap.pub --key d-order.p8 \
    --out x.blob
pass "wrap_refuses_private_values_0_and_n: key-range"
raw_wrap d-zero.p8 d-zero.blob
raw_wrap d-order.p8 d-order.blob
wrapped_rejects private_value_0 "key-range: the wrapped private value is not between 1" d-zero.blob
wrapped_rejects private_value_n "key-range: the wrapped private value is not between 1" \
    d-order.blob

# ---- accepted, with a warning ---------------------------------------------------------------

run_ok mkcert-soon "$MKCERT" --ca pki --key pki/sp-1234.key --spc 1234 --out soon.pem \
    --expires-in 10
run_ok import-soon ks import sp-main --key pki/sp-1234.key --cert soon.pem --chain pki/chain.pem \
    --x5u "$x5u"
assert_grep import-soon "sp-main/2 standby" "$sks_work/import-soon.out"
assert_grep import-soon "warning: expiry: the certificate for SPC 1234 expires in" \
    "$sks_work/import-soon.out"
pass "import_warns_on_certificate_expiring_within_30_days"

# RFC 7468 5.2: text before the PEM block is taken (openssl pkcs12 writes "Bag Attributes").
{ printf 'Bag Attributes\n    localKeyID: 01 02 03\n'; cat pki/sp-1234.key; } > preamble.pem
run_ok import-preamble ks import sp-main --key preamble.pem --cert pki/sp-1234-fullchain.pem \
    --x5u "$x5u"
assert_grep import-preamble "sp-main/3 standby" "$sks_work/import-preamble.out"
pass "import_takes_text_before_the_pem_block"

: > empty.conf
run_fails no-trust "no trust anchors" "$SKSCTL" import sp-x --key pki/sp-1234.key \
    --cert pki/sp-1234-fullchain.pem --x5u "$x5u" --module "$SOFTHSM_MODULE" \
    --token "$SKS_TOKEN_LABEL" --pin-file "$SKS_PIN_FILE" -c empty.conf
printf '[sks]\npin_fle = x\n' > typo.conf
run_fails conf-typo "unknown key \"pin_fle\" in [sks]" "$SKSCTL" list -c typo.conf
run_fails conf-missing "cannot read the configuration file" "$SKSCTL" list -c missing.conf
pass "configuration_errors_are_named: no trust anchors, misspelt key, missing file"
