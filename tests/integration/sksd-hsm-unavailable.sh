#!/bin/sh
# When the token cannot sign, the signing API answers 503 with Retry-After
# and the code hsm-unavailable (never a 500), counts the HSM errors, reports
# it in /healthz, and signs again once the token is back.  /healthz and
# /metrics cost one token call each while nothing changes, before and after
# the outage: no search, whatever the key store holds.  The token's module
# is p11fault (tests/p11fault) in front of SoftHSM2; its counters are in
# $sks_work/stats.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_use_p11fault
P11FAULT_STATS=$sks_work/stats
export P11FAULT_STATS
sksd_start
v=$(provision_version sp-main activate)
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
code=$(sign ok1 "$REQ")
[ "$code" = 200 ] || fail "signing through p11fault without faults: status $code"

control() {
    p11fault_control "$@"
    sleep 0.1
}

# healthy NAME: /healthz answers 200, status ok, listing sp-main.
healthy() {
    code=$(curl -sS -o "$sks_work/$1.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
    [ "$code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: /healthz answers $code"; }
    jq -e '.status == "ok" and .activeIdentityCount == 1 and
        ([.identities[].name] == ["sp-main"])' "$sks_work/$1.json" > /dev/null ||
        { cat "$sks_work/$1.json"; fail "$1: /healthz does not say ok with sp-main"; }
}
# calls FUNCTION: the calls of FUNCTION sksd made so far (all functions: "").  A
# call writes the counters once 50 ms passed since the last write, counting
# itself: the /healthz before the reading is the one that writes them.
calls() {
    awk -v f="$1" '$1 == "calls" && (f == "" || $2 == f) { n += $3 } END { print n + 0 }' \
        "$sks_work/stats"
}
flush() {
    sleep 0.1
    healthy flush
}
# cheap NAME: 10 /healthz and 10 /metrics (and the flush) make 21 token calls
# and no search.
cheap() {
    flush
    c0=$(calls "")
    f0=$(calls C_FindObjectsInit)
    for i in 1 2 3 4 5 6 7 8 9 10; do
        healthy "$1-$i"
        curl -sS -o "$sks_work/$1-$i.metrics" "http://127.0.0.1:$sksd_port/metrics"
        grep -q '^sksd_keystore_up 1$' "$sks_work/$1-$i.metrics" ||
            fail "$1: /metrics says the key store is down"
    done
    flush
    [ "$(calls C_FindObjectsInit)" = "$f0" ] ||
        fail "$1: 10 /healthz and 10 /metrics searched the token $(($(calls C_FindObjectsInit) - f0)) times"
    [ "$(calls "")" = $((c0 + 21)) ] ||
        fail "$1: 10 /healthz and 10 /metrics made $(($(calls "") - c0 - 1)) token calls, not 20"
}

healthy first
cheap before
pass "healthz_and_metrics_ask_the_token_one_thing_each"

# unavailable NAME: the answer is 503 hsm-unavailable with Retry-After.
unavailable() {
    printf '%s' "$REQ" > "$sks_work/$1.req"
    code=$(curl -sS -D "$sks_work/$1.headers" -X POST -H 'Content-Type: application/json' \
        --data-binary "@$sks_work/$1.req" -o "$sks_work/$1.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing")
    [ "$code" = 503 ] || { cat "$sks_work/$1.json"; fail "$1: status $code, not 503"; }
    [ "$(json "$sks_work/$1.json" error.code)" = hsm-unavailable ] || fail "$1: code is not hsm-unavailable"
    grep -qi '^Retry-After: [0-9]' "$sks_work/$1.headers" || fail "$1: 503 without Retry-After"
}

control "fail C_Sign CKR_DEVICE_ERROR every"
unavailable device-error
pass "hsm_device_error_answers_503_with_retry_after"
control
code=$(sign ok2 "$REQ")
[ "$code" = 200 ] || { cat "$sks_work/ok2.json"; fail "no recovery after the device error: status $code"; }
json "$sks_work/ok2.json" signingResponse.identity > "$sks_work/ok2.identity"
verify_identity verify-ok2 "$sks_work/ok2.identity" "$sks_work/sp-main-$v.pem"
pass "signing_recovers_when_the_token_does"

control "remove 3"
unavailable removed
code=$(curl -sS -o "$sks_work/health.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
[ "$code" = 503 ] || fail "/healthz answers $code while the token is removed"
jq -e '.status == "unavailable" and (.reason | test("CKR_DEVICE_REMOVED"))' \
    "$sks_work/health.json" > /dev/null ||
    { cat "$sks_work/health.json"; fail "/healthz does not name CKR_DEVICE_REMOVED as the reason"; }
curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics-removed.txt"
assert_grep metrics-removed 'sksd_keystore_up 0' "$sks_work/metrics-removed.txt"
pass "token_removed_answers_503_and_healthz_says_so"
sleep 3.5
ok=
for i in 1 2 3 4 5 6 7 8 9 10; do
    code=$(sign back "$REQ")
    if [ "$code" = 200 ]; then ok=1; break; fi
    sleep 0.5
done
[ -n "$ok" ] || { cat "$sks_work/back.json"; fail "no signature after the token came back"; }
json "$sks_work/back.json" signingResponse.identity > "$sks_work/back.identity"
verify_identity verify-back "$sks_work/back.identity" "$sks_work/sp-main-$v.pem"
pass "signing_resumes_after_the_token_comes_back"
healthy back-health
cheap after
pass "healthz_is_healthy_again_and_cheap_once_the_token_is_back"
# ---- the signing cache reads the change marker again after losing it -------
# One read of the marker per key_max_age_ms (500) serves every identity; had
# the cache stayed without it, each identity would read its record as often.
for n in sp-b sp-c sp-d; do provision_version "$n" activate > /dev/null; done
# sign_all NAME ROUNDS: each of the 4 identities signs once a round, 0.3 s apart.
sign_all() {
    sa_i=0
    while [ "$sa_i" -lt "$2" ]; do
        for n in sp-main sp-b sp-c sp-d; do
            code=$(sign "$1" "$REQ" "?identity=$n")
            [ "$code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: $n signs with status $code"; }
        done
        sleep 0.3
        sa_i=$((sa_i + 1))
    done
}
# flush4: flush's counter write, now that 4 identities are listed.
flush4() {
    sleep 0.1
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
    [ "$code" = 200 ] || fail "/healthz answers $code with 4 identities"
}
# measure NAME: attribute reads while the 4 identities sign 10 rounds; sets $reads, $elapsed_ms.
measure() {
    # Twice: the first may list the identities anew (a new marker value), and
    # the counters it leaves are written by the next call.
    flush4
    flush4
    r0=$(calls C_GetAttributeValue)
    t0=$(date +%s%N)
    sign_all "$1" 10
    flush4
    elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
    reads=$(($(calls C_GetAttributeValue) - r0))
}
sign_all warm 2
measure before
before=$reads
before_ms=$elapsed_ms
sleep 0.6
control "fail C_GetAttributeValue CKR_DEVICE_ERROR nth=1"
sign "lost" "$REQ" > /dev/null
control
sign_all settle 5
measure after
echo "# attribute reads for 40 signatures: $before in $before_ms ms with the marker, $reads in $elapsed_ms ms after it was lost once"
# The rounds take about as long each time; 4 identities polling would read 4 times as often.
[ "$reads" -le $((before * 3 / 2 + 4)) ] ||
    fail "after a lost marker read, 40 signatures read attributes $reads times, against $before before"
pass "the_signing_cache_uses_the_change_marker_again_after_a_failed_read"

curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics.txt"
grep -q '^sksd_hsm_errors_total [1-9]' "$sks_work/metrics.txt" || fail "HSM errors not counted"
grep -q 'code="500"' "$sks_work/metrics.txt" && fail "a token failure answered 500"
pass "metrics_count_hsm_errors"
