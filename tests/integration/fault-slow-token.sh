#!/bin/sh
# slow_token_slows_signing_without_failing_it: p11fault delays every C_Sign
# by 20 ms and every new session by 50 ms, as a loaded network HSM does.
# Every signature still succeeds and verifies, and none is faster than the
# delay (the provider waits for the token; nothing gives up or times out).
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-slow
attempts=10
delay_us=20000

driver_start slow -t 2 -n "$attempts" -g "$sks_work/slow.go"
fault_control "delay C_Sign ${delay_us}us" "delay C_OpenSession 50ms"
driver_go
driver_wait

failed=$(summary_field failed)
min_latency=$(summary_field min_latency_us)
delayed=$(stat_value stats "fault delay C_Sign -")
figure "threads=2 attempts=$((2 * attempts)) delay_c_sign_us=$delay_us delayed_c_sign=$delayed" \
    "failed_signatures=$failed min_sign_latency_us=$min_latency" \
    "max_sign_latency_us=$(summary_field max_latency_us)"
[ "$failed" -eq 0 ] || fail "$failed signatures failed on a slow token"
[ "$delayed" -eq $((2 * attempts)) ] || fail "p11fault delayed $delayed C_Sign calls, not $((2 * attempts))"
[ "$min_latency" -ge "$delay_us" ] ||
    fail "a signature took $min_latency us although C_Sign was delayed by $delay_us us"
pass "$((2 * attempts)) signatures on a slow token: all made and verified, none faster than the delay"
