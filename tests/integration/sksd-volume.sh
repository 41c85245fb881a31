#!/bin/sh
# 100,000 signatures through the signing API over keep-alive connections,
# every answer verified with the certificate its x5u names.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_start
v=$(provision_version sp-main activate)
count=${SKSD_VOLUME_REQUESTS:-100000}
start=$(date +%s)
run_ok volume "$SKSD_CLIENT" load 127.0.0.1 "$sksd_port" --requests "$count" --conns 4 \
    --cert "$(x5u_of sp-main "$v")=$sks_work/sp-main-$v.pem"
cat "$sks_work/volume.out"
assert_grep volume "ok=$count " "$sks_work/volume.out"
assert_grep volume "verified=$count" "$sks_work/volume.out"
echo "FIGURE: sksd-volume $(head -n 1 "$sks_work/volume.out") wall_seconds=$(($(date +%s) - start))"
pass "volume_signs_${count}_requests_that_all_verify"
curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics.txt"
assert_grep metrics "sksd_requests_total{api=\"signing\",code=\"200\"} $count" "$sks_work/metrics.txt"
pass "metrics_count_every_signature"
