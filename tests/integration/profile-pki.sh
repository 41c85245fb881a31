#!/bin/sh
# sksctl pki end to end: the test SHAKEN PKI it writes is accepted by the
# openssl CLI and by sksctl cert-check, and a certificate issued for a CSR
# carries the CSR's key.
. "$top_srcdir/tests/integration/common.sh"

command -v "$OPENSSL" >/dev/null 2>&1 || skip "the openssl command is not installed"
command -v perl >/dev/null 2>&1 || skip "perl is needed to tamper with a CSR"
[ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
sks_mkwork
pki=$sks_work/pki

# ---- a PKI for two SPCs ------------------------------------------------------

run_ok pki "$SKSCTL" pki --out "$pki" --spc 1234,567A --days 30
for f in root.pem root.key root-crl.pem ca.pem ca.key crl.pem chain.pem \
    sp-1234.pem sp-1234.key sp-1234-fullchain.pem sp-567A.pem sp-567A.key sp-567A-fullchain.pem; do
    [ -s "$pki/$f" ] || fail "sksctl pki did not write $f"
done
pass "sksctl pki writes root, intermediate, CRL, chain and per-SPC files"

for f in root.key ca.key sp-1234.key sp-567A.key; do
    mode=$(stat -c %a "$pki/$f")
    [ "$mode" = 600 ] || fail "$f has mode $mode; private keys must be 0600"
done
pass "private keys are written with mode 0600"

for spc in 1234 567A; do
    run_ok "verify-$spc" sw_openssl verify -x509_strict -CAfile "$pki/root.pem" \
        -untrusted "$pki/ca.pem" "$pki/sp-$spc.pem"
    assert_grep "verify-$spc" "sp-$spc.pem: OK" "$sks_work/verify-$spc.out"
    run_ok "verify-crl-$spc" sw_openssl verify -x509_strict -crl_check -CRLfile "$pki/crl.pem" \
        -CAfile "$pki/root.pem" -untrusted "$pki/ca.pem" "$pki/sp-$spc.pem"
    pass "openssl verify (strict, with the CRL) accepts sp-$spc.pem"

    run_ok "text-$spc" sw_openssl x509 -in "$pki/sp-$spc.pem" -noout -text
    assert_grep "text-$spc" "1.3.6.1.5.5.7.1.26" "$sks_work/text-$spc.out"
    assert_grep "text-$spc" "CN = SHAKEN $spc" "$sks_work/text-$spc.out"
    assert_grep "text-$spc" "X509v3 Key Usage: critical" "$sks_work/text-$spc.out"
    assert_grep "text-$spc" "Policy: 2.16.840.1.114569.1.1.4" "$sks_work/text-$spc.out"
    assert_grep "text-$spc" "URI:https://sti-ca.test/crl.pem" "$sks_work/text-$spc.out"
    assert_grep "text-$spc" "ASN1 OID: prime256v1" "$sks_work/text-$spc.out"
    pass "sp-$spc.pem shows the TNAuthList OID, CN, key usage, policy, CRL DP and P-256"

    run_ok "check-$spc" "$SKSCTL" cert-check --cert "$pki/sp-$spc.pem" --chain "$pki/chain.pem" \
        --trust "$pki/root.pem"
    assert_grep "check-$spc" "spc: $spc" "$sks_work/check-$spc.out"
    assert_grep "check-$spc" "not-after: " "$sks_work/check-$spc.out"
    run_ok "check-full-$spc" "$SKSCTL" cert-check --cert "$pki/sp-$spc-fullchain.pem" \
        --trust "$pki/root.pem"
    assert_grep "check-full-$spc" "spc: $spc" "$sks_work/check-full-$spc.out"
    pass "sksctl cert-check accepts sp-$spc.pem and its fullchain file"
done

# The TNAuthList of SPC 1234 is 30 08 A0 06 16 04 "1234" (RFC 8226, EXPLICIT tags).
sw_openssl x509 -in "$pki/sp-1234.pem" -outform DER -out "$sks_work/sp-1234.der"
tnal_hex=$(od -An -tx1 -v "$sks_work/sp-1234.der" | tr -d ' \n')
case $tnal_hex in
*06082b0601050507011a040a3008a006160431323334*) ;;
*) fail "sp-1234.pem lacks the TNAuthList extension 30 08 A0 06 16 04 31 32 33 34" ;;
esac
pass "the TNAuthList of SPC 1234 is encoded as RFC 8226 specifies"

run_ok crl sw_openssl crl -in "$pki/crl.pem" -noout -text -CAfile "$pki/ca.pem"
assert_grep crl "No Revoked Certificates" "$sks_work/crl.out"
assert_grep crl "verify OK" "$sks_work/crl.out"
pass "crl.pem is empty and signed by the STI-CA"

run_ok root-crl sw_openssl crl -in "$pki/root-crl.pem" -noout -text -CAfile "$pki/root.pem"
assert_grep root-crl "No Revoked Certificates" "$sks_work/root-crl.out"
assert_grep root-crl "verify OK" "$sks_work/root-crl.out"
pass "root-crl.pem is empty and signed by the STI-PA root"

# --ca-crl-url: the STI-CA names the STI-PA's CRL (ATIS-1000080), and
# openssl verify -crl_check_all holds it to root-crl.pem.
run_ok pki-ca-dp "$SKSCTL" pki --out "$sks_work/ca-dp" --spc 1234 \
    --ca-crl-url https://sti-pa.test/root-crl.pem
run_ok ca-dp-text sw_openssl x509 -in "$sks_work/ca-dp/ca.pem" -noout -text
assert_grep ca-dp-text "URI:https://sti-pa.test/root-crl.pem" "$sks_work/ca-dp-text.out"
run_ok verify-crl-all sw_openssl verify -x509_strict -crl_check_all \
    -CRLfile "$sks_work/ca-dp/crl.pem" -CRLfile "$sks_work/ca-dp/root-crl.pem" \
    -CAfile "$sks_work/ca-dp/root.pem" -untrusted "$sks_work/ca-dp/ca.pem" \
    "$sks_work/ca-dp/sp-1234.pem"
run_fails verify-no-root-crl "unable to get certificate CRL" sw_openssl verify -x509_strict \
    -crl_check_all -CRLfile "$sks_work/ca-dp/crl.pem" -CAfile "$sks_work/ca-dp/root.pem" \
    -untrusted "$sks_work/ca-dp/ca.pem" "$sks_work/ca-dp/sp-1234.pem"
run_fails bad-ca-crl-url "--ca-crl-url" "$SKSCTL" pki --out "$sks_work/bad" --spc 1234 \
    --ca-crl-url http://sti-pa.test/root-crl.pem
pass "sksctl pki --ca-crl-url gives the STI-CA the STI-PA's CRL distribution point"

# ---- cert-check rejects what breaks the profile or the chain -------------------

run_fails check-ca "basic-constraints: asserts CA:TRUE" \
    "$SKSCTL" cert-check --cert "$pki/ca.pem" --trust "$pki/root.pem"
assert_grep check-ca "tnauthlist: extension (1.3.6.1.5.5.7.1.26) is absent" "$sks_work/check-ca.out"
pass "cert-check lists every rule the STI-CA certificate breaks as an SP certificate"

run_ok other "$SKSCTL" pki --out "$sks_work/other" --spc 1234
run_fails check-other-root "chain: does not verify to a configured STI-PA root" \
    "$SKSCTL" cert-check --cert "$sks_work/other/sp-1234-fullchain.pem" --trust "$pki/root.pem"
pass "cert-check rejects a certificate from another PKI's root"

run_fails check-no-chain "unable to get local issuer certificate" \
    "$SKSCTL" cert-check --cert "$pki/sp-1234.pem" --trust "$pki/root.pem"
pass "cert-check rejects an SP certificate without its intermediate"

run_fails check-key "holds no PEM or DER certificate" \
    "$SKSCTL" cert-check --cert "$pki/sp-1234.key" --trust "$pki/root.pem"
pass "cert-check names a file that holds no certificate"

# ---- --csr: a certificate for a key the PKI never sees --------------------------

run_ok genpkey sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$sks_work/token.key"
run_ok req sw_openssl req -new -key "$sks_work/token.key" -subj "/CN=AAAA not a SHAKEN name" \
    -out "$sks_work/token.csr"
run_ok pki-csr "$SKSCTL" pki --out "$sks_work/csr" --spc 9999 --csr "$sks_work/token.csr"
[ ! -e "$sks_work/csr/sp-9999.key" ] || fail "sksctl pki --csr wrote an SP private key"
run_ok verify-csr sw_openssl verify -x509_strict -CAfile "$sks_work/csr/root.pem" \
    -untrusted "$sks_work/csr/ca.pem" "$sks_work/csr/sp-9999.pem"
run_ok check-csr "$SKSCTL" cert-check --cert "$sks_work/csr/sp-9999-fullchain.pem" \
    --trust "$sks_work/csr/root.pem"
assert_grep check-csr "spc: 9999" "$sks_work/check-csr.out"
sw_openssl x509 -in "$sks_work/csr/sp-9999.pem" -noout -pubkey > "$sks_work/cert-pub.pem"
sw_openssl req -in "$sks_work/token.csr" -noout -pubkey > "$sks_work/csr-pub.pem"
assert_same_file "public key" "$sks_work/cert-pub.pem" "$sks_work/csr-pub.pem"
run_ok text-csr sw_openssl x509 -in "$sks_work/csr/sp-9999.pem" -noout -subject
assert_grep text-csr "CN = SHAKEN 9999" "$sks_work/text-csr.out"
pass "--csr issues a compliant certificate for the CSR's public key, not its subject"

sw_openssl req -in "$sks_work/token.csr" -outform DER -out "$sks_work/token.csr.der"
perl -0777 -pe 's/AAAA not/AAAB not/' "$sks_work/token.csr.der" > "$sks_work/tampered.der"
cmp -s "$sks_work/token.csr.der" "$sks_work/tampered.der" && fail "could not tamper with the CSR"
run_fails csr-tampered "signature does not verify" \
    "$SKSCTL" pki --out "$sks_work/tampered" --spc 9999 --csr "$sks_work/tampered.der"
pass "--csr rejects a CSR whose signature does not verify"

run_ok genpkey-384 sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
    -out "$sks_work/p384.key"
run_ok req-384 sw_openssl req -new -key "$sks_work/p384.key" -subj "/CN=x" -out "$sks_work/p384.csr"
run_fails csr-p384 "P-256" \
    "$SKSCTL" pki --out "$sks_work/p384" --spc 9999 --csr "$sks_work/p384.csr"
pass "--csr rejects a CSR for a key that is not P-256"

run_fails csr-garbage "is not a PEM or DER certificate request" \
    "$SKSCTL" pki --out "$sks_work/garbage" --spc 9999 --csr "$pki/root.pem"
pass "--csr names a file that holds no CSR"

# ---- certificate policies --------------------------------------------------------

# pki_policy NAME POLICY: a PKI issued with --policy POLICY in $sks_work/NAME.
pki_policy() {
    run_ok "pki-$1" "$SKSCTL" pki --out "$sks_work/$1" --spc 1234 --policy "$2"
    run_ok "text-$1" sw_openssl x509 -in "$sks_work/$1/sp-1234.pem" -noout -text
}
pki_policy cp13 1.3
assert_grep text-cp13 "Policy: 2.16.840.1.114569.1.1.3" "$sks_work/text-cp13.out"
run_ok check-cp13 "$SKSCTL" cert-check --cert "$sks_work/cp13/sp-1234.pem" \
    --chain "$sks_work/cp13/chain.pem" --trust "$sks_work/cp13/root.pem"
if grep -q warning "$sks_work/check-cp13.out" "$sks_work/check-1234.out"; then
    fail "cert-check warns about a current SHAKEN CP"
fi
pass "sksctl pki issues under SHAKEN CP v1.4 by default and v1.3 with --policy 1.3, unwarned"

pki_policy cp11 2.16.840.1.114569.1.1.1
run_ok check-cp11 "$SKSCTL" cert-check --cert "$sks_work/cp11/sp-1234.pem" \
    --chain "$sks_work/cp11/chain.pem" --trust "$sks_work/cp11/root.pem"
assert_grep check-cp11 "warning: policy: certificate policy 2.16.840.1.114569.1.1.1 is a superseded SHAKEN CP version" \
    "$sks_work/check-cp11.out"
pass "cert-check passes a certificate under the superseded CP v1.1 with a warning naming it"

# ---- usage ----------------------------------------------------------------------

run_fails bad-spc "is not 1-64 characters of 0-9 and A-Z" \
    "$SKSCTL" pki --out "$sks_work/bad" --spc 12ab
run_fails no-out "--out and --spc are required" "$SKSCTL" pki --spc 1234
run_fails bad-days "--days must be a whole number" \
    "$SKSCTL" pki --out "$sks_work/bad" --spc 1234 --days 0
run_fails bad-policy "--policy must be 1.3, 1.4 or a SHAKEN CP OID" \
    "$SKSCTL" pki --out "$sks_work/bad" --spc 1234 --policy shaken
run_fails other-policy "--policy must be 1.3, 1.4 or a SHAKEN CP OID" \
    "$SKSCTL" pki --out "$sks_work/bad" --spc 1234 --policy 1.2.3.4
[ ! -e "$sks_work/bad" ] || fail "sksctl pki wrote files despite a usage error"
pass "sksctl pki rejects bad SPCs and options before writing anything"

run_ok help "$SKSCTL" pki --help
for f in root.pem root.key root-crl.pem ca.pem ca.key crl.pem chain.pem "sp-<SPC>.pem" "sp-<SPC>.key" \
    "sp-<SPC>-fullchain.pem"; do
    assert_grep help "$f" "$sks_work/help.out"
done
pass "sksctl pki --help lists the files it writes"
