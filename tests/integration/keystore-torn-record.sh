#!/bin/sh
# A torn record slot (SoftHSM rewrites an object file in place: truncate,
# then write) makes the last completed import read as "writing", from the
# older slot.  Its key and certificate are complete and agree, so sweep
# must restore the version (active, or standby next to an active one), not
# destroy a version that was reported imported.
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup

x5u=https://cert.example.org/torn.pem
sed 's/^grace_period = .*/&\nsweep_after = 0/' ks.conf > sweep.conf

# state IDENTITY VERSION: the version's state as a fresh sksctl list reads it.
state() {
    ks list --json | jq -r --arg n "$1" --argjson v "$2" \
        '.identities[] | select(.name == $n) | .versions[] | select(.version == $v) | .state'
}

# tear IDENTITY VERSION: truncates the object file of the record slot that
# completed VERSION.  The record is a private object, which SoftHSM keeps
# encrypted, so each object file, newest first, is truncated in turn and
# put back unless VERSION then reads as writing.
tear() {
    for torn_file in $(ls -t "$sks_work"/token/tokens/*/*-*.object); do
        cp "$torn_file" "$sks_work/torn.copy"
        truncate -s 100 "$torn_file"
        [ "$(state "$1" "$2")" = writing ] && return 0
        cp "$sks_work/torn.copy" "$torn_file"
    done
    fail "no object file whose truncation leaves $1 version $2 writing"
}

# import_torn_sweep VERSION STATE: imports VERSION (reported STATE), tears
# the record slot that completed it, then sweeps: VERSION must read as
# writing after the tear and as STATE again after the sweep.
import_torn_sweep() {
    run_ok "import-$1" ks import sp-torn --key pki/sp-1234.key --cert pki/sp-1234.pem \
        --chain pki/chain.pem --x5u "$x5u"
    assert_grep "import-$1" "sp-torn/$1 $2" "$sks_work/import-$1.out"
    tear sp-torn "$1"
    run_ok "sweep-$1" "$SKSCTL" sweep -c "$sks_work/sweep.conf"
    assert_grep "sweep-$1" "restored sp-torn version $1 as $2" "$sks_work/sweep-$1.out"
    [ "$(state sp-torn "$1")" = "$2" ] || fail "sweep did not restore version $1 as $2"
}

import_torn_sweep 1 active
ks_signs torn-1 sp-torn pki/sp-1234-fullchain.pem
pass "sweep_restores_a_complete_version_whose_record_was_torn_as_active"

import_torn_sweep 2 standby
[ "$(state sp-torn 1)" = active ] || fail "version 1 is no longer active after the sweep"
ks_signs torn-2 "$(ks_uri sp-torn 2)" pki/sp-1234-fullchain.pem "$x5u"
pass "sweep_restores_a_complete_version_next_to_the_active_one_as_standby"

# An unfinished write without its certificate still goes.
run_ok generate ks generate sp-torn --spc 1234 --csr torn.csr
sed 's/^pending_max_age = .*//; s/^grace_period = .*/&\npending_max_age = 0/' sweep.conf > sweep0.conf
run_ok sweep-3 "$SKSCTL" sweep -c "$sks_work/sweep0.conf"
[ -z "$(state sp-torn 3)" ] || fail "sweep kept pending version 3, which has no certificate"
pass "sweep_still_removes_a_version_without_its_certificate"
