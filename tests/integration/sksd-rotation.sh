#!/bin/sh
# Rotation under load, across processes: daemon A signs a steady load while
# daemon B (another process on the same token) activates the next key
# version.  No request may fail, every answer must verify with the
# certificate of the version that signed it, and A must then sign with the
# new version.  How long A took is printed as a FIGURE line: make check has
# no timed assertion (the cache's key_max_age_ms bound is measured, not
# asserted, on a shared machine).
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_start
pid_a=$sksd_pid
port_a=$sksd_port
v1=$(provision_version sp-main activate)
v2=$(provision_version sp-main)

# Daemon B: the same token, its own port, log and import socket.
sed "s|$sks_work/import.sock|$sks_work/import-b.sock|" "$sks_work/sks.conf" > "$sks_work/b.conf"
mv "$sks_work/sksd.log" "$sks_work/a.log"
sksd_pid=
sksd_start "$sks_work/b.conf"
pid_b=$sksd_pid
mv "$sks_work/sksd.log" "$sks_work/b.log"
sksd_port=$port_a
# set +e: a daemon's non-zero exit status must not end the trap before sks_cleanup.
trap 'rc=$?; set +e; kill $pid_a $pid_b 2>/dev/null; wait $pid_a $pid_b 2>/dev/null; (exit $rc); sks_cleanup' EXIT

# A steady load on A (about 15 s at 2,000 requests/s), verified per x5u.
"$SKSD_CLIENT" load 127.0.0.1 "$port_a" --requests 30000 --conns 4 --rate 2000 \
    --cert "$(x5u_of sp-main "$v1")=$sks_work/sp-main-$v1.pem" \
    --cert "$(x5u_of sp-main "$v2")=$sks_work/sp-main-$v2.pem" > "$sks_work/load.out" 2>&1 &
load=$!
sleep 4
code=$(curl -sS --unix-socket "$sks_work/import-b.sock" -X POST -o "$sks_work/act.json" \
    -w '%{http_code}' "http://sksd/sks/v1/identities/sp-main/versions/$v2/activate")
[ "$code" = 200 ] || { cat "$sks_work/act.json"; fail "activation through daemon B: status $code"; }
activated=$(date +%s%N)

# A signs with v2 (polling A directly, besides the load); 30 s only guards
# against a hang.
seen=
while [ $(( ($(date +%s%N) - activated) / 1000000 )) -lt 30000 ]; do
    code=$(sign poll '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}')
    if [ "$code" = 200 ] && grep -q "$(x5u_of sp-main "$v2")" "$sks_work/poll.json"; then
        seen=$(( ($(date +%s%N) - activated) / 1000000 ))
        break
    fi
    sleep 0.05
done
[ -n "$seen" ] || fail "daemon A still signs with v$v1 30 s after daemon B activated v$v2"
echo "FIGURE: sksd-rotation new version seen by the other daemon after ${seen} ms"
pass "rotation_by_another_process_is_seen_by_the_other_daemon"

wait $load || true
cat "$sks_work/load.out"
assert_grep load "ok=30000 " "$sks_work/load.out"
assert_grep load "http_errors=0 bad=0 io_errors=0" "$sks_work/load.out"
n1=$(sed -n "s|^x5u $(x5u_of sp-main "$v1") verified=||p" "$sks_work/load.out")
n2=$(sed -n "s|^x5u $(x5u_of sp-main "$v2") verified=||p" "$sks_work/load.out")
[ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] || fail "the load did not span the rotation (v1: $n1, v2: $n2)"
[ $((n1 + n2)) -eq 30000 ] || fail "verified $n1 + $n2, not 30000"
echo "FIGURE: sksd-rotation signed by v$v1: $n1, by v$v2: $n2, failures: 0"
pass "rotation_under_load_fails_no_request_and_each_answer_verifies_with_its_version"
