#!/bin/sh
# Key rotation: a new version waits as standby while the current one signs;
# activate switches in one step; the replaced version stays usable for the
# grace period and retire destroys it after; destroy refuses to leave an
# identity without its only active version.  retire applies the grace period
# of the configuration it runs with: a day while the test checks that the
# previous version is kept, 1 s (and 2 s of waiting) when it must go, so
# that no step depends on how fast the machine runs the ones before it.
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup

x5u=https://cert.example.org
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out v2.key
run_ok mkcert-v2 "$MKCERT" --ca pki --key v2.key --spc 1234 --out v2.pem
cat v2.pem pki/ca.pem > v2-fullchain.pem

run_ok import-v1 ks import sp-main --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/v1.pem"
run_ok import-v2 ks import sp-main --key v2.key --cert v2.pem --chain pki/chain.pem \
    --x5u "$x5u/v2.pem"
assert_grep import-v2 "sp-main/2 standby" "$sks_work/import-v2.out"
ks_signs before sp-main pki/sp-1234-fullchain.pem
assert_grep before-verify "x5u: $x5u/v1.pem" "$sks_work/before-verify.out"
run_fails before-v2 "438 Invalid Identity Header" "$SKSCTL" verify --cert v2-fullchain.pem \
    --trust pki/root.pem < before-sign.out
pass "import_of_a_new_version_leaves_the_current_one_active"

v1_uri=$(ks_uri sp-main 1)
run_ok activate ks activate sp-main 2
assert_grep activate "sp-main/2 active" "$sks_work/activate.out"
ks_signs after sp-main v2-fullchain.pem
assert_grep after-verify "x5u: $x5u/v2.pem" "$sks_work/after-verify.out"
run_ok list-after ks list sp-main
assert_grep list-after "previous" "$sks_work/list-after.out"
assert_grep list-after "usable until" "$sks_work/list-after.out"
pass "activate_switches_the_signing_version_and_x5u"

ks_signs v1-usable "$v1_uri" pki/sp-1234-fullchain.pem "$x5u/v1.pem"
pass "previous_version_stays_usable_during_the_grace_period"

run_ok retire-early ks retire
assert_grep retire-early "nothing to retire" "$sks_work/retire-early.out"
run_ok list-early ks list sp-main
assert_grep list-early "previous" "$sks_work/list-early.out"
pass "retire_keeps_a_previous_version_within_its_grace_period"

sed 's/^grace_period = .*/grace_period = 1/' "$sks_work/ks.conf" > "$sks_work/ks-grace1.conf"
sleep 2
run_ok retire "$SKSCTL" retire -c "$sks_work/ks-grace1.conf" sp-main
assert_grep retire "retired sp-main/1" "$sks_work/retire.out"
run_ok list-retired ks list sp-main --json
if grep -q '"version": 1,' "$sks_work/list-retired.out"; then
    fail "sp-main/1 is still listed after retire"
fi
token_listing retired.objs
if grep -q "label:      sp-main/1" retired.objs; then
    fail "objects of sp-main/1 are still on the token after retire"
fi
run_fails sign-retired "" env OPENSSL_CONF="$sks_work/openssl.cnf" "$SKSCTL" sign \
    --key "$v1_uri" --orig 1 --dest 2 --attest A --x5u "$x5u/v1.pem"
pass "retire_destroys_a_previous_version_after_its_grace_period"

ks_refused destroy-only "is active and the identity's only version" destroy sp-main 2 --yes
pass "destroy_refuses_the_only_active_version"
run_fails destroy-no-yes "add --yes" ks destroy sp-main 2
run_ok import-v3 ks import sp-main --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/v3.pem"
run_ok destroy-v3 ks destroy sp-main 3 --yes
assert_grep destroy-v3 "destroyed sp-main/3" "$sks_work/destroy-v3.out"
token_listing destroyed.objs
if grep -q "label:      sp-main/3" destroyed.objs; then
    fail "objects of sp-main/3 are still on the token after destroy"
fi
ks_signs after-destroy sp-main v2-fullchain.pem
pass "destroy_removes_a_standby_version_and_leaves_the_active_one_signing"

run_ok import-v4 ks import sp-main --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$x5u/v4.pem"
run_ok activate-v4 ks activate sp-main 4
run_ok rollback ks activate sp-main 2
ks_signs rollback sp-main v2-fullchain.pem
pass "a_previous_version_can_be_activated_again"

ks_refused activate-missing "has no version 9" activate sp-main 9
ks_refused activate-missing-identity "no identity sp-none" activate sp-none 1
pass "activate_names_missing_versions_and_identities"
