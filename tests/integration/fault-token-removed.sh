#!/bin/sh
# sign_recovers_after_token_removal: the token goes away for a while (every
# call fails with CKR_DEVICE_REMOVED, or CKR_TOKEN_NOT_PRESENT) and comes
# back as after an HSM restart: every session and handle is gone and nobody
# is logged in.  While it is away each signature fails quickly with an error
# that names the cause; within a second of its return signing resumes by
# itself in every thread, and every signature made verifies.  The last run
# signs in a child forked after the key was loaded and used, as pre-forking
# SIP servers do.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-removed

# removal NAME SECONDS CODE THREADS [DRIVER OPTIONS...]
removal() {
    rm_name=$1 rm_seconds=$2 rm_code=$3 rm_threads=$4
    shift 4
    driver_start "$rm_name" -t "$rm_threads" "$@"
    # In a forked child (-f), the child's figures are in stats.<pid>.
    rm_stats=stats
    fault_control "remove $rm_seconds $rm_code"
    wait_until 10 "the token is back" removal_over
    signs=$(stat_value "$rm_stats" "calls C_Sign")
    wait_until 10 "signing resumes after the removal" \
        stat_above "$rm_stats" "calls C_Sign" $((signs + 40))
    fault_control
    driver_stop
    check_removal
    if [ "$rm_stats" = "$sks_work/stats" ] && [ "$*" = -f ]; then
        fail "$rm_name: the faults reached the parent, not the forked child"
    fi
}

removal_over() {
    for f in $(stats_files); do
        if [ "$(stat_value "$f" restarts)" -gt 0 ]; then
            rm_stats=$f
            return 0
        fi
    done
    return 1
}

check_removal() {
    out=$sks_work/$driver_name.out
    start=$(stat_field "$rm_stats" window 1 start_us)
    end=$(stat_field "$rm_stats" window 1 end_us)
    failed=$(summary_field failed)
    max_latency=$(summary_field max_latency_us)
    [ "$failed" -gt 0 ] || fail "$rm_name: no signature failed while the token was away"
    assert_grep "$rm_name" "$rm_code" "$out"
    # Failures only while the token was away, or on the call that found it back.
    late=$(awk -v e="$end" '/^FAIL / { split($4, a, "="); if (a[2] > e + 0) n++ } END { print n + 0 }' "$out")
    # Per thread: the first success after the window's end.
    recovery=$(awk -v e="$end" '/^RESUMED / { split($3, a, "="); r = a[2] - e
        if (max == "" || r > max) max = r } END { print max + 0 }' "$out")
    resumed=$(driver_count RESUMED)
    removed_calls=$(stat_value "$rm_stats" "total removed")
    figure "$rm_name: threads=$rm_threads window_s=$rm_seconds code=$rm_code" \
        "failed_signatures=$failed failed_after_window=$late threads_resumed=$resumed" \
        "recovery_us=$recovery max_sign_latency_us=$max_latency removed_calls=$removed_calls" \
        "calls_per_failed_signature=$(awk -v c="$removed_calls" -v f="$failed" \
            'BEGIN { printf "%.1f", c / f }')"
    # One attempt and one retry, each a few calls (session, slot list): no storm.
    [ "$removed_calls" -le $((8 * failed)) ] ||
        fail "$rm_name: $removed_calls PKCS#11 calls for $failed failed signatures"
    # A call under way when the token came back may still fail, one a thread.
    [ "$late" -le "$rm_threads" ] ||
        fail "$rm_name: $late signatures failed after the token came back"
    [ "$resumed" -ge "$rm_threads" ] || fail "$rm_name: only $resumed of $rm_threads threads resumed"
    # How soon is a figure (above), not an assertion: a shared machine may
    # take longer than an idle one.  10 s only tells a hang from a slow run.
    [ "$recovery" -ge 0 ] && [ "$recovery" -lt 10000000 ] ||
        fail "$rm_name: signing resumed $recovery us after the token came back (hang?)"
    [ "$max_latency" -lt 1000000 ] || fail "$rm_name: a signature took $max_latency us (hang?)"
    pass "$rm_name: $failed signatures failed with $rm_code while the token was away" \
        "(${start}..${end} us); signing resumed $recovery us after its return"
}

removal removed-device 1.0 CKR_DEVICE_REMOVED 2
removal removed-not-present 1.0 CKR_TOKEN_NOT_PRESENT 1
removal removed-forked-child 1.0 CKR_DEVICE_REMOVED 1 -f
