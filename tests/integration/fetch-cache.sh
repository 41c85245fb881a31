#!/bin/sh
# The fetch cache (fetch/cache.h) against a real HTTPS server on loopback
# (https-server.py), whose own log of requests says what was fetched:
#   one fetch for a burst of concurrent lookups; Cache-Control, Expires and
#   the default TTL honoured within the bounds; failures kept for their
#   negative TTL; a stale entry served while its refresh fails, until the
#   stale bound; and the entry and byte bounds kept.
# fetch_probe runs the steps on one cache and prints what it got.
. "$top_srcdir/tests/integration/common.sh"

PROBE=$top_builddir/tests/interop/fetch_probe
[ -x "$PROBE" ] || fail "fetch_probe not built at $PROBE"
sks_mkwork
cd "$sks_work"
run_ok pki "$SKSCTL" pki --out pki --spc 1234 --days 30
mkdir www
for f in chain a b c d e1 e2 e3 e4 e5; do cp pki/sp-1234-fullchain.pem "www/$f.pem"; done
https_server_start www
base=https://localhost:$https_port
size=$(wc -c < www/chain.pem)

# probe NAME [options] STEP...: fetch_probe's output in NAME.out.
probe() {
    pr_name=$1
    shift
    "$PROBE" --ca "$https_ca" "$@" > "$pr_name.out" 2>&1 || { cat "$pr_name.out"; fail "$pr_name: fetch_probe failed"; }
}
# fetched PATH: how many times the server was asked for PATH.
fetched() {
    grep -c "\"GET $1 HTTP" https-server.log || true
}
# stat NAME FIELD: a field of the last stats line of NAME.out.
stat() {
    sed -n "s/^stats.* $2=\([0-9]*\).*/\1/p" "$1.out" | tail -n 1
}
expect_fetched() {
    [ "$(fetched "$1")" = "$2" ] || { cat https-server.log; fail "$3: $1 fetched $(fetched "$1") times, not $2"; }
}

probe burst "burst:50:$base/cc/max-age=60/chain.pem" "get:$base/cc/max-age=60/chain.pem" stats
assert_grep burst "ok=50 failed=0" burst.out
expect_fetched /cc/max-age=60/chain.pem 1 "50 concurrent lookups"
[ "$(stat burst fetches)" = 1 ] && [ "$(stat burst hits)" -ge 1 ] || { cat burst.out; fail "burst stats"; }
pass "a_burst_of_50_lookups_for_an_uncached_url_fetches_it_once"

probe max-age --min-ttl 0 --stale-ttl 0 "get:$base/cc/max-age=3/a.pem" "get:$base/cc/max-age=3/a.pem" \
    sleep:3500 "get:$base/cc/max-age=3/a.pem"
expect_fetched /cc/max-age=3/a.pem 2 "max-age=3 over 3.5 s"
probe expires --min-ttl 0 --stale-ttl 0 "get:$base/expires/3/b.pem" "get:$base/expires/3/b.pem" \
    sleep:4000 "get:$base/expires/3/b.pem"
expect_fetched /expires/3/b.pem 2 "Expires in 3 s over 4 s"
probe default --min-ttl 0 --stale-ttl 0 --default-ttl 3 "get:$base/c.pem" "get:$base/c.pem" \
    sleep:3500 "get:$base/c.pem"
expect_fetched /c.pem 2 "default TTL 3 s over 3.5 s"
pass "cache-control_expires_and_the_default_ttl_say_how_long_an_entry_is_kept"

probe floor --min-ttl 60 "get:$base/cc/no-store/chain.pem" "get:$base/cc/max-age=0/chain.pem" \
    "get:$base/cc/no-store/chain.pem" "get:$base/cc/max-age=0/chain.pem"
expect_fetched /cc/no-store/chain.pem 1 "no-store under min_ttl 60"
expect_fetched /cc/max-age=0/chain.pem 1 "max-age=0 under min_ttl 60"
probe ceiling --max-ttl 1 --stale-ttl 0 "get:$base/cc/max-age=86400/d.pem" sleep:1500 \
    "get:$base/cc/max-age=86400/d.pem"
expect_fetched /cc/max-age=86400/d.pem 2 "max-age=86400 under max_ttl 1"
pass "min_ttl_and_max_ttl_bound_what_the_server_says"

probe negative --negative-ttl 3 "get:$base/missing.pem" "get:$base/missing.pem" sleep:3500 \
    "get:$base/missing.pem" stats
expect_fetched /missing.pem 2 "a 404 with negative_ttl 3 over 3.5 s"
[ "$(grep -c 'error fetch-http: .*HTTP status 404' negative.out)" = 3 ] ||
    { cat negative.out; fail "the kept failure is not the server's 404"; }
[ "$(stat negative negative_hits)" = 1 ] || { cat negative.out; fail "no negative hit"; }
pass "a_failure_is_kept_for_the_negative_ttl"

# Stale: max-age=1, stale_ttl 5.  After 1.5 s the server is down: the
# refresh fails and the stale entry is served; after 7 s it is not.
probe stale --min-ttl 0 --stale-ttl 5 "get:$base/cc/max-age=1/e1.pem" sleep:1500 \
    "get:$base/cc/max-age=1/e1.pem" sleep:5500 "get:$base/cc/max-age=1/e1.pem" stats &
probe_pid=$!
# DOWN once the first lookup has its answer, 1.5 s before the second.
wait_started fetch_probe "$probe_pid" stale.out grep -q ' ok ' stale.out
touch www/DOWN
wait "$probe_pid" || fail "the stale probe failed"
rm -f www/DOWN
[ "$(grep -c "get $base/cc/max-age=1/e1.pem ok $size" stale.out)" = 2 ] ||
    { cat stale.out https-server.log; fail "the stale entry was not served while its refresh failed"; }
assert_grep stale "get $base/cc/max-age=1/e1.pem error fetch-http" stale.out
[ "$(stat stale stale_hits)" = 1 ] || { cat stale.out; fail "no stale hit counted"; }
pass "a_stale_entry_is_served_while_its_refresh_fails_until_the_stale_bound"

probe entries --max-entries 3 "get:$base/e1.pem" "get:$base/e2.pem" "get:$base/e3.pem" \
    "get:$base/e4.pem" "get:$base/e5.pem" stats "get:$base/e5.pem" "get:$base/e1.pem" stats
[ "$(stat entries entries)" = 3 ] && [ "$(stat entries evictions)" = 3 ] ||
    { cat entries.out; fail "max_entries 3 after 6 distinct lookups"; }
expect_fetched /e5.pem 1 "the most recent entry under max_entries 3"
expect_fetched /e1.pem 2 "the least recent entry under max_entries 3"
bound=$((3 * size + 1500))
probe bytes --max-bytes "$bound" "get:$base/e1.pem" "get:$base/e2.pem" "get:$base/e3.pem" \
    "get:$base/e4.pem" "get:$base/e5.pem" stats
[ "$(stat bytes bytes)" -le "$bound" ] && [ "$(stat bytes entries)" -lt 5 ] ||
    { cat bytes.out; fail "max_bytes $bound after 5 bodies of $size bytes"; }
probe too-big --max-bytes 100 "get:$base/chain.pem" "get:$base/chain.pem" stats
[ "$(stat too-big entries)" = 0 ] && [ "$(stat too-big fetches)" = 2 ] ||
    { cat too-big.out; fail "a body over max_bytes was kept"; }
pass "the_entry_and_byte_bounds_hold"
