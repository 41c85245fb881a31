#!/bin/sh
# SPC tokens for the ACME client (acme/spc.h, acme/stipa.h), against the
# test STI-PA: got from its token API with the account's API key, from a
# file or from the operator's command, and checked before they are sent.
# A token for another SPC, another account key, or one that has expired
# is refused naming the claim; the STI-PA's refusals are named too.
. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

PROBE=$top_builddir/tests/interop/spc_token_probe
[ -x "$PROBE" ] || fail "spc_token_probe not built at $PROBE"
sks_mkwork
sti_fixture_start 1234,5678
w=$sks_work
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/acct.key"
sw_openssl pkey -in "$w/acct.key" -pubout -out "$w/acct.pub"
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/other.key"

stipa() { "$PROBE" stipa "$sti_base/stipa" sp-test "$@"; }

# ---- from the STI-PA's token API -----------------------------------------------

run_ok stipa stipa "$sti_api_key_file" 1234 "$w/acct.pub" "$sti_tls_ca"
sed -n 1p "$w/stipa.out" > "$w/tok-1234"
sed -n 2p "$w/stipa.out" > "$w/answer"
[ "$(jq -r .atc "$w/answer")" = "$(cat "$w/tok-1234")" ] ||
    fail "the tkauth-01 answer is not {\"atc\": TOKEN}: $(cat "$w/answer")"
[ "$(jq -r 'keys | join(",")' "$w/answer")" = atc ] || fail "the answer has more than atc"
pass "a token from the STI-PA's API passes the client's check; the answer is {\"atc\": TOKEN}"

# The fingerprint the client computes (C) is the one the STI-CA's side does
# (Python): a token the probe asked for with its own passes the C check.
sti_probe "$w/acct.key" token 1234 sp-test "$sti_api_key_file" > "$w/py.json"
jq -r .token "$w/py.json" > "$w/tok-py"
run_ok py-token "$PROBE" file "$w/tok-py" 1234 "$w/acct.key"
pass "the client's fingerprint of the account key is the STI-CA's"

printf 'not-the-key\n' > "$w/wrong-key"
run_fails stipa-auth "error stipa-refused url" stipa "$w/wrong-key" 1234 "$w/acct.pub" \
    "$sti_tls_ca"
assert_grep stipa-auth "HTTP status 401" "$w/stipa-auth.out"
assert_grep stipa-auth "wrong API key" "$w/stipa-auth.out"
if grep -q not-the-key "$w/stipa-auth.out"; then fail "the API key is in the error"; fi
pass "a wrong API key is refused by the STI-PA, named, and never printed"

run_fails stipa-spc "error stipa-refused url" stipa "$sti_api_key_file" 9999 "$w/acct.pub" \
    "$sti_tls_ca"
assert_grep stipa-spc "does not own SPC 9999" "$w/stipa-spc.out"
pass "a token for an SPC the account does not own is refused by the STI-PA"

run_fails stipa-notls "fetch-tls" stipa "$sti_api_key_file" 1234 "$w/acct.pub" \
    "$sti_pki/root.pem"
pass "an STI-PA whose TLS certificate does not verify is refused"

sti_mode stipa-expired
run_fails stipa-expired "error spc-token-expired exp" stipa "$sti_api_key_file" 1234 \
    "$w/acct.pub" "$sti_tls_ca"
sti_probe "$w/acct.key" token 1234 sp-test "$sti_api_key_file" > "$w/exp.json"
jq -r .token "$w/exp.json" > "$w/tok-exp"
sti_mode
pass "an expired token from the STI-PA is refused before it is sent"

# A hostile STI-PA: each fault named.
for m in "malformed-json:not a JSON object with a token" \
    "huge-body:larger than" \
    "wrong-content-type:with Content-Type \"text/html\", not application/json" \
    "stall:no complete answer in time"; do
    sti_mode "stipa-${m%%:*}"
    run_fails "stipa-${m%%:*}" "${m#*:}" stipa "$sti_api_key_file" 1234 "$w/acct.pub" \
        "$sti_tls_ca"
done
sti_mode
pass "an STI-PA answering cut JSON, 10 MB, text/html or nothing gets a clear error"

# ---- from a file ------------------------------------------------------------------

run_ok file "$PROBE" file "$w/tok-1234" 1234 "$w/acct.pub"
pass "a token from a file passes the check"

run_fails file-exp "error spc-token-expired exp" "$PROBE" file "$w/tok-exp" 1234 "$w/acct.pub"
pass "an expired token from a file is refused, naming exp"

stipa "$sti_api_key_file" 5678 "$w/acct.pub" "$sti_tls_ca" | sed -n 1p > "$w/tok-5678"
run_fails file-spc "error spc-token-mismatch atc.tkvalue" "$PROBE" file "$w/tok-5678" 1234 \
    "$w/acct.pub"
assert_grep file-spc 'for SPC "5678"' "$w/file-spc.out"
pass "a token for another SPC is refused, naming atc.tkvalue and both SPCs"

sti_probe "$w/acct.key" token 1234 sp-test "$sti_api_key_file" "$w/other.key" > "$w/ofp.json"
jq -r .token "$w/ofp.json" > "$w/tok-otherfp"
run_fails file-fp "error spc-token-mismatch atc.fingerprint" "$PROBE" file "$w/tok-otherfp" \
    1234 "$w/acct.pub"
pass "a token bound to another account key is refused, naming atc.fingerprint"

printf '{"token": "x"}\n' > "$w/junk"
run_fails file-junk "error invalid-spc-token atc" "$PROBE" file "$w/junk" 1234 "$w/acct.pub"
pass "a file that holds no token is refused"

# ---- from the operator's command ----------------------------------------------------

# The command learns what the token must hold from its environment.
cat > "$w/get-token.sh" <<EOS
#!/bin/sh
[ "\$SKS_SPC" = 1234 ] && [ "\$SKS_ACME_CA" = false ] || exit 9
echo "\$SKS_ACME_FINGERPRINT" > "$w/cmd-fp"
echo "\$SKS_ACME_TKVALUE" > "$w/cmd-tkvalue"
cat "$w/tok-1234"
EOS
chmod +x "$w/get-token.sh"
run_ok command "$PROBE" command "$w/get-token.sh" 1234 "$w/acct.pub"
[ "$(cat "$w/cmd-tkvalue")" = MAigBhYEMTIzNA ] || fail "SKS_ACME_TKVALUE is $(cat "$w/cmd-tkvalue")"
grep -q '^SHA256 \([0-9A-F][0-9A-F]:\)\{31\}[0-9A-F][0-9A-F]$' "$w/cmd-fp" ||
    fail "SKS_ACME_FINGERPRINT is $(cat "$w/cmd-fp")"
pass "a token from the operator's command, which is told the SPC, tkvalue and fingerprint"

run_fails command-fails "exited with status 9" "$PROBE" command "$w/get-token.sh" 5678 \
    "$w/acct.pub"
run_fails command-otherfp "error spc-token-mismatch atc.fingerprint" "$PROBE" command \
    "cat $w/tok-otherfp" 1234 "$w/acct.pub"
pass "a failing command, or one that prints a token for another key, is refused"
