#!/bin/sh
# sksctl acme issue against servers that misbehave (acme-bad-server.py on
# loopback, one way per directory): polls wait as Retry-After says and stop
# at --poll-max-seconds; an invalid authorization, a rate limit, a body
# that is not JSON, a redirect answering a POST, a certificate of the wrong
# content type, for another key, of 10 MB or that never comes each get an
# error naming the problem, and the token is left as it was.
. "$top_srcdir/tests/integration/keystore-common.sh"

ks_setup
. "$top_srcdir/tests/integration/acme-common.sh"
pebble_tls
# The server's CA, which signs the CSRs it is sent, and a chain for another key.
mkdir www
sw_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bad ACME CA" -keyout www/ca.key -out www/ca.pem
cp pki/sp-1234-fullchain.pem www/other-chain.pem
cp pki/ca.pem www/sti-ca.pem
cp pki/ca.key www/sti-ca.key

env -u LD_PRELOAD python3 "$top_srcdir/tests/integration/acme-bad-server.py" www \
    tls/tls.pem tls/tls.key port > server.log 2>&1 &
server_pid=$!
pebble_pids=$server_pid
wait_started "acme-bad-server.py" "$server_pid" server.log test -s port
base=https://localhost:$(cat port)

# What a failed issue must leave as it was: the identities and the keys.
token_state() {
    ks list > "$1" 2>&1 || true
    p11tool_login -O 2>/dev/null | grep -c "^Private Key Object" >> "$1" || true
}
# issue_refused WAY SUBSTRING [OPTIONS]: issue against WAY fails naming SUBSTRING, token as it was.
issue_refused() {
    ir_way=$1
    ir_expect=$2
    shift 2
    run_ok "register-$ir_way" acme register --directory "$base/$ir_way/dir"
    token_state "$sks_work/$ir_way.before"
    run_fails "$ir_way" "$ir_expect" acme issue sp-bad --spc 1234 --dns "$ir_way.test" \
        --directory "$base/$ir_way/dir" --chain-out "$sks_work/$ir_way.pem" --no-attach "$@"
    token_state "$sks_work/$ir_way.after"
    assert_same_file "$ir_way: token as it was" "$sks_work/$ir_way.before" \
        "$sks_work/$ir_way.after"
    [ ! -e "$sks_work/$ir_way.pem" ] || fail "$ir_way: a chain was written"
}

# An identity that exists already, so that the refusals leave its record as it was.
run_ok import ks import sp-bad --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u https://sti-cr.example/sp-bad.pem

run_ok register-good acme register --directory "$base/good/dir"
run_ok good acme issue sp-bad --spc 1234 --dns good.test --directory "$base/good/dir" \
    --chain-out "$sks_work/good.pem" --no-attach
assert_grep good "sp-bad/2 pending" good.out
pass "a_well_behaved_server_issues"

# A certificate in the SHAKEN profile from the test PKI's STI-CA: attached, then revoked.
run_ok register-shaken acme register --directory "$base/shaken/dir"
run_ok shaken acme issue sp-shaken --spc 1234 --dns shaken.test --directory "$base/shaken/dir" \
    --x5u https://sti-cr.example/sp-shaken.pem --chain-out "$sks_work/shaken.pem"
assert_grep shaken "sp-shaken/1 issued and attached" shaken.out
ks list sp-shaken > shaken-list.out
assert_grep shaken-active "active" shaken-list.out
run_ok shaken-2 acme issue sp-shaken --spc 1234 --dns shaken.test \
    --directory "$base/shaken/dir" --x5u https://sti-cr.example/sp-shaken.pem
run_ok revoke-2 acme revoke sp-shaken/2 --reason superseded --directory "$base/shaken/dir"
assert_grep revoke-2 "sp-shaken/2 revoked (superseded) and destroyed" revoke-2.out
ks list sp-shaken > shaken-list2.out
awk '$1 == "sp-shaken" { print $3 }' shaken-list2.out > shaken-versions
[ "$(cat shaken-versions)" = 1 ] || { cat shaken-list2.out; fail "sp-shaken/2 stayed"; }
[ "$(grep -c '^POST /shaken/revoke ' server.log)" = 1 ] || fail "not 1 revocation at the server"
run_fails revoke-only "the certificate of sp-shaken/1 is revoked, but the version stays" \
    acme revoke sp-shaken/1 --directory "$base/shaken/dir"
assert_grep revoke-only "only version" revoke-only.out
pass "a_shaken_certificate_is_attached_and_a_revoked_version_destroyed"

run_ok register-slow acme register --directory "$base/slow/dir"
run_ok slow acme issue sp-bad --spc 1234 --dns slow.test --directory "$base/slow/dir" \
    --chain-out "$sks_work/slow.pem" --no-attach
# The polls after the answer are at least the Retry-After (1 s) apart.
grep '^POST /slow/authz/1 ' server.log | awk '{ print $3 }' | tail -n 3 > slow.times
[ "$(wc -l < slow.times)" = 3 ] || { cat server.log; fail "not 3 polls of the slow authorization"; }
awk 'NR > 1 && $1 - prev < 0.99 { bad = 1 } { prev = $1 } END { exit bad }' slow.times ||
    { cat slow.times; fail "a poll came sooner than Retry-After said"; }
pass "polls_wait_as_retry_after_says"

issue_refused stuck "still not done after the 3 s allowed" --poll-max-seconds 3
issue_refused invalid "is invalid: urn:ietf:params:acme:error:unauthorized: the token was refused"
issue_refused rate-limited "rateLimited: too many new orders (HTTP status 429"
assert_grep rate-limited-later "the server asks to retry in 30 s" rate-limited.out
issue_refused malformed "the answer is not a JSON object"
issue_refused redirect "HTTP status 302 without a problem document"
issue_refused wrong-type "is text/html, not application/pem-certificate-chain"
issue_refused other-key "is not for the key generated for sp-bad"
issue_refused big "larger than the"
issue_refused stall "no complete answer in time" --timeout-ms 2000
pass "each_bad_server_gets_a_clear_error_and_the_token_is_left_as_it_was"
