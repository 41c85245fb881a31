#!/bin/sh
# Soak test of sksd (make soak; never part of make check): sksd signs a
# steady load for SOAK_MINUTES while
#   - a second process (sksd_client) sends signing requests at SOAK_RATE a
#     second and verifies every answer with the certificate its x5u names;
#   - every SOAK_ROTATE_SECONDS a new key version comes in the way an
#     operator brings one (a fresh key, its certificate, sksctl import, then
#     sksctl activate), and versions past their grace period are retired;
#   - every SOAK_FAULT_SECONDS the token misbehaves through p11fault: a
#     C_Sign fails with CKR_SESSION_HANDLE_INVALID (the session is gone), and
#     a few seconds later the token is removed for one second.
# At the end it reports requests served, failures by HTTP status, sksd's RSS,
# open descriptors and PKCS#11 sessions (from the calls p11fault counted) at
# start and end, and fails when sksd died, when an answer did not verify, when
# a rotation failed, or when a failure was not the 503 a token fault gives.
#
# Environment: top_srcdir, top_builddir, SOFTHSM_MODULE and OPENSSL_MODULES
# as make check sets them (the soak target does); SOAK_MINUTES (30),
# SOAK_RATE (300), SOAK_ROTATE_SECONDS (180), SOAK_FAULT_SECONDS (120).
. "$top_srcdir/tests/integration/sksd-common.sh"

SOAK_MINUTES=${SOAK_MINUTES:-30}
SOAK_RATE=${SOAK_RATE:-300}
SOAK_ROTATE_SECONDS=${SOAK_ROTATE_SECONDS:-180}
SOAK_FAULT_SECONDS=${SOAK_FAULT_SECONDS:-120}
SOAK_BATCH_SECONDS=10
GRACE_SECONDS=60
# p11fault keeps 16 removal windows per process: the soak uses at most these.
WINDOWS_MAX=15
P11FAULT_SO=$top_builddir/tests/p11fault/.libs/libp11fault.so
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'

require_sksd
[ -f "$P11FAULT_SO" ] || fail "p11fault is not built at $P11FAULT_SO"
for n in "$SOAK_MINUTES" "$SOAK_RATE" "$SOAK_ROTATE_SECONDS" "$SOAK_FAULT_SECONDS"; do
    case $n in '' | *[!0-9]*) fail "SOAK_* settings are whole numbers, not \"$n\"" ;; esac
done

load_pid=
soak_cleanup() {
    soak_rc=$?
    # Every step runs, whatever fails: set -e would stop at the first.
    set +e
    trap - EXIT INT TERM
    : > "$sks_work/load.stop" 2>/dev/null || true
    if [ -n "$load_pid" ]; then
        kill "$load_pid" 2>/dev/null || true
        wait "$load_pid" 2>/dev/null || true
    fi
    sksd_kill
    (exit "$soak_rc")
    sks_cleanup
}

sksd_setup
trap soak_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$sks_work" || fail "cannot enter $sks_work"
log() {
    echo "soak: $(date -u +%H:%M:%S) $*"
}

# sksd signs through p11fault; sksctl goes to SoftHSM directly, so that the
# faults hit the daemon alone and the statistics are the daemon's.
REAL_MODULE=$SOFTHSM_MODULE
sed -i -e "s|^pkcs11_module = .*|pkcs11_module = $P11FAULT_SO|" \
    -e "s|^trust_anchors = .*|&\ngrace_period = $GRACE_SECONDS|" sks.conf
P11FAULT_MODULE=$REAL_MODULE
P11FAULT_CONTROL=$sks_work/control
P11FAULT_STATS=$sks_work/stats
export P11FAULT_MODULE P11FAULT_CONTROL P11FAULT_STATS
: > control

control() {
    printf '%s\n' "$@" > control.tmp
    mv -f control.tmp control
}

ksctl() {
    ks_cmd=$1
    shift
    timeout 120 "$SKSCTL" "$ks_cmd" -c "$sks_work/sks.conf" --module "$REAL_MODULE" "$@"
}

# ---- key versions ------------------------------------------------------------------

# prepare_key N: a fresh P-256 key and its SP certificate, made one rotation
# ahead so that the load already verifies with it when a rotation lands in
# the middle of a batch.
prepare_key() {
    sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "key-$1.pem" 2>/dev/null ||
        fail "openssl cannot make a P-256 key"
    sw_openssl req -new -key "key-$1.pem" -subj "/O=SKS Soak/CN=SHAKEN $SKSD_SPC" -out "key-$1.csr" ||
        fail "openssl cannot make a CSR"
    issue_cert "$sks_work/key-$1.csr" "$sks_work/cert-$1.pem"
    echo "$(x5u_of soak "$1")=$sks_work/cert-$1.pem" >> certs.all
    # The certificates of the keys that may sign: the last two, the active
    # one (a cached key may sign on briefly after a rotation) and the next.
    tail -n 4 certs.all > certs.tmp && mv -f certs.tmp certs
}

# new_version: the prepared key comes in with sksctl import and becomes
# active with sksctl activate; old versions past their grace period go.
keys=0
new_version() {
    n=$((keys + 1))
    out=$(ksctl import sp-main --key "key-$n.pem" --cert "cert-$n.pem" --chain pki/chain.pem \
        --x5u "$(x5u_of soak "$n")" 2>&1) || {
        log "sksctl import failed: $out"
        return 1
    }
    v=$(echo "$out" | sed -n 's|^sp-main/\([0-9]*\) .*|\1|p')
    if [ -n "$v" ] && ! echo "$out" | grep -q " active"; then
        ksctl activate sp-main "$v" > activate.out 2>&1 || {
            log "sksctl activate $v failed: $(cat activate.out)"
            return 1
        }
    fi
    keys=$n
    prepare_key $((n + 1))
    ksctl retire sp-main > retire.out 2>&1 || log "sksctl retire failed: $(cat retire.out)"
    log "version $v (key $n) imported and active; retire: $(tr '\n' ' ' < retire.out)"
}

# ---- the load: batches of sksd_client, each verifying with the current certificates ----

load_loop() {
    batch=$((SOAK_RATE * SOAK_BATCH_SECONDS))
    client=
    # Stopped early (the soak is interrupted): the running batch goes too.
    trap 'kill "$client" 2>/dev/null; exit 0' TERM
    while [ ! -f load.stop ]; do
        set --
        while IFS= read -r c; do set -- "$@" --cert "$c"; done < certs
        "$SKSD_CLIENT" load 127.0.0.1 "$sksd_port" --requests "$batch" --conns 4 \
            --rate "$SOAK_RATE" --max-age 300 "$@" > batch.out 2>&1 &
        client=$!
        wait "$client" || true
        grep '^requests=' batch.out >> load.log || echo "requests=0 batch-failed" >> load.log
        grep '^first error' batch.out >> load.errors || true
    done
}

# load_totals: the sums of the load's batch lines so far, as "ok=N http_errors=N bad=N io_errors=N".
load_totals() {
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
         END { printf "ok=%d http_errors=%d bad=%d io_errors=%d\n", s["ok"], s["http_errors"],
               s["bad"], s["io_errors"] }' load.log 2>/dev/null
}

# load_field NAME TOTALS: one figure of load_totals' line.
load_field() {
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---- what sksd uses ------------------------------------------------------------------

rss_kb() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$sksd_pid/status"
}

fd_count() {
    ls "/proc/$sksd_pid/fd" | wc -l
}

stat_of() {
    awk -v k="$1" 'index($0, k " ") == 1 { v = $NF } END { print v + 0 }' stats 2>/dev/null || echo 0
}

# PKCS#11 sessions, from p11fault's counts: "opened closed dropped held".
# opened: C_OpenSession calls that opened one (refused ones are counted as
# calls too); closed: C_CloseSession calls; dropped: calls on a session that
# the token answered with a lost session (CKR_SESSION_HANDLE_INVALID,
# CKR_DEVICE_REMOVED...), after which the session is gone and sksd rightly
# does not close it.  held = opened - closed - dropped, the sessions sksd
# holds (approximately: a lost anchor session is also closed once).
sessions() {
    awk '$1 == "calls" && $2 == "C_OpenSession" { opened += $3 }
         $1 == "fault" && $3 == "C_OpenSession" { opened -= $NF }
         $1 == "calls" && $2 == "C_CloseSession" { closed = $3 }
         $1 == "fault" && $2 != "delay" && $4 ~ /^CKR_(SESSION_HANDLE_INVALID|SESSION_CLOSED|DEVICE_REMOVED|TOKEN_NOT_PRESENT)$/ &&
             $3 !~ /^C_(Initialize|Finalize|GetInfo|GetFunctionList|GetSlotList|GetSlotInfo|GetTokenInfo|GetMechanismList|GetMechanismInfo|InitToken|OpenSession|CloseSession|CloseAllSessions|WaitForSlotEvent)$/ {
             dropped += $NF }
         END { printf "%d %d %d %d\n", opened, closed, dropped, opened - closed - dropped }' \
        stats 2>/dev/null || echo "0 0 0 0"
}

# The signing API's answers by status, from /metrics: "code=count ...".
status_counts() {
    curl -sS -m 10 "http://127.0.0.1:$sksd_port/metrics" |
        sed -n 's/^sksd_requests_total{api="signing",code="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
}

# ---- run ----------------------------------------------------------------------------

sksd_start
log "sksd pid $sksd_pid on port $sksd_port; soak of $SOAK_MINUTES min at $SOAK_RATE req/s," \
    "rotation every $SOAK_ROTATE_SECONDS s, faults every $SOAK_FAULT_SECONDS s"
prepare_key 1
new_version || fail "the first key version could not be brought in"
code=$(sign first "$REQ")
[ "$code" = 200 ] || { cat first.json >&2; fail "sksd does not sign: status $code"; }

load_loop &
load_pid=$!
# Start figures once the load has run a batch: the daemon's buffers and caches are made.
sleep "$SOAK_BATCH_SECONDS"
rss_start=$(rss_kb)
fds_start=$(fd_count)
# shellcheck disable=SC2046 # four numbers, split on purpose
set -- $(sessions)
sessions_start=$4
status_counts > status.start
log "start: rss_kb=$rss_start fds=$fds_start sessions opened/closed/dropped/held=$1/$2/$3/$4"

t0=$(date +%s)
end=$((t0 + SOAK_MINUTES * 60))
next_rotate=$((t0 + SOAK_ROTATE_SECONDS))
next_fault=$((t0 + SOAK_FAULT_SECONDS))
next_report=$((t0 + 60))
windows=0
session_faults=0
rotations=0
rotation_failures=0
while [ "$(date +%s)" -lt "$end" ]; do
    kill -0 "$sksd_pid" 2>/dev/null || { tail -20 sksd.log >&2; fail "sksd died"; }
    kill -0 "$load_pid" 2>/dev/null || fail "the load process died"
    now=$(date +%s)
    if [ "$now" -ge "$next_rotate" ]; then
        if new_version; then rotations=$((rotations + 1)); else rotation_failures=$((rotation_failures + 1)); fi
        next_rotate=$((now + SOAK_ROTATE_SECONDS))
    fi
    if [ "$now" -ge "$next_fault" ]; then
        control "fail C_Sign CKR_SESSION_HANDLE_INVALID nth=1"
        session_faults=$((session_faults + 1))
        round="a C_Sign session fault"
        sleep 5
        if [ "$windows" -lt "$WINDOWS_MAX" ]; then
            control "remove 1"
            windows=$((windows + 1))
            round="$round, then the token removed for 1 s"
            sleep 3
        fi
        control
        log "faults: $round; so far fail=$(stat_of "total fail") removed=$(stat_of "total removed")" \
            "restarts=$(stat_of restarts)"
        next_fault=$(($(date +%s) + SOAK_FAULT_SECONDS))
    fi
    if [ "$now" -ge "$next_report" ]; then
        log "t=$(((now - t0) / 60))m $(load_totals) rss_kb=$(rss_kb) fds=$(fd_count)" \
            "sessions opened/closed/dropped/held=$(sessions | tr ' ' /)"
        next_report=$((now + 60))
    fi
    sleep 1
done

: > load.stop
wait "$load_pid" || true
load_pid=
# The end figures with the load stopped but the daemon still running.
sleep 1
rss_end=$(rss_kb)
fds_end=$(fd_count)
# shellcheck disable=SC2046 # four numbers, split on purpose
set -- $(sessions)
sessions_end=$4
sessions_detail="opened=$1 closed=$2 dropped_by_faults=$3"
status_counts > status.end
kill -TERM "$sksd_pid"
sksd_rc=0
wait "$sksd_pid" || sksd_rc=$?
sksd_pid=

totals=$(load_totals)
ok=$(load_field ok "$totals")
http_errors=$(load_field http_errors "$totals")
bad=$(load_field bad "$totals")
io_errors=$(load_field io_errors "$totals")
by_status=$(awk 'NR == FNR { s[$1] = $2; next } { n = $2 - s[$1]; if (n > 0) printf "%s=%d ", $1, n }' \
    status.start status.end)
growth=$(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%.1f", (a > 0 ? (b - a) * 100 / a : 0) }')
figure() {
    echo "FIGURE: soak $*"
}
figure "minutes=$SOAK_MINUTES rate=$SOAK_RATE requests=$((ok + http_errors + bad)) ok=$ok" \
    "http_errors=$http_errors bad_signatures=$bad io_errors=$io_errors"
figure "answers_by_status (sksd /metrics, after warm-up): $by_status"
figure "rss_kb start=$rss_start end=$rss_end growth_pct=$growth fds start=$fds_start end=$fds_end" \
    "pkcs11_sessions_held start=$sessions_start end=$sessions_end ($sessions_detail)"
figure "rotations=$rotations rotation_failures=$rotation_failures session_faults=$session_faults" \
    "token_removals=$windows injected: fail=$(stat_of "total fail") removed=$(stat_of "total removed")" \
    "stale_session=$(stat_of "total stale-session") restarts=$(stat_of restarts)"
figure "sksd exit status after SIGTERM: $sksd_rc"
if [ -s load.errors ]; then
    echo "first errors of the load batches (up to 10):"
    sort load.errors | uniq -c | sort -rn | head -10
fi

verdict=0
[ "$sksd_rc" -eq 0 ] || { echo "soak: sksd exited with $sksd_rc on SIGTERM"; verdict=1; }
[ "$bad" -eq 0 ] || { echo "soak: $bad answers did not verify"; verdict=1; }
other=$(echo "$by_status" | tr ' ' '\n' | grep -v '^\(200\|503\)=' | grep -c . || true)
[ "$other" -eq 0 ] || { echo "soak: answers other than 200 and 503: $by_status"; verdict=1; }
[ "$rotation_failures" -eq 0 ] || { echo "soak: $rotation_failures rotations failed"; verdict=1; }
[ "$verdict" -eq 0 ] || fail "the soak found problems (above)"
echo "soak: PASS"
