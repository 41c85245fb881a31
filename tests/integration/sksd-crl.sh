#!/bin/sh
# Revocation on the signing side (ATIS-1000080 6.3.7), with the CRLs of a
# test PKI (sksctl pki --crl-url --ca-crl-url) served over HTTPS on
# loopback (https-server.py, rewritten by the test as a CA would):
#   - sksctl activate fetches the CRLs a version's chain names and refuses a
#     revoked certificate, one whose STI-CA is revoked, and a CRL that is
#     missing, malformed, oversized, from another issuer or expired, each
#     named; --no-crl-check activates without, and says so; an identity's
#     first version, which becomes active at import, is checked the same;
#   - sksd's CRL watch sees the active certificate become revoked, switches
#     to the standby version (0 failed requests meanwhile, the answers then
#     verify with the standby's certificate), and with no standby answers
#     503 certificate-revoked until a valid version is activated (the import
#     API refuses to activate or attach a revoked one); /metrics
#     and the audit log say so; a CRL that cannot be had does not stop
#     signing until its nextUpdate plus crl_stale_max has passed, then the
#     identity answers 503 crl-unavailable until the CRL is back.
# Every wait polls for a state a user would see, with a bound.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sks_mkwork
trap 'sksd_rc=$?; [ -z "${loop_pid:-}" ] || kill "$loop_pid" 2>/dev/null; sksd_kill
    (exit $sksd_rc); sks_cleanup' EXIT
sksd_sock=$sks_work/import.sock
make_token sksd-crl
cd "$sks_work"
mkdir -p www
https_server_start "$sks_work/www"
base=https://localhost:$https_port
sts_base=$base

run_ok pki "$SKSCTL" pki --out pki --spc "$SKSD_SPC" --crl-url "$base/crl.pem" \
    --ca-crl-url "$base/root-crl.pem"
# A second PKI whose STI-PA has revoked its STI-CA.
run_ok pki-bad "$SKSCTL" pki --out pki-bad --spc "$SKSD_SPC" --crl-url "$base/bad-crl.pem" \
    --ca-crl-url "$base/bad-root-crl.pem"
cp pki/crl.pem www/crl.pem
cp pki/root-crl.pem www/root-crl.pem
cp pki-bad/crl.pem www/bad-crl.pem
revoke pki-bad/ca.pem "$sks_work/pki-bad" www/bad-root-crl.pem root
cat pki/root.pem pki-bad/root.pem > roots.pem

write_sksd_conf sks.conf
sed -i -e "s|^trust_anchors = .*|trust_anchors = $sks_work/roots.pem|" \
    -e "s|^crl_check = no\$|crl_ca_file = $https_ca\ncrl_allow_private = yes|" \
    -e 's|^listen = .*|&\ncrl_check_interval = 1\ncrl_stale_max = 2|' sks.conf
grep -q "^crl_check_interval = 1" sks.conf || fail "the test configuration lacks its CRL settings"

# assert_match NAME REGEX FILE: a line of FILE matches the basic regular expression.
assert_match() {
    grep -q -- "$2" "$3" || {
        cat "$3"
        fail "$1: no line matches '$2' in $3"
    } >&2
}

# A P-256 key and its certificate from the test STI-CA, named NAME.key, NAME.pem.
leaf() {
    sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
    sw_openssl req -new -key "$1.key" -subj "/CN=SHAKEN $SKSD_SPC" -out "$1.csr"
    issue_cert "$sks_work/$1.csr" "$sks_work/$1.pem"
}
ctl() {
    ctl_cmd=$1
    shift
    "$SKSCTL" "$ctl_cmd" -c "$sks_work/sks.conf" "$@"
}

# ---- sksctl activate -------------------------------------------------------------

run_ok import-good ctl import sp-cli --key pki/sp-1234.key --cert pki/sp-1234.pem \
    --chain pki/chain.pem --x5u "$base/cli-1.pem"
leaf cli-revoked
run_ok import-revoked ctl import sp-cli --key cli-revoked.key --cert cli-revoked.pem \
    --chain pki/chain.pem --x5u "$base/cli-2.pem"
revoke cli-revoked.pem "$sks_work/pki" www/crl.pem
serial=$(sw_openssl x509 -in cli-revoked.pem -noout -serial | cut -d= -f2)
run_fails activate-revoked "certificate-revoked" ctl activate sp-cli 2
assert_grep activate-revoked "the certificate of sp-cli version 2 (serial $serial) is revoked: the CRL at $base/crl.pem lists it" \
    activate-revoked.out
run_ok list-after-refusal ctl list sp-cli
assert_match list-after-refusal "^sp-cli  *1234  *1  *active" list-after-refusal.out
pass "activate_refuses_a_revoked_certificate_naming_it_and_the_crl_url"

# An identity's first version becomes active at import: it is held to its CRLs too.
run_fails import-first-revoked "certificate-revoked" ctl import sp-first --key cli-revoked.key \
    --cert cli-revoked.pem --chain pki/chain.pem --x5u "$base/first-1.pem"
assert_grep import-first-revoked "sp-first cannot be imported: it would become the active version: the certificate of the first version of sp-first (serial $serial) is revoked: the CRL at $base/crl.pem lists it" \
    import-first-revoked.out
run_ok list-first ctl list
if grep -q "^sp-first " list-first.out; then fail "the refused import left identity sp-first"; fi
pass "an_identitys_first_version_is_refused_at_import_when_revoked"

run_ok import-bad-ca ctl import sp-cli --key pki-bad/sp-1234.key --cert pki-bad/sp-1234.pem \
    --chain pki-bad/chain.pem --x5u "$base/cli-3.pem"
run_fails activate-bad-ca "certificate-revoked" ctl activate sp-cli 3
assert_match activate-bad-ca "the STI-CA certificate .* of sp-cli version 3 (serial [0-9A-F]*) is revoked: the CRL at $base/bad-root-crl.pem lists it" \
    activate-bad-ca.out
pass "activate_refuses_a_certificate_whose_sti_ca_is_revoked_naming_the_sti_ca"

leaf cli-good
run_ok import-good2 ctl import sp-cli --key cli-good.key --cert cli-good.pem \
    --chain pki/chain.pem --x5u "$base/cli-4.pem"
run_ok activate-good ctl activate sp-cli 4
assert_grep activate-good "sp-cli/4 active" activate-good.out
pass "activate_accepts_a_certificate_its_crls_do_not_list"

# Bad CRLs, each named; version 1 (previous) is what is activated again.
cp www/crl.pem crl-current.pem
refused_crl() {
    run_fails "crl-$1" "$2" ctl activate sp-cli 1 ${4:-}
    assert_match "crl-$1" "$3" "crl-$1.out"
}
rm www/crl.pem
refused_crl missing "crl-unavailable" "the CRL of the certificate of sp-cli version 1 at $base/crl.pem cannot be had: .*404"
printf 'this is no CRL\n' > www/crl.pem
refused_crl malformed "crl-invalid" "$base/crl.pem is no good: the body of $base/crl.pem is not a PEM or DER CRL"
head -c 4096 /dev/zero | tr '\0' 'x' > www/crl.pem
sed 's|^crl_allow_private = yes|&\ncrl_max_bytes = 1024|' sks.conf > small.conf
run_fails crl-oversized "crl-unavailable" "$SKSCTL" activate -c small.conf sp-cli 1
assert_match crl-oversized "$base/crl.pem cannot be had: .*1024" crl-oversized.out
cp pki/root-crl.pem www/crl.pem
refused_crl other-issuer "crl-invalid" "the CRL at $base/crl.pem, which the certificate of sp-cli version 1 names, is issued by .*, not by its issuer"
# A CRL of the right issuer whose nextUpdate has passed.
mkdir -p expired-db && : > expired-db/index.txt
printf '[ca]\ndefault_ca = t\n[t]\ndatabase = %s\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\n' \
    "$sks_work/expired-db/index.txt" "$sks_work/pki/ca.pem" "$sks_work/pki/ca.key" > expired-db/ca.cnf
run_ok expired-crl sw_openssl ca -config expired-db/ca.cnf -gencrl -crl_lastupdate 20200101000000Z \
    -crl_nextupdate 20200201000000Z -out www/crl.pem
refused_crl expired "crl-invalid" "$base/crl.pem has expired"
run_ok list-after-bad ctl list sp-cli
assert_match list-after-bad "^sp-cli  *1234  *4  *active" list-after-bad.out
pass "a_crl_that_is_missing_malformed_oversized_from_another_issuer_or_expired_is_named"

rm www/crl.pem
run_ok no-crl-check ctl activate sp-cli 1 --no-crl-check
assert_grep no-crl-check "warning: CRLs are not checked (--no-crl-check)" no-crl-check.out
assert_grep no-crl-check "sp-cli/1 active" no-crl-check.out
pass "no_crl_check_activates_without_the_crl_and_says_so"
cp crl-current.pem www/crl.pem

# ---- sksd's CRL watch --------------------------------------------------------------

sksd_start
v1=$(provision_version sp-main)
v2=$(provision_version sp-main)
publish sp-main "$v1"
publish sp-main "$v2"

# poll WHAT COMMAND...: COMMAND succeeds within 30 s, or the test fails naming WHAT.
poll() {
    p_what=$1
    shift
    p_i=0
    until "$@"; do
        p_i=$((p_i + 1))
        [ "$p_i" -lt 300 ] || { tail -n 20 "$sks_work/sksd.log" >&2; fail "$p_what: not within 30 s"; }
        sleep 0.1
    done
}
scrape() {
    curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics.txt" &&
        grep -q "$1" "$sks_work/metrics.txt"
}
body='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
signs_with() {
    [ "$(sign sw "$body")" = 200 ] &&
        json "$sks_work/sw.json" signingResponse.identity > "$sks_work/sw.identity" &&
        grep -q "sp-main-$1.pem" "$sks_work/sw.identity"
}

poll "the first CRL check" scrape "sksd_crl_check_result{identity=\"sp-main\",result=\"ok\"} 1"
assert_grep metrics-ok "sksd_certificate_revoked{identity=\"sp-main\",version=\"$v1\"} 0" metrics.txt
signs_with "$v1" || fail "sksd does not sign with version $v1"
verify_identity verify-v1 sw.identity "sp-main-$v1.pem"
pass "sksd_signs_and_metrics_show_the_crl_check_of_the_active_certificate"

# Requests go on while the certificate is revoked; none may fail.
: > statuses
(
    while [ ! -e "$sks_work/stop-loop" ]; do
        sign loop "$body" >> "$sks_work/statuses" || echo curl-failed >> "$sks_work/statuses"
        echo >> "$sks_work/statuses"
    done
) &
loop_pid=$!
revoke "sp-main-$v1.pem" "$sks_work/pki" www/crl.pem
poll "the switch to version $v2" grep -q \
    "audit: who=\"sksd crl watch\" what=crl-switch identity=\"sp-main\" version=$v2 result=ok" sksd.log
poll "signing with version $v2" signs_with "$v2"
touch stop-loop
wait "$loop_pid"
loop_pid=
total=$(grep -c . statuses)
failed=$(grep -vc '^200$' statuses || true)
[ "$total" -gt 0 ] || fail "no request ran during the switch"
[ "$failed" = 0 ] || fail "$failed of $total requests failed during the switch"
verify_identity verify-v2 sw.identity "sp-main-$v2.pem"
assert_match revoked-log "the certificate of sp-main version $v1 (serial [0-9A-F]*) is revoked" sksd.log
run_ok list-switched ctl list sp-main
assert_match list-switched "^sp-main  *1234  *$v2  *active" list-switched.out
poll "the switch in /metrics" scrape "sksd_crl_watch_switches_total 1"
echo "# $total signing requests during the switch, $failed failed"
pass "a_revoked_active_certificate_is_replaced_by_the_standby_with_no_request_failed"

# A first version for the import API, revoked in the same CRL as version $v2:
# once sksd refuses $v2, its CRL cache holds the CRL that lists both.
import_ok 201 gen-new POST "/sks/v1/identities/sp-new/generate" "{\"spc\":\"$SKSD_SPC\"}"
json "$sks_work/gen-new.json" csr > sp-new.csr
issue_cert "$sks_work/sp-new.csr" "$sks_work/sp-new.pem"
revoke sp-new.pem "$sks_work/pki" www/crl.pem
revoke "sp-main-$v2.pem" "$sks_work/pki" www/crl.pem
refused503() {
    [ "$(sign r503 "$body")" = 503 ] && grep -q '"code":"certificate-revoked"' "$sks_work/r503.json"
}
poll "503 certificate-revoked" refused503
assert_grep r503 "sp-main" r503.json
assert_grep audit-hold "what=crl-hold identity=\"sp-main\" version=$v2 result=certificate-revoked" sksd.log
poll "revoked in /metrics" scrape "sksd_certificate_revoked{identity=\"sp-main\",version=\"$v2\"} 1"
pass "with_no_standby_a_revoked_identity_answers_503_certificate_revoked"

"$SKSD_CLIENT" attach-body sp-new.pem pki/chain.pem "$base/sp-new-1.pem" > attach-new.body
code=$(import_api attach-new POST "/sks/v1/identities/sp-new/versions/1/attach" "$(cat attach-new.body)")
[ "$code" = 422 ] || { cat attach-new.json; fail "attaching a revoked first version: $code"; }
assert_grep attach-new '"code":"certificate-revoked"' attach-new.json
run_ok list-new ctl list sp-new
assert_match list-new "^sp-new  *1234  *1  *pending" list-new.out
code=$(import_api activate-revoked POST "/sks/v1/identities/sp-main/versions/$v1/activate")
[ "$code" = 422 ] || { cat activate-revoked.json; fail "activating revoked version $v1: $code"; }
assert_grep activate-api '"code":"certificate-revoked"' activate-revoked.json
v3=$(provision_version sp-main activate)
publish sp-main "$v3"
poll "signing with version $v3" signs_with "$v3"
verify_identity verify-v3 sw.identity "sp-main-$v3.pem"
poll "not revoked in /metrics" scrape "sksd_certificate_revoked{identity=\"sp-main\",version=\"$v3\"} 0"
pass "the_import_api_refuses_a_revoked_version_or_first_version_and_a_valid_one_signs_again"

rm www/crl.pem
poll "the failed check in /metrics" scrape "sksd_crl_check_result{identity=\"sp-main\",result=\"crl-unavailable\"} 1"
signs_with "$v3" || fail "sksd stopped signing when the CRL could not be had"
assert_match unavailable-log "crl watch: sp-main version $v3: .*cannot be had" sksd.log
pass "a_crl_that_cannot_be_had_does_not_stop_signing_and_shows_in_metrics_and_log"

# The last good verdict stands until the CRL's nextUpdate plus crl_stale_max (2 s).
next=$(date -u -d "+5 seconds" +%Y%m%d%H%M%SZ)
run_ok short-crl sw_openssl ca -config "$sks_work/ca-db-pki/ca.cnf" -gencrl -crl_nextupdate "$next" \
    -out short-crl.pem
next_epoch=$(date -u -d "$(sw_openssl crl -in short-crl.pem -noout -nextupdate | cut -d= -f2)" +%s)
cp short-crl.pem www/crl.pem
poll "the verdict with the short CRL" scrape \
    "sksd_crl_next_update_timestamp_seconds{identity=\"sp-main\"} $next_epoch"
rm www/crl.pem
refused_stale() {
    [ "$(sign stale "$body")" = 503 ] && grep -q '"code":"crl-unavailable"' "$sks_work/stale.json"
}
poll "503 crl-unavailable past nextUpdate plus crl_stale_max" refused_stale
assert_grep audit-stale "what=crl-hold identity=\"sp-main\" version=$v3 result=crl-unavailable" sksd.log
cp crl-current.pem www/crl.pem
poll "signing again once the CRL is back" signs_with "$v3"
assert_grep audit-release "what=crl-release identity=\"sp-main\" version=$v3 result=ok" sksd.log
pass "past_its_crls_nextupdate_plus_crl_stale_max_an_identity_answers_503_crl_unavailable"
