#!/bin/sh
# sksctl acme for SHAKEN against the test STI-PA and STI-CA
# (tests/acme/sti-fixture.py) on loopback: an account registered at the
# STI-CA with its key in the token; a certificate issued for a TNAuthList
# order with the SPC token from the STI-PA's token API and from a file,
# whose chain passes the SHAKEN profile check against the STI-PA root and is
# attached to the new version whose key is in the token and in the token
# the STI-CA verified.  Tokens that are expired, for another SPC or for
# another account key are refused by the client before anything is sent,
# naming the claim; every hostile STI-CA mode gives a clear error and leaves
# the token as it was.
. "$top_srcdir/tests/integration/keystore-common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

ks_setup
sti_fixture_start 1234,5678 pki
dir=$sti_base/acme/directory
stipa="--stipa-url $sti_base/stipa --stipa-account sp-test --stipa-credentials $sti_api_key_file"
stipa="$stipa --stipa-ca-file $sti_tls_ca"

# acme SUB ARGS...: sksctl acme SUB with the test's key store, at the test
# STI-CA (under $ACME_WRAPPER, e.g. valgrind, when it is set).
acme() {
    acme_sub=$1
    shift
    ${ACME_WRAPPER:-} "$SKSCTL" acme "$acme_sub" -c "$sks_work/ks.conf" \
        --ca-file "$sti_tls_ca" --allow-private --directory "$dir" "$@"
}
# shaken_refused NAME SUBSTRING ARGS...: acme issue ARGS must fail naming
# SUBSTRING, with the token as it was.
shaken_refused() {
    sr_name=$1
    sr_expect=$2
    shift 2
    sti_token_state "$sks_work/$sr_name.before"
    run_fails "$sr_name" "$sr_expect" acme issue "$@"
    sti_token_state "$sks_work/$sr_name.after"
    assert_same_file "$sr_name: token unchanged" "$sks_work/$sr_name.before" \
        "$sks_work/$sr_name.after"
}
# The number of tkauth-01 answers the STI-CA got.
answers() { grep -c 'POST /acme/chall/' "$sti_log" || true; }

# ---- register --------------------------------------------------------------------------
run_ok register acme register --agree-tos --contact mailto:noc@sp.test
assert_grep register "account $sti_base/acme/acct/" register.out
p11tool_login --read-object --type pubkey --label shaken-sks/acme-account -o acct.der \
    > /dev/null 2>&1 || fail "cannot read the account's public key"
sw_openssl pkey -pubin -inform DER -in acct.der -out acct.pub
pass "register at the STI-CA with the account key in the token"

# ---- issue with the token from the STI-PA's API ------------------------------------------
# shellcheck disable=SC2086
run_ok issue-stipa acme issue sp-a --spc 1234 $stipa --x5u https://sti-cr.test/sp-a.pem \
    --chain-out "$sks_work/chain-a.pem"
assert_grep issue-stipa "sp-a/1 issued and attached" issue-stipa.out
awk '/BEGIN CERT/ { n++ } n == 1' chain-a.pem > leaf-a.pem
awk '/BEGIN CERT/ { n++ } n >= 2' chain-a.pem > rest-a.pem
run_ok cert-check "$SKSCTL" cert-check --cert leaf-a.pem --chain rest-a.pem --trust pki/root.pem
assert_grep cert-check "spc: 1234" cert-check.out
p11tool_login --read-object --type pubkey --label sp-a/1 -o sp-a-1.der > /dev/null 2>&1 ||
    fail "cannot read the public key of sp-a/1"
sw_openssl pkey -pubin -inform DER -in sp-a-1.der -out sp-a-1.pem
sw_openssl x509 -in leaf-a.pem -noout -pubkey -out leaf-a-pub.pem
assert_same_file "the leaf's key is sp-a/1's" sp-a-1.pem leaf-a-pub.pem
ks list sp-a > list-a.out
assert_grep list-a "sp-a" list-a.out
ks_protected sp-a 1
pass "issue with the STI-PA's token: the chain passes the SHAKEN profile and is sp-a/1's"

# The deployed STI-PA writes tkvalue in padded standard base64: the order
# names the TNAuthList as the token does, and the STI-CA takes it.
sti_mode stipa-padded-base64
# shellcheck disable=SC2086
run_ok issue-padded acme issue sp-p --spc 1234 $stipa --x5u https://sti-cr.test/sp-p.pem
sti_mode
grep -q '"value": "MAigBhYEMTIzNA=="' "$sti_state/orders.log" ||
    fail "the order did not name the TNAuthList as the token writes it"
pass "a token whose tkvalue is padded standard base64 is ordered as written"

# ---- issue with the token from a file ------------------------------------------------------
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key
sti_probe other.key token 1234 sp-test "$sti_api_key_file" acct.pub > tok.json 2>/dev/null ||
    fail "the probe could not get a token"
jq -r .token tok.json > tok-1234
run_ok issue-file acme issue sp-a --spc-token "$sks_work/tok-1234" \
    --x5u https://sti-cr.test/sp-a.pem
assert_grep issue-file "sp-a/2 issued and attached" issue-file.out
pass "issue with a token from a file, the SPC the identity's"

# ---- bad tokens: refused before they are sent ------------------------------------------------
sti_probe other.key token 5678 sp-test "$sti_api_key_file" acct.pub | jq -r .token > tok-5678
sti_probe other.key token 1234 sp-test "$sti_api_key_file" other.key | jq -r .token > tok-otherfp
sti_mode stipa-expired
sti_probe other.key token 1234 sp-test "$sti_api_key_file" acct.pub | jq -r .token > tok-exp
sti_mode
before=$(answers)
shaken_refused tok-spc "atc.tkvalue" sp-a --spc-token "$sks_work/tok-5678" \
    --x5u https://sti-cr.test/sp-a.pem
assert_grep tok-spc 'for SPC "5678"' tok-spc.out
shaken_refused tok-fp "atc.fingerprint" sp-a --spc-token "$sks_work/tok-otherfp" \
    --x5u https://sti-cr.test/sp-a.pem
shaken_refused tok-exp "SPC token expired" sp-a --spc-token "$sks_work/tok-exp" \
    --x5u https://sti-cr.test/sp-a.pem
sti_mode stipa-expired
# shellcheck disable=SC2086
shaken_refused stipa-exp "SPC token expired" sp-a $stipa --x5u https://sti-cr.test/sp-a.pem
sti_mode
[ "$(answers)" = "$before" ] || fail "a bad token reached the STI-CA"
pass "tokens expired, for another SPC or another account key are refused before sending"

# ---- a hostile STI-CA: a clear error, the token as it was ----------------------------------------
# hostile MODE SUBSTRING: with the STI-CA in MODE, issue for sp-h names SUBSTRING.
hostile() {
    sti_mode "$1"
    # shellcheck disable=SC2086
    shaken_refused "mode-$1" "$2" sp-h --spc 5678 $stipa --x5u https://sti-cr.test/sp-h.pem
    sti_mode
}
hostile malformed-json "not a JSON object"
hostile huge-body "the body is larger than the 262144 bytes allowed"
hostile chain-other-key "the certificate issued is not for the key generated for sp-h"
hostile chain-other-spc "the certificate is for SPC 9999 but identity sp-h has SPC 5678"
hostile chain-expired "validity: expired"
hostile wrong-content-type "is text/html, not application/pem-certificate-chain"
hostile rate-limited "rateLimited: too many new orders (HTTP status 429"
hostile order-invalid "is invalid: urn:ietf:params:acme:error:serverInternal"
hostile stall "no complete answer in time"
pass "malformed JSON, 10 MB, a chain for another key or SPC, expired, wrong type, 429, invalid order, a stall: each named, the token as it was"

# ---- polling, revocation and key rollover at the STI-CA ------------------------------------------
sti_mode slow-validation
# shellcheck disable=SC2086
run_ok issue-slow acme issue sp-s --spc 5678 $stipa --x5u https://sti-cr.test/sp-s.pem
sti_mode
grep -q 'still processing: Retry-After 1' "$sti_log" ||
    fail "the client did not poll the authorization while it was processing"
pass "an authorization still processing is polled as Retry-After says, then issued"

run_ok revoke acme revoke --cert "$sks_work/leaf-a.pem" --reason superseded
run_fails revoke-again "alreadyRevoked" acme revoke --cert "$sks_work/leaf-a.pem"
run_ok revoke-version acme revoke sp-a/2 --reason superseded
ks list sp-a > list-revoked.out
if grep -q "^sp-a  *1234  *2 " list-revoked.out; then fail "sp-a/2 stayed after its revocation"; fi
pass "revocation at the STI-CA, of a certificate file and of a standby version"

run_ok rollover acme key-rollover
# shellcheck disable=SC2086
run_fails old-key-token "atc.fingerprint" acme issue sp-a --spc-token "$sks_work/tok-1234" \
    --x5u https://sti-cr.test/sp-a.pem
# shellcheck disable=SC2086
run_ok issue-rolled acme issue sp-a $stipa --x5u https://sti-cr.test/sp-a.pem
pass "after key rollover, a token bound to the old key is refused and a new one is issued"

# The fixture back to normal: the same identity is issued.
# shellcheck disable=SC2086
run_ok issue-after acme issue sp-h --spc 5678 $stipa --x5u https://sti-cr.test/sp-h.pem
assert_grep issue-after "sp-h/1 issued and attached" issue-after.out
pass "after the hostile runs, the identity is issued at the first attempt"
