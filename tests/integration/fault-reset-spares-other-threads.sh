#!/bin/sh
# reset_spares_signatures_of_other_threads: 8 threads sign with one key while
# the token loses one session, or one key handle, at a time.  The thread
# that meets the fault resets the token (new sessions, a new session copy of
# the key) and retries; the reset destroys the key copy and sessions the
# other threads are signing with at that moment, and the module may report
# that with any code (SoftHSM: CKR_KEY_FUNCTION_NOT_PERMITTED or
# CKR_GENERAL_ERROR).  None of their signatures may fail for it: each fault
# here is recoverable and the layer retries once, so no signature fails.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-reset
threads=8
rounds=${SKS_TEST_FAULT_ROUNDS:-6}

driver_start reset-t$threads -t "$threads"
injected=0
round=0
while [ "$round" -lt "$rounds" ]; do
    for fault in "C_SignInit CKR_OBJECT_HANDLE_INVALID" "C_SignInit CKR_SESSION_HANDLE_INVALID" \
        "C_Sign CKR_SESSION_CLOSED"; do
        before=$(stat_value stats "total fail")
        fault_control "fail $fault nth=5"
        wait_until 10 "p11fault has injected $fault" stat_above stats "total fail" "$before"
        injected=$((injected + 1))
    done
    round=$((round + 1))
done
signs=$(stat_value stats "calls C_Sign")
wait_until 10 "signing goes on" stat_above stats "calls C_Sign" $((signs + 100))
fault_control
driver_stop

failed=$(summary_field failed)
figure "threads=$threads faults_injected=$injected failed_signatures=$failed" \
    "signatures=$(summary_field attempts) max_latency_us=$(summary_field max_latency_us)"
if [ "$failed" -ne 0 ]; then
    grep '^FAIL ' "$driver_name.out" | sed 's/.*failed: //' | sort | uniq -c >&2
    fail "$failed signatures failed for $injected recoverable faults (none may)"
fi
pass "$threads threads, $injected faults and resets: every signature made and verified"
