#!/bin/sh
# sign_survives_session_and_login_faults: the token loses the session, the
# key handle or the login in the middle of signing (p11fault injects
# CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_OBJECT_HANDLE_INVALID
# and CKR_USER_NOT_LOGGED_IN on one call of C_Sign, then of C_SignInit, with
# the side effects a real token has: session closed, handle dead, logged
# out).  The PKCS#11 layer resets the token and retries once, so at most one
# signature may fail per fault (the target is none), and signing goes on.
# Run with 1 and with 2 signing threads; every signature is verified.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-session

# inject FUNCTION CODE THREADS: one fault on the 3rd call from now, then at
# least 40 more signatures.
inject() {
    inj_key="fault fail $1 $2"
    inj_before=$(stat_value stats "$inj_key")
    fails_before=$(driver_count FAIL)
    fault_control "fail $1 $2 nth=3"
    wait_until 10 "p11fault has injected $2 into $1" stat_above stats "$inj_key" "$inj_before"
    signs=$(stat_value stats "calls C_Sign")
    wait_until 10 "signing goes on after $2 in $1" stat_above stats "calls C_Sign" $((signs + 40))
    injected=$(($(stat_value stats "$inj_key") - inj_before))
    failed=$(($(driver_count FAIL) - fails_before))
    figure "threads=$3 fault=$1:$2 injected=$injected failed_signatures=$failed"
    [ "$failed" -le "$injected" ] ||
        fail "$injected $2 in $1 made $failed signatures fail (at most one per fault)"
    pass "$3 thread(s): $2 in $1: $failed of the signatures failed, signing went on"
    total_injected=$((total_injected + injected))
}

for threads in 1 2; do
    total_injected=0
    driver_start "sign-t$threads" -t "$threads"
    for fn in C_Sign C_SignInit; do
        for code in CKR_SESSION_HANDLE_INVALID CKR_SESSION_CLOSED CKR_OBJECT_HANDLE_INVALID \
            CKR_USER_NOT_LOGGED_IN; do
            inject "$fn" "$code" "$threads"
        done
    done
    fault_control
    driver_stop
    failed=$(summary_field failed)
    figure "threads=$threads faults_injected=$total_injected failed_signatures=$failed" \
        "signatures=$(summary_field attempts) max_latency_us=$(summary_field max_latency_us)"
    [ "$failed" -le "$total_injected" ] ||
        fail "$threads thread(s): $failed signatures failed for $total_injected faults"
    pass "$threads thread(s): $total_injected faults, $failed failed signatures, all others verified"
done
