#!/bin/sh
# A diverted call with sksctl (RFC 8946, ATIS-1000085): the originating
# provider (SPC 1234) signs the shaken PASSporT, the diverting provider
# (SPC 5678, its own certificate) a div PASSporT per diversion; sksctl
# verify --fetch takes the values as arguments or one per line on stdin,
# fetches each x5u from a real TLS server on loopback and holds the values
# to one chain.  Each broken rule gets its SIP response and reason.
. "$top_srcdir/tests/integration/common.sh"

sksctl_fetch_work
run_ok pki "$SKSCTL" pki --out pki --spc 1234,5678 --days 30 --crl-url "$base/crl.pem"
cp pki/sp-1234-fullchain.pem www/orig.pem
cp pki/sp-5678-fullchain.pem www/div.pem
cp pki/crl.pem www/crl.pem

# shaken NAME: the call 12155550121 -> 12155550131 as its originating provider signs it.
shaken() {
    "$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 --dest 12155550131 --attest A \
        --x5u "$base/orig.pem" > "$1" || fail "sksctl sign for $1"
}
# div NAME ORIG FROM TO [KEY SPC]: a div PASSporT, by default the diverting provider's.
div() {
    "$SKSCTL" sign --key "pki/sp-${5:-5678}.key" --orig "$2" --div "$3" --dest "$4" \
        --x5u "$base/${6:-div}.pem" > "$1" || fail "sksctl sign for $1"
}
# verify NAME FILE...: sksctl verify --fetch with each file's value as an argument.
verify() {
    vf_name=$1
    shift
    vf_args=
    for vf_file in "$@"; do
        vf_args="$vf_args $(cat "$vf_file")"
    done
    # shellcheck disable=SC2086
    "$SKSCTL" verify --fetch --trust pki/root.pem --fetch-ca "$https_ca" --fetch-private \
        $vf_args > "$vf_name.out" 2>&1
}
# refused NAME STATUS TEXT FILE...: verify exits STATUS and prints TEXT.
refused() {
    rf_name=$1
    rf_status=$2
    rf_text=$3
    shift 3
    rf_got=0
    verify "$rf_name" "$@" || rf_got=$?
    [ "$rf_got" = "$rf_status" ] || { cat "$rf_name.out"; fail "$rf_name: exit $rf_got, not $rf_status"; }
    assert_grep "$rf_name" "$rf_text" "$rf_name.out"
    if grep -q '^verified:' "$rf_name.out"; then
        cat "$rf_name.out"
        fail "$rf_name: verified"
    fi
}

shaken orig
div div1 12155550121 12155550131 12155550141
div div2 12155550121 12155550141 12155550151

run_ok chain-args "$SKSCTL" verify --fetch --trust pki/root.pem --fetch-ca "$https_ca" \
    --fetch-private "$(cat div1)" "$(cat orig)"
assert_grep chain-args "verified: 200 OK" chain-args.out
assert_grep chain-args "attest: A" chain-args.out
assert_grep chain-args "certificate: SPC 1234" chain-args.out
assert_grep chain-args "diversion 1: from 12155550131 to 12155550141, certificate SPC 5678" \
    chain-args.out
pass "a shaken PASSporT and its div PASSporT, signed by another SPC, verify as one call"

cat div2 orig div1 > twice.lines
run_ok chain-stdin "$SKSCTL" verify --fetch --trust pki/root.pem --fetch-ca "$https_ca" \
    --fetch-private < twice.lines
assert_grep chain-stdin "diversion 1: from 12155550131 to 12155550141" chain-stdin.out
assert_grep chain-stdin "diversion 2: from 12155550141 to 12155550151" chain-stdin.out
pass "a call diverted twice verifies from stdin, one value per line, in any order"

div broken 12155550121 12155550139 12155550141
refused broken-link 7 "438 Invalid Identity Header: Identity value 2 (ppt=div): it diverts the call from 12155550139" \
    orig broken
refused leg-skipped 7 "Identity value 2 (ppt=div): it diverts the call from 12155550141" \
    orig div2
pass "a div PASSporT that diverts from where the call never went is 438"

div other-orig 12155550999 12155550131 12155550141
refused wrong-orig 7 "orig 12155550999 is not the shaken PASSporT's orig 12155550121" \
    orig other-orig
pass "a div PASSporT of another caller is 438"

refused div-alone 2 "428 Use Identity Header: Identity value 1 (ppt=div): no shaken PASSporT" \
    div1 div2
pass "div PASSporTs without their shaken PASSporT are 428: nothing asserts the caller"

refused two-shaken 7 "value 1 is the call's shaken PASSporT already" orig orig
refused too-many 7 "9 Identity values: at most 8" orig div1 div1 div1 div1 div1 div1 div1 div1
pass "two shaken PASSporTs, and more than 8 values, are 438"

# The diverting provider's signature with a key its x5u's certificate is not for.
div forged 12155550121 12155550131 12155550141 1234 div
refused forged-div 8 "Identity value 2 (ppt=div): the PASSporT signature does not verify" \
    orig forged
pass "a div PASSporT its x5u's certificate did not sign is 438"

# One value alone is judged as it always was: a div PASSporT is a PASSporT.
run_ok div-one "$SKSCTL" verify --fetch --trust pki/root.pem --fetch-ca "$https_ca" \
    --fetch-private < div1
assert_grep div-one "ppt: div" div-one.out
pass "one div PASSporT alone still verifies as the PASSporT it is"

# The call's Rich Call Data in a ppt=rcd PASSporT of its own (RFC 9795), beside the others.
"$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 --dest 12155550131 --ppt rcd \
    --nam "Example Bank" --x5u "$base/orig.pem" > rcd || fail "sksctl sign --ppt rcd"
run_ok with-rcd "$SKSCTL" verify --fetch --trust pki/root.pem --fetch-ca "$https_ca" \
    --fetch-private "$(cat rcd)" "$(cat orig)" "$(cat div1)"
assert_grep with-rcd "ppt: shaken" with-rcd.out
assert_grep with-rcd '"nam":"Example Bank"' with-rcd.out
assert_grep with-rcd "diversion 1: from 12155550131 to 12155550141" with-rcd.out
"$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 --dest 12155550199 --ppt rcd \
    --nam "Example Bank" --x5u "$base/orig.pem" > rcd-other || fail "sksctl sign --ppt rcd"
refused rcd-other-call 7 "Identity value 2 (ppt=rcd): the shaken PASSporT's dest 12155550131" \
    orig rcd-other
pass "a ppt=rcd PASSporT of the call verifies with it, one of another call is 438"
