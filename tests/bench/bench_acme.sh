#!/bin/sh
# ACME issuance figures (make bench, through bench_acme): pebble on
# loopback (tests/integration/acme-common.sh), an account registered with
# sksctl acme register on a token of the benchmark's own, then
# SKS_BENCH_ISSUANCES (default 20) issuances timed by bench_acme.
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
