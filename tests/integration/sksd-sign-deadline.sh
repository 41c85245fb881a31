#!/bin/sh
# A token that says it allows 2 sessions (p11fault "sessions 2") gets 2
# signers although hsm_sessions asks for 8, with a log line that says so.
# A token that stops answering (p11fault holds every C_Sign for 12 s) must not
# hold sksd: with those 2 sessions and sign_queue = 2, two requests take the
# sessions, two wait, and a fifth is refused at once with 503 overloaded.
# /healthz and /metrics answer meanwhile, and /metrics shows the sessions
# busy and the queue full.  Every request held by the token is answered 503
# sign-timeout with Retry-After at its deadline (sign_timeout_ms), long
# before the token lets go.  When it does, sksd signs again, its gauges are
# back to zero, and SIGTERM stops it cleanly (under the sanitizer build,
# with no leak).
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
write_sksd_conf "$sks_work/sks.conf" "hsm_sessions = 8
sign_queue = 2
sign_timeout_ms = 6000"
sksd_use_p11fault
p11fault_control "sessions 2"
sksd_start
grep -q 'hsm_sessions = 8 is more than the 2 read-write sessions the token allows: using 2' \
    "$sks_work/sksd.log" || { cat "$sks_work/sksd.log"; fail "sksd does not say it clamped hsm_sessions to 2"; }
v=$(provision_version sp-main activate)
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
printf '%s' "$REQ" > "$sks_work/req.json"
code=$(sign ok1 "$REQ")
[ "$code" = 200 ] || fail "signing through p11fault without faults: status $code"
pass "hsm_sessions_above_the_token_limit_is_clamped_with_a_log_line"

# post NAME: a signing request whose headers, body and status (with the
# time it took, in ms) land in $sks_work/NAME.*; --max-time guards the test
# against a daemon that waits for the token.
post() {
    curl -sS --max-time 14 -D "$sks_work/$1.headers" -X POST -H 'Content-Type: application/json' \
        --data-binary "@$sks_work/req.json" -o "$sks_work/$1.json" \
        -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$sksd_port/stir/v1/signing" \
        > "$sks_work/$1.status" 2>&1
}
status_of() { cut -d' ' -f1 "$sks_work/$1.status"; }
ms_of() { awk '{ printf "%d", $2 * 1000 }' "$sks_work/$1.status"; }
# refused NAME CODE: 503 with error code CODE and Retry-After.
refused() {
    [ "$(status_of "$1")" = 503 ] ||
        { cat "$sks_work/$1.status" "$sks_work/$1.json"; fail "$1: status $(status_of "$1"), not 503"; }
    [ "$(json "$sks_work/$1.json" error.code)" = "$2" ] ||
        { cat "$sks_work/$1.json"; fail "$1: error code is not $2"; }
    grep -qi '^Retry-After: [0-9]' "$sks_work/$1.headers" || fail "$1: 503 without Retry-After"
}
gauge() { sed -n "s/^$1 //p" "$sks_work/$2.metrics"; }
metrics() { curl -sS --max-time 2 -o "$sks_work/$1.metrics" "http://127.0.0.1:$sksd_port/metrics"; }

p11fault_control "sessions 2" "delay C_Sign 12s"
sleep 0.1
for i in 1 2 3 4; do
    post held$i &
    eval "held_pid$i=\$!"
done
# Until the four are in: two signing, two waiting.  They must all be in
# before the first one's deadline (6 s) answers it; under a loaded CI with
# the sanitizer build four curl processes can take seconds to connect.
started=$(date +%s)
until metrics during && [ "$(gauge sksd_hsm_sessions_busy during)" = 2 ] &&
    [ "$(gauge sksd_sign_queue_depth during)" = 2 ]; do
    if [ $(($(date +%s) - started)) -ge 6 ]; then
        grep '^sksd_\(hsm_sessions\|sign_\)' "$sks_work/during.metrics"
        for i in 1 2 3 4; do echo "held$i: $(cat "$sks_work/held$i.status" 2>/dev/null)"; done
        fail "the four requests never filled the sessions and the queue"
    fi
    sleep 0.02
done
echo "FIGURE: $sks_test_name the four requests were in after $(($(date +%s) - started)) s"
post full
refused full overloaded
echo "FIGURE: $sks_test_name full: 503 overloaded after $(ms_of full) ms"
pass "a_full_queue_answers_503_overloaded_at_once"

code=$(curl -sS --max-time 2 -o "$sks_work/health.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
[ "$code" = 200 ] || { cat "$sks_work/health.json"; fail "/healthz answers $code while the token holds every session"; }
metrics during2 || fail "/metrics does not answer while the token holds every session"
[ "$(gauge sksd_hsm_sessions during2)" = 2 ] || fail "/metrics does not say hsm_sessions = 2"
[ "$(gauge sksd_sign_queue_limit during2)" = 2 ] || fail "/metrics does not say sign_queue = 2"
[ "$(gauge sksd_sign_rejected_total during2)" = 1 ] || fail "/metrics does not count the refusal"
pass "healthz_and_metrics_answer_while_the_token_is_stuck"

for i in 1 2 3 4; do
    eval "wait \$held_pid$i" || { cat "$sks_work/held$i.status"; fail "held$i: curl failed"; }
    refused held$i sign-timeout
    ms=$(ms_of held$i)
    # The token holds C_Sign for 12 s: an answer before that came from the deadline.
    [ "$ms" -lt 10000 ] || fail "held$i was answered after $ms ms: it waited for the token"
    echo "FIGURE: $sks_test_name held$i: 503 sign-timeout after $ms ms (sign_timeout_ms = 6000, C_Sign held 12000 ms)"
done
pass "requests_held_by_the_token_get_503_sign_timeout_at_their_deadline"

p11fault_control "sessions 2"
i=0
until metrics after && [ "$(gauge sksd_hsm_sessions_busy after)" = 0 ] &&
    [ "$(gauge sksd_sign_queue_depth after)" = 0 ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || { cat "$sks_work/after.metrics"; fail "sessions stay busy after the token let go"; }
    sleep 0.1
done
[ "$(gauge sksd_sign_timeouts_total after)" = 4 ] ||
    fail "/metrics counts $(gauge sksd_sign_timeouts_total after) timeouts, not 4"
code=$(sign back "$REQ")
[ "$code" = 200 ] || { cat "$sks_work/back.json"; fail "sksd does not sign after the token let go: status $code"; }
json "$sks_work/back.json" signingResponse.identity > "$sks_work/back.identity"
verify_identity verify-back "$sks_work/back.identity" "$sks_work/sp-main-$v.pem"
pass "signing_resumes_with_every_session_free_once_the_token_lets_go"

kill -TERM "$sksd_pid"
rc=0
wait "$sksd_pid" || rc=$?
sksd_pid=
[ "$rc" = 0 ] || { cat "$sks_work/sksd.log"; fail "sksd exited with $rc after SIGTERM"; }
pass "sigterm_after_a_stuck_token_exits_0"
