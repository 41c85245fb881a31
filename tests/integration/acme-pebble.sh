#!/bin/sh
# sksctl acme against pebble, the RFC 8555 test server, on loopback ports of
# its own (one instance per configuration): an account registered with and
# without External Account Binding, its key generated in the token
# (sensitive, never extractable, sign-only); a certificate for a "dns"
# identifier ordered with a CSR signed in the token, whose downloaded chain
# verifies to pebble's root and whose leaf key is the token key; the key
# store refusing to attach pebble's certificate (it is no SHAKEN
# certificate) and the pending version removed; revocation; key rollover;
# badNonce retried and bounded; bad input named, with nothing written to
# the token.
. "$top_srcdir/tests/integration/keystore-common.sh"

command -v curl >/dev/null 2>&1 || skip "curl is not installed (quickstart.sh installs it)"
ks_setup
. "$top_srcdir/tests/integration/acme-common.sh"
pebble_tls

pebble_start plain false 0
pebble_start eab true 0
pebble_start flaky false 50
pebble_start hostile false 100


# Every object on the token and what sksctl list says, to compare around a command.
token_state() {
    token_listing "$1.objects"
    ks list > "$1.list" 2>&1 || true
    cat "$1.objects" "$1.list" > "$1"
}
# acme_refused NAME SUBSTRING SUB ARGS...: must fail naming SUBSTRING, the token unchanged.
acme_refused() {
    ar_name=$1
    ar_expect=$2
    shift 2
    token_state "$sks_work/$ar_name.before"
    run_fails "$ar_name" "$ar_expect" acme "$@"
    token_state "$sks_work/$ar_name.after"
    assert_same_file "$ar_name: token unchanged" "$sks_work/$ar_name.before" \
        "$sks_work/$ar_name.after"
}
account_keys() {
    p11tool_login -O 2>/dev/null | grep -c "label: *shaken-sks/acme-account" || true
}

# ---- bad input first: each named, nothing written ---------------------------------------
port_plain=${dir_plain#https://localhost:}
port_plain=${port_plain%/dir}
acme_refused wrong-directory "HTTP status 404" register --agree-tos \
    --directory "https://localhost:$port_plain/no-such-directory"
acme_refused http-directory "only https URLs are fetched" register --agree-tos \
    --directory "http://localhost:$port_plain/dir"
acme_refused untrusted-tls "TLS with the server failed" register --agree-tos \
    --directory "$dir_plain" --ca-file "$sks_work/pki/root.pem"
acme_refused not-a-directory "the answer is not a JSON object" register --agree-tos \
    --directory "${mgmt_plain}/roots/0"
acme_refused no-tos "terms of service" register --directory "$dir_plain"
acme_refused eab-required "requires an External Account Binding" register --agree-tos \
    --directory "$dir_eab"
acme_refused eab-file-missing "no-such.key" register --agree-tos --directory "$dir_eab" \
    --eab-kid "$EAB_KID" --eab-hmac-file "$sks_work/no-such.key"
printf 'this is not base64url!\n' > garbage.key
acme_refused eab-file-garbage "not a base64url HMAC key" register --agree-tos \
    --directory "$dir_eab" --eab-kid "$EAB_KID" --eab-hmac-file "$sks_work/garbage.key"
printf 'c29tZSBvdGhlciBrZXkgb2YgMzIgYnl0ZXMgbG9uZyEh\n' > wrong.key
acme_refused eab-wrong-key "ACME server" register --agree-tos --directory "$dir_eab" \
    --eab-kid "$EAB_KID" --eab-hmac-file "$sks_work/wrong.key"
acme_refused no-account "no ACME account" issue sp-acme --spc 1234 --dns acme.test \
    --chain-out "$sks_work/x.pem" --no-attach
pass "bad_input_is_named_and_nothing_is_written_to_the_token"

acme_refused bad-nonce-bounded "badNonce" register --agree-tos --directory "$dir_hostile"
assert_grep bad-nonce-bounded "after 3 retries" bad-nonce-bounded.out
# The first try and 3 retries, each with the nonce the refusal carried: one HEAD newNonce.
[ "$(grep -c "POST /sign-me-up" pebble-hostile.log)" = 4 ] ||
    fail "not 4 newAccount requests: $(grep -c "POST /sign-me-up" pebble-hostile.log)"
[ "$(grep -c "HEAD /nonce-plz" pebble-hostile.log)" = 1 ] ||
    fail "the retries did not use the nonces of the badNonce answers"
pass "a_server_that_rejects_every_nonce_is_retried_3_times_then_named"

# ---- register ---------------------------------------------------------------------------
run_ok register-eab acme register --agree-tos --directory "$dir_eab" \
    --eab-kid "$EAB_KID" --eab-hmac-file "$sks_work/eab.key"
assert_grep register-eab "account https://localhost:" register-eab.out
pass "register_with_external_account_binding"

run_ok register acme register --agree-tos --contact mailto:ops@example.com \
    --directory "$dir_plain"
assert_grep register "account https://localhost:" register.out
acme_refused register-again "already holds an account" register --agree-tos \
    --directory "$dir_plain"
pass "register_without_external_account_binding_once_per_directory"

[ "$(account_keys)" = 4 ] || fail "2 account key pairs expected, $(account_keys) objects found"
ks_protected shaken-sks acme-account
pass "the_account_keys_are_in_the_token_sensitive_never_extractable_sign_only"

# ---- issue ------------------------------------------------------------------------------
env -u LD_PRELOAD curl -sS --cacert tls/ca.pem -o pebble-root.pem "$mgmt_plain/roots/0" ||
    fail "cannot fetch pebble's root"
run_ok issue acme issue sp-acme --spc 1234 --dns acme.test --directory "$dir_plain" \
    --chain-out "$sks_work/chain.pem" --no-attach
assert_grep issue "sp-acme/1 pending" issue.out
awk '/BEGIN CERT/ { n++ } n == 1' chain.pem > leaf.pem
awk '/BEGIN CERT/ { n++ } n >= 2' chain.pem > intermediates.pem
run_ok chain-verifies sw_openssl verify -CAfile pebble-root.pem -untrusted intermediates.pem \
    leaf.pem
sw_openssl x509 -in leaf.pem -noout -ext subjectAltName > leaf-san.txt
assert_grep issue-san "DNS:acme.test" leaf-san.txt
p11tool_login --read-object --type pubkey --label sp-acme/1 -o token-pub.der > /dev/null 2>&1 ||
    fail "cannot read the public key of sp-acme/1"
sw_openssl pkey -pubin -inform DER -in token-pub.der -out token-pub.pem
sw_openssl x509 -in leaf.pem -noout -pubkey -out leaf-pub.pem
assert_same_file "the leaf's key is the token key" token-pub.pem leaf-pub.pem
ks_protected sp-acme 1
pass "issue_a_dns_certificate_for_a_key_generated_in_the_token"

# The key store holds SHAKEN certificates only: pebble's has no TNAuthList.
ks list sp-acme > list-before.out
keys_before=$(p11tool_login -O 2>/dev/null | grep -c "^Private Key Object")
run_fails attach-refused "the key store refused it" acme issue sp-acme --spc 1234 \
    --dns acme.test --directory "$dir_plain" --x5u https://sti-cr.example/sp-acme.pem \
    --chain-out "$sks_work/chain2.pem"
assert_grep attach-refused "tnauthlist" attach-refused.out
ks list sp-acme > list-after.out
assert_same_file "sksctl list after a refused attach" list-before.out list-after.out
[ "$(p11tool_login -O 2>/dev/null | grep -c "^Private Key Object")" = "$keys_before" ] ||
    fail "the refused version's key is still in the token"
pass "a_certificate_the_key_store_refuses_is_not_attached_and_its_version_is_removed"

# ---- revoke -----------------------------------------------------------------------------
run_fails revoke-pending "has no certificate" acme revoke sp-acme/1 --directory "$dir_plain"
run_fails revoke-unknown "has no certificate" acme revoke nobody/1 --directory "$dir_plain"
run_fails revoke-reason "--reason takes" acme revoke --cert "$sks_work/leaf.pem" \
    --reason because --directory "$dir_plain"
run_ok revoke acme revoke --cert "$sks_work/leaf.pem" --reason keyCompromise \
    --directory "$dir_plain"
run_fails revoke-again "alreadyRevoked" acme revoke --cert "$sks_work/leaf.pem" \
    --directory "$dir_plain"
pass "revoke_with_the_account_key_and_the_server_names_a_second_revocation"

# Signed with the certificate's own key, the pending version's in the token.
run_ok issue-for-cert-key acme issue sp-acme3 --spc 1234 --dns acme3.test \
    --directory "$dir_plain" --chain-out "$sks_work/chain5.pem" --no-attach
run_ok revoke-cert-key acme revoke --cert "$sks_work/chain5.pem" --with-cert-key \
    --reason superseded --directory "$dir_plain"
run_fails revoke-cert-key-again "alreadyRevoked" acme revoke --cert "$sks_work/chain5.pem" \
    --with-cert-key --directory "$dir_plain"
run_fails revoke-no-key "no key on" acme revoke --cert "$sks_work/pki/sp-5678.pem" \
    --with-cert-key --directory "$dir_plain"
pass "revoke_with_the_certificates_own_key_in_the_token"

# A version whose certificate the server did not issue: it refuses, and the version stays.
run_ok import ks import sp-kept --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u https://sti-cr.example/sp-kept.pem
ks list sp-kept > kept-before.out
run_fails revoke-foreign "ACME server" acme revoke sp-kept/1 --reason superseded \
    --directory "$dir_plain"
ks list sp-kept > kept-after.out
assert_same_file "sksctl list after a refused revocation" kept-before.out kept-after.out
pass "a_version_whose_revocation_the_server_refuses_stays"

# ---- key rollover -----------------------------------------------------------------------
sed -n 's/.*JWK thumbprint \([^)]*\)).*/\1/p' register.out > thumb-before
run_ok rollover acme key-rollover --directory "$dir_plain"
sed -n 's/.*JWK thumbprint \([^)]*\)).*/\1/p' rollover.out > thumb-after
if cmp -s thumb-before thumb-after; then fail "the account key did not change"; fi
[ "$(account_keys)" = 4 ] || fail "the old account key was not destroyed ($(account_keys) objects)"
ks_protected shaken-sks acme-account
run_ok issue-after-rollover acme issue sp-acme2 --spc 5678 --dns acme2.test \
    --directory "$dir_plain" --chain-out "$sks_work/chain3.pem" --no-attach
run_ok revoke-after-rollover acme revoke --cert "$sks_work/chain3.pem" --directory "$dir_plain"
pass "key_rollover_replaces_the_account_key_in_the_token_and_the_server_takes_it"

# ---- badNonce ---------------------------------------------------------------------------
# pebble rejects half of the good nonces: each request is retried until one passes.
run_ok flaky-register acme register --agree-tos --directory "$dir_flaky" --bad-nonce-retries 40
run_ok flaky-issue acme issue sp-flaky --spc 4321 --dns flaky.test --directory "$dir_flaky" \
    --chain-out "$sks_work/chain4.pem" --no-attach --bad-nonce-retries 40
pass "bad_nonce_answers_are_retried_with_the_fresh_nonce"

