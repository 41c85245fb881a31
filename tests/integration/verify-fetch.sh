#!/bin/sh
# sksctl verify --fetch: the certificates come from the PASSporT's x5u over
# HTTPS, from a real TLS server on loopback (https-server.py) that serves
# the test PKI's chain and answers some paths as a hostile server would.
# Each refusal is 436 Bad Identity Info with the reason, and nothing is
# verified with what a refused fetch brought.
. "$top_srcdir/tests/integration/common.sh"

sksctl_fetch_work
run_ok pki "$SKSCTL" pki --out pki --spc 1234 --days 30 --crl-url "$base/crl.pem"
cp pki/sp-1234-fullchain.pem www/chain.pem
cp pki/crl.pem www/crl.pem
cp pki/root.pem www/root-only.pem
printf 'this is not a certificate\n' > www/junk.pem

# passport PATH: a PASSporT signed with the test SP key whose x5u is $base/PATH.
passport() {
    "$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 --dest 12155550131 --attest A \
        --x5u "$base/$1" > "pp-$(echo "$1" | tr '/' '_')" || fail "sksctl sign for x5u $base/$1"
    echo "pp-$(echo "$1" | tr '/' '_')"
}
# fetch_verify NAME PASSPORT-FILE [options]: sksctl verify --fetch, trusting the test roots.
fetch_verify() {
    fv_name=$1
    fv_file=$2
    shift 2
    if "$SKSCTL" verify --fetch --trust pki/root.pem "$@" < "$fv_file" > "$fv_name.out" 2>&1; then
        echo 0
    else
        echo $?
    fi
}
# refused NAME STATUS TEXT PASSPORT-FILE [options]: exits STATUS, 436 and TEXT.
refused() {
    rf_name=$1
    rf_status=$2
    rf_text=$3
    shift 3
    rf_got=$(fetch_verify "$rf_name" "$@")
    [ "$rf_got" = "$rf_status" ] || { cat "$rf_name.out"; fail "$rf_name: exit $rf_got, not $rf_status"; }
    assert_grep "$rf_name" "436 Bad Identity Info" "$rf_name.out"
    assert_grep "$rf_name" "$rf_text" "$rf_name.out"
    if grep -q '^verified:' "$rf_name.out"; then
        cat "$rf_name.out"; fail "$rf_name: verified after a refused fetch"
    fi
    pass "fetch_refuses_$rf_name"
}

good=$(passport chain.pem)
got=$(fetch_verify good "$good" --fetch-ca "$https_ca" --fetch-private)
[ "$got" = 0 ] || { cat good.out; fail "verify --fetch of a good chain: exit $got"; }
assert_grep good "certificate: SPC 1234, SHAKEN profile and chain to the trust roots checked" good.out
assert_grep good "x5u: $base/chain.pem" good.out
pass "verify_fetch_checks_the_chain_its_x5u_serves"

redirected=$(passport redirect-ok)
got=$(fetch_verify redirected "$redirected" --fetch-ca "$https_ca" --fetch-private)
[ "$got" = 0 ] || { cat redirected.out; fail "verify --fetch through an https redirect: exit $got"; }
pass "verify_fetch_follows_an_https_redirect"

refused loopback 7 "127.0.0.1 is a loopback address" "$good" \
    --fetch-ca "$https_ca"
refused untrusted-tls 8 "TLS with the server failed" "$good" --fetch-private
refused redirect-to-http 7 "redirected to a URL that is not https" "$(passport redirect-http)" \
    --fetch-ca "$https_ca" --fetch-private
refused redirect-loop 7 "more than 3 redirects" "$(passport redirect-loop)" \
    --fetch-ca "$https_ca" --fetch-private
refused too-large 2 "the body is larger than the 65536 bytes allowed" "$(passport big)" \
    --fetch-ca "$https_ca" --fetch-private
refused declared-too-large 2 "the body is larger than the 65536 bytes allowed" \
    "$(passport big-declared)" --fetch-ca "$https_ca" --fetch-private
refused not-found 3 "HTTP status 404, not 200" "$(passport missing.pem)" \
    --fetch-ca "$https_ca" --fetch-private
refused not-a-certificate 2 "x5u: the body of $base/junk.pem holds no PEM or DER certificate" "$(passport junk.pem)" \
    --fetch-ca "$https_ca" --fetch-private
refused stall 5 "no complete answer in time" "$(passport stall)" --fetch-ca "$https_ca" --fetch-private

# A PASSporT that fails a check needing no key costs no fetch: the server
# never hears of the x5u of a stale one.
got=$(fetch_verify stale "$(passport never-asked.pem)" --fetch-ca "$https_ca" --fetch-private \
    --now $(($(date +%s) + 3600)))
[ "$got" = 7 ] || { cat stale.out; fail "a stale PASSporT: exit $got"; }
assert_grep stale "403 Stale Date" stale.out
if grep -q never-asked "$sks_work/https-server.log"; then
    fail "the x5u of a stale PASSporT was fetched"
fi
pass "fetch_is_not_asked_for_a_passport_that_is_already_refused"

# The chain a server hands over is held to the roots like any other.
got=$(fetch_verify wrong-chain "$(passport root-only.pem)" --fetch-ca "$https_ca" --fetch-private)
[ "$got" = 7 ] || { cat wrong-chain.out; fail "a root in place of the SP certificate: exit $got"; }
assert_grep wrong-chain "437 Unsupported Credential" wrong-chain.out
pass "fetch_hands_a_wrong_chain_to_the_profile_and_root_checks"

# The signer's certificate is held to the CRL it names: once the STI-CA's CRL
# lists it, it is 437; --no-crl leaves the CRL out.
run_ok pki-revoked "$SKSCTL" pki --out pki-r --spc 1234 --days 30 --crl-url "$base/crl-r.pem"
cp pki-r/sp-1234-fullchain.pem www/chain-r.pem
revoke pki-r/sp-1234.pem "$PWD/pki-r" www/crl-r.pem
"$SKSCTL" sign --key pki-r/sp-1234.key --orig 12155550121 --dest 12155550131 --attest A \
    --x5u "$base/chain-r.pem" > pp-revoked || fail "sksctl sign"
got=$("$SKSCTL" verify --fetch --trust pki-r/root.pem --fetch-ca "$https_ca" --fetch-private \
    < pp-revoked > revoked.out 2>&1 && echo 0 || echo $?)
[ "$got" = 7 ] || { cat revoked.out; fail "a revoked certificate: exit $got"; }
assert_grep revoked "437 Unsupported Credential" revoked.out
assert_grep revoked "is revoked: its issuer's CRL lists it" revoked.out
run_ok no-crl "$SKSCTL" verify --fetch --no-crl --trust pki-r/root.pem --fetch-ca "$https_ca" \
    --fetch-private "$(cat pp-revoked)"
pass "verify_fetch_holds_the_certificate_to_its_crl"

# The STI-CA is held to the STI-PA's CRL (ATIS-1000080), which its CRL
# distribution point names.
run_ok pki-pa "$SKSCTL" pki --out pki-pa --spc 1234 --days 60 --crl-url "$base/crl-pa-sp.pem" \
    --ca-crl-url "$base/crl-pa.pem"
cp pki-pa/sp-1234-fullchain.pem www/chain-pa.pem
cp pki-pa/crl.pem www/crl-pa-sp.pem
cp pki-pa/root-crl.pem www/crl-pa.pem
"$SKSCTL" sign --key pki-pa/sp-1234.key --orig 12155550121 --dest 12155550131 --attest A \
    --x5u "$base/chain-pa.pem" > pp-pa || fail "sksctl sign"
# pa_verify NAME STATUS TEXT [options]: sksctl verify --fetch of pp-pa exits
# STATUS, and TEXT is in what it says.
pa_verify() {
    pv_name=$1
    pv_status=$2
    pv_text=$3
    shift 3
    pv_got=$("$SKSCTL" verify --fetch --trust pki-pa/root.pem --fetch-ca "$https_ca" --fetch-private \
        "$@" < "${pv_pp:-pp-pa}" > "$pv_name.out" 2>&1 && echo 0 || echo $?)
    [ "$pv_got" = "$pv_status" ] || { cat "$pv_name.out"; fail "$pv_name: exit $pv_got, not $pv_status"; }
    assert_grep "$pv_name" "$pv_text" "$pv_name.out"
}
pa_verify pa-good 0 "SHAKEN profile and chain to the trust roots checked"
pass "verify_fetch_holds_the_sti_ca_to_the_sti_pa_crl"

sti_ca="the CRL of the intermediate (STI-CA) certificate /C=US/O=SKS Test STI-CA/CN=SKS Test STI-CA"
printf 'not a CRL\n' > www/crl-pa.pem
pa_verify pa-malformed 2 "$sti_ca: the body of $base/crl-pa.pem is not a PEM or DER CRL"
assert_grep pa-malformed "436 Bad Identity Info" pa-malformed.out
head -c 1100000 /dev/zero > www/crl-pa.pem
pa_verify pa-oversized 2 "$sti_ca: $base/crl-pa.pem: the body is larger than the 1048576 bytes allowed"
assert_grep pa-oversized "436 Bad Identity Info" pa-oversized.out
cp pki-pa/crl.pem www/crl-pa.pem
pa_verify pa-other-issuer 2 "the CRL at $base/crl-pa.pem is issued by /C=US/O=SKS Test STI-CA/CN=SKS Test STI-CA, not by /C=US/O=SKS Test STI-PA/CN=SKS Test STI-PA Root"
assert_grep pa-other-issuer "436 Bad Identity Info" pa-other-issuer.out
rm www/crl-pa.pem
pa_verify pa-missing 3 "$sti_ca: $base/crl-pa.pem: HTTP status 404"
pass "verify_fetch_names_what_is_wrong_with_the_sti_pa_crl"

# Once the STI-PA's CRL lists the STI-CA, its chain is 437, naming the
# STI-CA; 35 days on, that 30-day CRL has expired.
revoke pki-pa/ca.pem "$PWD/pki-pa" www/crl-pa.pem root
pa_verify pa-revoked 7 "is revoked: its issuer's CRL lists the intermediate (STI-CA) certificate at depth 1, /C=US/O=SKS Test STI-CA/CN=SKS Test STI-CA"
assert_grep pa-revoked "437 Unsupported Credential" pa-revoked.out
pa_verify pa-no-crl 0 "SHAKEN profile and chain to the trust roots checked" --no-crl
later=$(($(date +%s) + 35 * 86400))
"$SKSCTL" sign --key pki-pa/sp-1234.key --orig 12155550121 --dest 12155550131 --attest A \
    --iat "$later" --x5u "$base/chain-pa.pem" > pp-pa-later || fail "sksctl sign --iat"
pv_pp=pp-pa-later
pa_verify pa-expired 2 "the CRL at $base/crl-pa.pem has expired: its nextUpdate is" --now "$later"
pv_pp=
assert_grep pa-expired "436 Bad Identity Info" pa-expired.out
pass "verify_fetch_refuses_a_chain_whose_sti_ca_is_revoked"

run_fails no-trust "--fetch needs --trust" "$SKSCTL" verify --fetch < "$good"
run_fails fetch-and-cert "give one of --cert, --pubkey and --fetch" "$SKSCTL" verify --fetch \
    --cert pki/sp-1234.pem --trust pki/root.pem < "$good"
run_fails ca-without-fetch "--fetch-ca, --fetch-private and --no-crl need --fetch" "$SKSCTL" verify \
    --cert pki/sp-1234.pem --fetch-ca "$https_ca" < "$good"
pass "verify_fetch_options_are_checked"
