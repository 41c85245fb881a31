#!/bin/sh
# The test STI-PA and STI-CA (tests/acme/sti-fixture.py) refuse what a real
# one must: a JWS that does not verify, a replayed nonce, a url header for
# another resource, an SPC token for another SPC or another account key, a
# CSR naming another SPC, and an STI-PA request without the account's key
# or for an SPC the account does not own.  What it issues passes sksctl
# cert-check against the STI-PA root: the ACME tests may trust it.
. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

sks_mkwork
sti_fixture_start 1234,5678
w=$sks_work
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/acct.key"
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/other.key"

# probe_json NAME KEY ARGS...: the probe's JSON line in $w/NAME.json.
probe_json() {
    pj_name=$1
    shift
    sti_probe "$@" > "$w/$pj_name.json" 2> "$w/$pj_name.err" || {
        cat "$w/$pj_name.err" >&2
        fail "$pj_name: acme-probe.py $* failed"
    }
}

# field NAME FILTER: jq's raw output of FILTER on $w/NAME.json.
field() { jq -r "$2" "$w/$1.json"; }

# ---- unauthenticated parts, with curl ----------------------------------------

run_ok directory sti_curl "$sti_base/acme/directory"
assert_grep directory '"newNonce"' "$w/directory.out"
run_ok nonce sti_curl -I "$sti_base/acme/new-nonce"
assert_grep nonce 'Replay-Nonce:' "$w/nonce.out"
pass "the STI-CA serves its directory and fresh nonces"

run_ok unsigned sti_curl -H 'Content-Type: application/json' \
    -d '{"termsOfServiceAgreed":true}' "$sti_base/acme/new-account"
assert_grep unsigned 'application/jose+json' "$w/unsigned.out"
pass "a request that is not a JWS is refused"

# ---- the STI-PA's token API --------------------------------------------------

run_ok stipa-nokey sti_curl -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer wrong' -d '{}' "$sti_base/stipa/account/sp-test/token"
assert_grep stipa-nokey 'wrong API key' "$w/stipa-nokey.out"
pass "the STI-PA refuses a token request without the account's API key"

probe_json tok-1234 "$w/acct.key" token 1234 sp-test "$sti_api_key_file"
[ "$(field tok-1234 .status)" = success ] || fail "the STI-PA did not issue a token for 1234"
field tok-1234 .token > "$w/tok-1234"
probe_json tok-5678 "$w/acct.key" token 5678 sp-test "$sti_api_key_file"
field tok-5678 .token > "$w/tok-5678"
probe_json tok-otherfp "$w/acct.key" token 1234 sp-test "$sti_api_key_file" "$w/other.key"
field tok-otherfp .token > "$w/tok-otherfp"
probe_json tok-9999 "$w/acct.key" token 9999 sp-test "$sti_api_key_file"
[ "$(field tok-9999 .http)" = 403 ] || fail "the STI-PA issued a token for an SPC not owned"
assert_grep tok-9999 'does not own SPC 9999' "$w/tok-9999.json"
pass "the STI-PA issues tokens for the account's SPCs only"

# The token as the STI-PA signs it (ATIS-1000080): ES256, x5u to its certificate.
cut -d. -f1 "$w/tok-1234" | tr '_-' '/+' | sed 's/$/==/' | base64 -d 2>/dev/null > "$w/hdr.json" || true
[ "$(jq -r .alg "$w/hdr.json")" = ES256 ] || fail "the token's alg is not ES256"
x5u=$(jq -r .x5u "$w/hdr.json")
run_ok x5u sti_curl -o "$w/stipa.pem" "$x5u"
run_ok stipa-chain sw_openssl verify -CAfile "$sti_pki/root.pem" "$w/stipa.pem"
pass "the token names the STI-PA's certificate, issued by the STI-PA root"

# ---- the STI-CA refuses ------------------------------------------------------

probe_json badsig "$w/acct.key" bad-signature
[ "$(field badsig .type)" = urn:ietf:params:acme:error:unauthorized ] ||
    fail "a JWS that does not verify was not refused: $(cat "$w/badsig.json")"
pass "the STI-CA refuses a JWS whose signature does not verify"

probe_json replay "$w/acct.key" replayed-nonce
[ "$(field replay .type)" = urn:ietf:params:acme:error:badNonce ] ||
    fail "a replayed nonce was not refused: $(cat "$w/replay.json")"
pass "the STI-CA refuses a nonce used before (badNonce)"

probe_json wrongurl "$w/acct.key" wrong-url
[ "$(field wrongurl .http)" = 401 ] || fail "a url header for another resource was taken"
pass "the STI-CA refuses a url header that is not the request's"

probe_json spc "$w/acct.key" issue 1234 "$w/tok-5678" 1234 "$w/unused.pem"
[ "$(field spc .status)" = invalid ] && [ "$(field spc .step)" = challenge ] ||
    fail "a token for another SPC was taken: $(cat "$w/spc.json")"
assert_grep spc 'tkvalue' "$w/spc.json"
pass "the STI-CA refuses a token for another SPC than the order's"

probe_json fp "$w/acct.key" issue 1234 "$w/tok-otherfp" 1234 "$w/unused.pem"
[ "$(field fp .status)" = invalid ] || fail "a token for another key was taken"
assert_grep fp 'fingerprint' "$w/fp.json"
pass "the STI-CA refuses a token bound to another account key"

sti_mode stipa-expired
probe_json tok-exp "$w/acct.key" token 1234 sp-test "$sti_api_key_file"
field tok-exp .token > "$w/tok-exp"
sti_mode
probe_json exp "$w/acct.key" issue 1234 "$w/tok-exp" 1234 "$w/unused.pem"
[ "$(field exp .status)" = invalid ] || fail "an expired token was taken"
assert_grep exp 'expired' "$w/exp.json"
pass "the STI-CA refuses an expired token"

probe_json csr "$w/acct.key" issue 1234 "$w/tok-1234" 5678 "$w/unused.pem"
[ "$(field csr .step)" = finalize ] && [ "$(field csr .type)" = urn:ietf:params:acme:error:badCSR ] ||
    fail "a CSR for another SPC was taken: $(cat "$w/csr.json")"
pass "the STI-CA refuses a CSR whose TNAuthList is not the order's"

# ---- and issues what it should ------------------------------------------------

probe_json good "$w/acct.key" issue 1234 "$w/tok-1234" 1234 "$w/chain.pem"
[ "$(field good .content_type)" = application/pem-certificate-chain ] ||
    fail "the chain did not come as application/pem-certificate-chain: $(cat "$w/good.json")"
awk '/BEGIN/{n++} n==1' "$w/chain.pem" > "$w/ee.pem"
awk '/BEGIN/{n++} n==2' "$w/chain.pem" > "$w/ca.pem"
run_ok cert-check "$SKSCTL" cert-check --cert "$w/ee.pem" --chain "$w/ca.pem" \
    --trust "$sti_pki/root.pem"
assert_grep cert-check 'spc: 1234' "$w/cert-check.out"
pass "the issued chain passes the SHAKEN profile check against the STI-PA root"
