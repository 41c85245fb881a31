#!/bin/sh
# wrong_pin_is_tried_once: the token logs the application out and then
# refuses its PIN (p11fault: one CKR_USER_NOT_LOGGED_IN on C_SignInit, then
# CKR_PIN_INCORRECT from every C_Login).  The first signature fails with an
# error that names CKR_PIN_INCORRECT; later ones fail too, but C_Login is
# never called again: retrying a wrong PIN would lock the token.
. "$top_srcdir/tests/integration/fault-common.sh"

fault_setup sks-fault-pin
attempts=5

driver_start wrong-pin -n "$attempts" -g "$sks_work/wrong-pin.go"
fault_control "fail C_SignInit CKR_USER_NOT_LOGGED_IN nth=1" "fail C_Login CKR_PIN_INCORRECT every"
driver_go
driver_wait

failed=$(summary_field failed)
logins=$(stat_field stats rule 2 calls)
figure "attempts=$attempts failed_signatures=$failed c_login_calls_after_pin_refused=$logins"
[ "$failed" -eq "$attempts" ] || fail "$failed of $attempts signatures failed with a refused PIN"
grep '^FAIL ' wrong-pin.out | head -n 1 | grep -q CKR_PIN_INCORRECT || {
    cat wrong-pin.out >&2
    fail "the first failed signature does not name CKR_PIN_INCORRECT"
}
pass "the first signature fails naming CKR_PIN_INCORRECT"
[ "$logins" -eq 1 ] || fail "C_Login was called $logins times after the PIN was refused (once only)"
pass "$attempts signatures failed, C_Login was tried once"
