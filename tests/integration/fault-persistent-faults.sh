#!/bin/sh
# persistent_fault_fails_each_signature_once: the token keeps failing every
# C_Sign, with CKR_DEVICE_ERROR (not recoverable: no retry) and with
# CKR_SESSION_HANDLE_INVALID (recoverable: one reset and one retry per
# signature, never more).  Each signature fails with an error naming the
# code, quickly, without a crash, and p11fault counts at most two real
# C_Sign calls per signature attempt: no retry storm.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-persistent
attempts=20

# persistent CODE MAX-C_SIGN-PER-ATTEMPT
persistent() {
    fault_control
    driver_start "every-$1" -n "$attempts" -g "$sks_work/every-$1.go"
    fault_control "fail C_Sign $1 every"
    driver_go
    driver_wait
    failed=$(summary_field failed)
    sign_calls=$(stat_field stats rule 1 calls)
    logins=$(stat_value stats "calls C_Login")
    max_latency=$(summary_field max_latency_us)
    figure "fault=C_Sign:$1:every attempts=$attempts failed_signatures=$failed" \
        "c_sign_calls=$sign_calls c_login_calls=$logins max_sign_latency_us=$max_latency"
    [ "$failed" -eq "$attempts" ] || fail "$1 every time: $failed of $attempts signatures failed"
    [ "$(grep '^FAIL ' "$driver_name.out" | grep -c -- "$1")" -eq "$attempts" ] || {
        cat "$driver_name.out" >&2
        fail "$1 every time: not every failure names $1"
    }
    [ "$sign_calls" -le $(($2 * attempts)) ] ||
        fail "$1 every time: $sign_calls C_Sign calls for $attempts signatures (at most $2 each)"
    [ "$max_latency" -lt 1000000 ] || fail "$1 every time: a signature took $max_latency us"
    pass "$1 on every C_Sign: $attempts signatures failed naming it," \
        "with $sign_calls C_Sign calls in all"
}

persistent CKR_DEVICE_ERROR 1
persistent CKR_SESSION_HANDLE_INVALID 2
