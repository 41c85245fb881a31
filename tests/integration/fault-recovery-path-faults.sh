#!/bin/sh
# recovery_survives_a_second_fault: the token loses a session (C_SignInit:
# CKR_SESSION_HANDLE_INVALID), and then the recovery itself meets a fault:
# opening the new session, logging in again, finding the key again by
# CKA_ID or making its session copy fails once.  The signature under way
# may fail (it has had its one retry), but a later one recovers: at most one
# failed signature per fault, and signing goes on.  None of these faults may
# stick: a C_Login that fails with CKR_DEVICE_ERROR is not a refused PIN
# and must be tried again.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-recovery-path

# second_fault FUNCTION CODE: one session loss, then CODE on the next FUNCTION.
second_fault() {
    fails_before=$(driver_count FAIL)
    inj_before=$(stat_value stats "total fail")
    # Counted before the faults are armed: they may strike at once.
    hits_before=$(stat_value stats "fault fail $1 $2")
    fault_control "fail C_SignInit CKR_SESSION_HANDLE_INVALID nth=3" "fail $1 $2 nth=1"
    wait_until 10 "the recovery has met $2 in $1" stat_above stats "fault fail $1 $2" \
        "$hits_before"
    signs=$(stat_value stats "calls C_Sign")
    wait_until 10 "signing goes on after $2 in $1" stat_above stats "calls C_Sign" $((signs + 40))
    injected=$(($(stat_value stats "total fail") - inj_before))
    failed=$(($(driver_count FAIL) - fails_before))
    figure "threads=2 fault=C_SignInit:CKR_SESSION_HANDLE_INVALID+$1:$2 injected=$injected" \
        "failed_signatures=$failed"
    [ "$failed" -le "$injected" ] ||
        fail "$2 in $1 during recovery: $failed signatures failed for $injected faults"
    pass "$2 in $1 during recovery: $failed failed signatures for $injected faults, signing went on"
}

driver_start recovery-path -t 2
second_fault C_OpenSession CKR_DEVICE_ERROR
second_fault C_Login CKR_DEVICE_ERROR
second_fault C_FindObjectsInit CKR_SESSION_HANDLE_INVALID
second_fault C_FindObjects CKR_DEVICE_ERROR
second_fault C_CopyObject CKR_SESSION_HANDLE_INVALID
fault_control
driver_stop
