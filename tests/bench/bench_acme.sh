#!/bin/sh
# ACME issuance figures (make bench, through bench_acme): pebble on
# loopback (tests/integration/acme-common.sh), an account registered with
# sksctl acme register on a token of the benchmark's own, then
# SKS_BENCH_ISSUANCES (default 20) issuances timed by bench_acme; then the
# same for SHAKEN orders at the test STI-CA (tests/acme/sti-fixture.py).
. "$top_srcdir/tests/integration/common.sh"
: "${BENCH_ACME:?run through bench_acme}"
require_softhsm
sks_mkwork
make_token sks-bench-acme
cd "$sks_work"
. "$top_srcdir/tests/integration/acme-common.sh"
pebble_tls
pebble_start bench false 0
run_ok register "$SKSCTL" acme register -c "$sks_work/token/sks.conf" --ca-file tls/ca.pem \
    --allow-private --agree-tos --directory "$dir_bench"
"$BENCH_ACME" run "$sks_work/token/sks.conf" "$dir_bench" "$sks_work/tls/ca.pem" \
    "${SKS_BENCH_ISSUANCES:-20}" || fail "bench_acme run failed"

# The same against the test STI-CA, with an SPC token from the test STI-PA
# for the account's key (its fingerprint from the thumbprint register prints).
. "$top_srcdir/tests/acme/fixture.sh"
sti_fixture_start 1234
run_ok register-sti "$SKSCTL" acme register -c "$sks_work/token/sks.conf" --ca-file "$sti_tls_ca" \
    --allow-private --agree-tos --directory "$sti_base/acme/directory"
thumb=$(sed -n 's/.*JWK thumbprint \([^)]*\)).*/\1/p' register-sti.out)
fp=$(printf '%s' "$thumb" | tr '_-' '/+' | awk '{ while (length($0) % 4) $0 = $0 "="; print }' |
    base64 -d | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F | sed 's/../&:/g; s/:$//')
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$sti_api_key_file")" > stipa-auth.hdr)
run_ok spc-token sti_curl -H @stipa-auth.hdr \
    -H 'Content-Type: application/json' -o spc-token.json \
    -d "{\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"MAigBhYEMTIzNA\",\"ca\":false,\"fingerprint\":\"SHA256 $fp\"}}" \
    "$sti_base/stipa/account/sp-test/token"
jq -r .token spc-token.json > spc-token
"$BENCH_ACME" run-shaken "$sks_work/token/sks.conf" "$sti_base/acme/directory" "$sti_tls_ca" \
    "${SKS_BENCH_ISSUANCES:-20}" 1234 "$sks_work/spc-token" || fail "bench_acme run-shaken failed"

# Renewal of SKS_BENCH_RENEWALS (default 100) identities in one sksctl acme
# renew --all at the test STI-CA (renew_fraction 1.0: every one is due),
# the SPC tokens from the test STI-PA: the run's wall time, its PKCS#11
# calls per renewal (counted with SKS_P11_TRACE) and its peak memory.
n=${SKS_BENCH_RENEWALS:-100}
sed "s|^pin_file = user.pin\$|&\ntrust_anchors = $sti_pki/root.pem\ncrl_check = no|" \
    "$sks_work/token/sks.conf" > "$sks_work/token/renew.conf"
cat >> "$sks_work/token/renew.conf" <<EOC

[acme]
directory = $sti_base/acme/directory
ca_file = $sti_tls_ca
allow_private = yes
stipa_url = $sti_base/stipa
stipa_account = sp-test
stipa_credentials = $sti_api_key_file
stipa_ca_file = $sti_tls_ca
renew_fraction = 1.0
EOC
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    run_ok "issue-$i" "$SKSCTL" acme issue -c "$sks_work/token/renew.conf" --ca-file "$sti_tls_ca" \
        --allow-private --directory "$sti_base/acme/directory" "sp-$i" --spc 1234 \
        --stipa-url "$sti_base/stipa" --stipa-account sp-test \
        --stipa-credentials "$sti_api_key_file" --stipa-ca-file "$sti_tls_ca" \
        --x5u "https://sti-cr.test/sp-$i.pem"
    run_ok "activate-$i" "$SKSCTL" activate -c "$sks_work/token/renew.conf" "sp-$i" 1
done
start=$(date +%s%N)
SKS_P11_TRACE=1 /usr/bin/time -f 'maxrss_kb=%M' "$SKSCTL" acme renew -c "$sks_work/token/renew.conf" \
    --all > renew-all.out 2> renew-all.err || { cat renew-all.out renew-all.err; fail "renew --all failed"; }
end=$(date +%s%N)
renewed=$(grep -c ': renewed: ' renew-all.out)
[ "$renewed" = "$n" ] || { cat renew-all.out; fail "renew --all renewed $renewed of $n"; }
calls=$(grep -c '^sks p11: ' renew-all.err)
signs=$(grep -c '^sks p11: C_Sign ' renew-all.err)
rss=$(sed -n 's/^maxrss_kb=//p' renew-all.err)
ms=$(((end - start) / 1000000))
echo "FIGURE: acme renew --all of $n identities (test STI-CA): ${ms} ms in all, $((ms / n)) ms a renewal"
echo "FIGURE: acme renew --all: $((calls / n)) PKCS#11 calls a renewal ($((signs / n)) C_Sign), peak RSS ${rss} kB"
