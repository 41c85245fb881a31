#!/bin/sh
# SIGHUP reloads the configuration (and refuses a broken one, keeping the
# running one); SIGTERM stops accepting, lets in-flight requests finish with
# verified answers, and exits 0.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
# systemd's side of Type=notify: what sksd says over NOTIFY_SOCKET.
"$SKSD_CLIENT" notify-listen "$sks_work/notify.sock" 60 > "$sks_work/notify.out" &
notify=$!
i=0
until [ -S "$sks_work/notify.sock" ]; do
    i=$((i + 1)); [ "$i" -lt 100 ] || fail "the notify listener did not start"; sleep 0.05
done
NOTIFY_SOCKET=$sks_work/notify.sock
export NOTIFY_SOCKET
sksd_start
unset NOTIFY_SOCKET
assert_grep notify "READY=1" "$sks_work/notify.out"
pass "sd_notify_says_ready_once_the_listeners_are_up"
v=$(provision_version sp-main activate)
w=$(provision_version sp-west activate)
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'

# signer NAME: the x5u that signed a request naming no identity.
signer() {
    code=$(sign "$1" "$REQ")
    [ "$code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: status $code"; }
    json "$sks_work/$1.json" signingResponse.identity | sed 's/.*;info=<\([^>]*\)>.*/\1/'
}

[ "$(signer before)" = "$(x5u_of sp-main "$v")" ] || fail "the default identity is not sp-main"
sed -i -e 's/^default = sp-main$/default = sp-west/' \
    -e 's/^\[sksd_limits\]$/[sksd_limits]\nsign_queue = 17\nhsm_sessions = 3/' "$sks_work/sks.conf"
kill -HUP "$sksd_pid"
wait_log "configuration reloaded" "no reload logged after SIGHUP"
[ "$(signer after)" = "$(x5u_of sp-west "$w")" ] || fail "after SIGHUP the default is still sp-main"
assert_grep notify "RELOADING=1" "$sks_work/notify.out"
[ "$(grep -c '^READY=1' "$sks_work/notify.out")" -ge 2 ] || fail "no READY=1 after the reload"
pass "sighup_reloads_the_identity_map"
curl -sS -o "$sks_work/reloaded.metrics" "http://127.0.0.1:$sksd_port/metrics" ||
    fail "/metrics does not answer after SIGHUP"
assert_grep queue-reloaded "sksd_sign_queue_limit 17" "$sks_work/reloaded.metrics"
assert_grep sessions-kept "sksd_hsm_sessions 32" "$sks_work/reloaded.metrics"
assert_grep sessions-warned "reload: hsm_sessions changed; it applies after a restart" \
    "$sks_work/sksd.log"
pass "sighup_applies_sign_queue_and_says_hsm_sessions_needs_a_restart"

echo "this is [not a valid" >> "$sks_work/sks.conf"
kill -HUP "$sksd_pid"
wait_log "reload refused" "a broken configuration was not refused"
[ "$(signer broken)" = "$(x5u_of sp-west "$w")" ] || fail "a refused reload changed the configuration"
kill -0 "$sksd_pid" || fail "sksd died on a broken configuration"
pass "sighup_keeps_the_running_configuration_when_the_file_is_broken"

# In flight: the request's body trickles in at 100 bytes/s, so the request
# has begun when SIGTERM arrives and ends after it.
pad=$(head -c 300 /dev/zero | tr '\0' ' ')
printf '%s%s' "$REQ" "$pad" > "$sks_work/slow.req"
for i in 1 2 3; do
    curl -sS --limit-rate 100 -X POST -H 'Content-Type: application/json' \
        --data-binary "@$sks_work/slow.req" -o "$sks_work/drain$i.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing" > "$sks_work/drain$i.code" 2>&1 &
    eval "c$i=\$!"
done
sleep 1
kill -TERM "$sksd_pid"
sleep 0.3
code=$(curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz" 2>/dev/null) || code=refused
[ "$code" != 200 ] || fail "sksd still accepted a new connection after SIGTERM"
for i in 1 2 3; do
    eval "wait \$c$i" || true
    [ "$(cat "$sks_work/drain$i.code")" = 200 ] || { cat "$sks_work/drain$i.code" "$sks_work/drain$i.json"; fail "in-flight request $i did not complete after SIGTERM"; }
    json "$sks_work/drain$i.json" signingResponse.identity > "$sks_work/drain$i.identity"
    verify_identity "verify-drain$i" "$sks_work/drain$i.identity" "$sks_work/sp-west-$w.pem"
done
rc=0
wait "$sksd_pid" || rc=$?
sksd_pid=
[ "$rc" = 0 ] || { cat "$sks_work/sksd.log"; fail "sksd exited with $rc after SIGTERM"; }
assert_grep log "SIGTERM: draining in-flight requests" "$sks_work/sksd.log"
assert_grep log "sksd: stopped" "$sks_work/sksd.log"
[ ! -e "$sks_work/import.sock" ] || fail "sksd left its import socket behind"
assert_grep notify "STOPPING=1" "$sks_work/notify.out"
kill "$notify" 2>/dev/null || true
pass "sigterm_drains_in_flight_requests_and_exits_0"
