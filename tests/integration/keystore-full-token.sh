#!/bin/sh
# A token whose storage fills up: SoftHSM 2.6.1 reports CKR_OK for writes
# its full file system refused and serves them from memory, so without a
# check the import of a key that never reached the disk "succeeded".  With
# the token directory on a small tmpfs, imports run until the token is full:
# each one either succeeds, and a fresh sksctl lists the version complete
# and signs with it, or fails saying that the token did not store it.
# Needs a tmpfs mount: as root, or in a user and mount namespace (unshare).
if [ "$(id -u)" -ne 0 ] && [ -z "${SKS_FULL_TOKEN_NS:-}" ]; then
    if command -v unshare >/dev/null 2>&1 && unshare -rm true 2>/dev/null; then
        SKS_FULL_TOKEN_NS=1 exec unshare -rm /bin/sh "$0" "$@"
    fi
    echo "1..0 # SKIP not root and no unshare -rm to mount a small tmpfs"
    exit 0
fi
. "$top_srcdir/tests/integration/keystore-common.sh"

tokens=
full_cleanup() {
    full_rc=$?
    [ -z "$tokens" ] || umount "$tokens" 2>/dev/null || true
    (exit $full_rc)
    sks_cleanup
}

# ks_setup's token, with its token directory on a 320 KiB tmpfs.
make_token() {
    tokens=$sks_work/token/tokens
    mkdir -p "$tokens"
    mount -t tmpfs -o size=320k,mode=0700 tmpfs "$tokens" ||
        skip "cannot mount a tmpfs (mount -t tmpfs) for the token"
    trap full_cleanup EXIT
    SKSCTL=$SKSCTL "$top_srcdir/softhsm-conf/mktoken.sh" "$sks_work/token" "${1:-sks-test}" ||
        fail "mktoken.sh could not create a token"
    . "$sks_work/token/env"
}
ks_setup

x5u=https://cert.example.org/full.pem
# stdout only: the version imported (stderr has the warning crl_check = no gives).
ks import sp-f0 --key pki/sp-1234.key --cert pki/sp-1234.pem --chain pki/chain.pem \
    --x5u "$x5u" > first.out 2> first.err || { cat first.err >&2; fail "the first import failed"; }
cut -d' ' -f1 first.out > done.list

# All but 48 KiB taken by another file: room for a few versions only.
free_kb=$(df -k "$tokens" | awk 'NR == 2 { print $4 }')
# dd aborts under a sanitizer run's preloaded ASan runtime; it is none of our code.
env -u LD_PRELOAD dd if=/dev/zero of="$tokens/filler" bs=1024 count=$((free_kb - 48)) 2>/dev/null ||
    fail "cannot fill the tmpfs"

i=1
refused=0
while [ "$i" -le 40 ] && [ "$refused" -lt 4 ]; do
    name=sp-f$((i % 3))
    if ks import "$name" --key pki/sp-1234.key --cert pki/sp-1234.pem --chain pki/chain.pem \
        --x5u "$x5u" > run.out 2> run.err; then
        cut -d' ' -f1 run.out >> done.list
    else
        grep -q "the token did not store .*; is its storage full?" run.err || {
            cat run.err >&2
            fail "import $i into a full token failed without saying that the token is full"
        }
        refused=$((refused + 1))
    fi
    i=$((i + 1))
done
echo "$((i - 1)) imports into a filling token: $(wc -l < done.list) reported complete," \
    "$refused refused as not stored; last refusal: $(cat run.err)"

# What a fresh process reads: every version reported imported is complete.
check_complete() {
    run_ok "$1" ks list --json
    while read -r d; do
        [ -n "$d" ] || continue
        jq -e --arg n "${d%/*}" --argjson v "${d##*/}" '
            [.identities[] | select(.name == $n) | .versions[] | select(.version == $v)] |
            length == 1 and (.[0].state == "active" or .[0].state == "standby") and
            .[0].uri != "" and .[0].x5u != "" and (.[0].notAfter | type) == "string"' \
            "$sks_work/$1.out" > /dev/null ||
            fail "$1: $d was reported imported but is not listed complete"
    done < "$sks_work/done.list"
}
check_complete list-full
pass "every_version_reported_imported_is_listed_complete_by_a_fresh_sksctl"

[ "$refused" -gt 0 ] || fail "the token never filled up: no import was refused"
[ "$(wc -l < done.list)" -gt 1 ] || fail "no import succeeded before the token was full"
pass "an_import_into_a_full_token_fails_saying_the_token_did_not_store_it"

while read -r nv; do
    uri=$(ks_uri "${nv%/*}" "${nv#*/}")
    [ -n "$uri" ] || fail "no key URI for $nv"
    ks_signs "sign-$(echo "$nv" | tr / -)" "$uri" pki/sp-1234-fullchain.pem "$x5u"
done < done.list
pass "a_fresh_process_signs_with_every_version_reported_imported"

# The next start's sweep, still full, keeps every complete version.
sed 's/^grace_period = .*/&\nsweep_after = 0/' ks.conf > sweep.conf
run_ok sweep "$SKSCTL" sweep -c "$sks_work/sweep.conf"
check_complete list-swept
pass "sweep_on_a_full_token_keeps_every_version_reported_imported"
