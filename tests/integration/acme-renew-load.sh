#!/bin/sh
# Renewal under load: sksd signs a steady, paced load for sp-main while
# sksctl acme renew renews it against the test STI-PA and STI-CA
# (tests/acme/sti-fixture.py), publishing the new chain to a loopback
# STI-CR (https-server.py) before activating it.  No request may fail,
# every answer must verify with the certificate of the version that signed
# it (read from the STI-CR, where each version has its own x5u), both
# versions must have signed, and sksd's /metrics must show the renewal's
# result.  The counts are printed as FIGURE lines; nothing is timed.
. "$top_srcdir/tests/integration/keystore-common.sh"
. "$top_srcdir/tests/integration/sksd-common.sh"
. "$top_srcdir/tests/acme/fixture.sh"
require_sksd

ks_setup
mkdir -p "$sks_work/cr"
https_server_start "$sks_work/cr"
cr_pid=$https_server_pid
cr_ca=$https_ca
cr=https://127.0.0.1:$https_port
load_cleanup() {
    lc_rc=$?
    set +e
    sksd_kill
    kill "$cr_pid" 2>/dev/null
    [ -z "${load_pid:-}" ] || kill "$load_pid" 2>/dev/null
    (exit "$lc_rc")
    sks_cleanup
}
trap load_cleanup EXIT
sti_fixture_start 1234 pki
dir=$sti_base/acme/directory

# The key store's configuration, with [acme] (renew inside the whole
# lifetime: the fixture's certificates are new), [publish] and sksd's sections.
{
    cat ks.conf
    cat <<EOC
[acme]
directory = $dir
ca_file = $sti_tls_ca
allow_private = yes
stipa_url = $sti_base/stipa
stipa_account = sp-test
stipa_credentials = $sti_api_key_file
stipa_ca_file = $sti_tls_ca
renew_fraction = 1.0

[publish]
method = directory
directory = cr
url_prefix = $cr/
x5u = $cr/{identity}-{version}.pem
ca_file = $cr_ca
allow_private = yes
verify_wait = 5

[sksd]
listen = 127.0.0.1:0
identities = sksd_identities
limits = sksd_limits

[sksd_identities]
default = sp-main

[sksd_limits]
connection_timeout = 10
drain_seconds = 10
EOC
} > sks.conf

run_ok register "$SKSCTL" acme register -c "$sks_work/sks.conf" --agree-tos --ca-file "$sti_tls_ca" \
    --allow-private --directory "$dir"
run_ok issue "$SKSCTL" acme issue -c "$sks_work/sks.conf" --ca-file "$sti_tls_ca" --allow-private \
    --directory "$dir" sp-main --spc 1234 --stipa-url "$sti_base/stipa" --stipa-account sp-test \
    --stipa-credentials "$sti_api_key_file" --stipa-ca-file "$sti_tls_ca" --publish
assert_grep issue "sp-main/1 issued, published at $cr/sp-main-1.pem and activated" issue.out
sksd_start "$sks_work/sks.conf"
pass "sp-main/1 issued, published and signing through sksd"

# A steady load at 100 requests/s for about 30 s; the renewal starts inside it.
"$SKSD_CLIENT" load 127.0.0.1 "$sksd_port" --requests 3000 --conns 2 --rate 100 \
    --cert "$cr/sp-main-1.pem=$sks_work/cr/sp-main-1.pem" \
    --cert-later "$cr/sp-main-2.pem=$sks_work/cr/sp-main-2.pem" > load.out 2>&1 &
load_pid=$!
sleep 2
run_ok renew "$SKSCTL" acme renew -c "$sks_work/sks.conf" --all
assert_grep renew "sp-main: renewed: version 2 active, version 1 usable for the grace period" renew.out
kill -0 "$load_pid" 2>/dev/null || { cat load.out; fail "the load ended before the renewal did"; }
wait "$load_pid" || true
load_pid=
cat load.out
assert_grep load "ok=3000 " load.out
assert_grep load "http_errors=0 bad=0 io_errors=0" load.out
n1=$(sed -n "s|^x5u $cr/sp-main-1.pem verified=||p" load.out)
n2=$(sed -n "s|^x5u $cr/sp-main-2.pem verified=||p" load.out)
[ "${n1:-0}" -gt 0 ] && [ "${n2:-0}" -gt 0 ] ||
    fail "the load did not span the renewal (v1: $n1, v2: $n2)"
[ $((n1 + n2)) -eq 3000 ] || fail "verified $n1 + $n2, not 3000"
echo "FIGURE: acme-renew-load signed by v1: $n1, by v2: $n2, failures: 0"
pass "renewal under load: no request failed, each answer verifies with the version that signed it"

curl -sS "http://127.0.0.1:$sksd_port/metrics" > metrics.out
assert_grep metrics 'sksd_renewal_last_result{identity="sp-main",result="ok",code=""} 1' metrics.out
assert_grep metrics 'sksd_renewal_failures{identity="sp-main"} 0' metrics.out
assert_grep metrics 'sksd_active_key_version{identity="sp-main"} 2' metrics.out
pass "sksd's /metrics shows the renewal's result"
