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
