#!/bin/sh
# recovery_leaks_nothing: fault_sign runs under valgrind's memcheck with 2
# threads while p11fault makes the token lose a session, a key handle and
# the login (each fault sends the PKCS#11 layer through reset, login, key
# lookup and a new session copy).  Any memory error, and any definite leak
# not listed in tests/p11fault/valgrind.supp, fails the test; so does a
# signature that does not verify.  Skipped when valgrind is not installed.
. "$top_srcdir/tests/integration/fault-common.sh"

command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed"
case ${LD_PRELOAD:-} in
*asan*) skip "this is a sanitizer build: valgrind cannot run AddressSanitizer code" ;;
esac
fault_setup sks-fault-valgrind

faults=3
fault_control "fail C_Sign CKR_SESSION_HANDLE_INVALID nth=3" \
    "fail C_SignInit CKR_OBJECT_HANDLE_INVALID nth=7" \
    "fail C_SignInit CKR_USER_NOT_LOGGED_IN nth=11"
FAULT_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --keep-debuginfo=yes --num-callers=30 --suppressions=$top_srcdir/tests/p11fault/valgrind.supp"
started=$(now_us)
driver_start valgrind -t 2 -n 6
driver_wait
elapsed_ms=$((($(now_us) - started) / 1000))

injected=$(stat_value stats "total fail")
failed=$(summary_field failed)
figure "threads=2 signatures=$(summary_field attempts) faults_injected=$injected" \
    "failed_signatures=$failed valgrind_errors=0 run_ms=$elapsed_ms"
[ "$injected" -eq "$faults" ] || fail "p11fault injected $injected faults, not $faults"
# Two faults may meet one signature (its retry); never more failures than faults.
[ "$failed" -le "$injected" ] || fail "$failed signatures failed for $injected faults"
assert_grep valgrind "ERROR SUMMARY: 0 errors" "$driver_name.out"
pass "under memcheck: $injected faults, $failed failed signatures, no memory error, no leak"
