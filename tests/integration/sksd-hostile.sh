#!/bin/sh
# Slow and hostile clients do not stop sksd from serving others: 1,000 idle
# connections, a slowloris client trickling its headers, a 100 MB body (with
# Content-Length, refused before it is sent, and chunked).  While each one
# runs, ordinary signing requests keep getting verified answers within a
# second.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
command -v timeout >/dev/null 2>&1 || skip "timeout(1) is not installed"
sksd_setup
sksd_start
v=$(provision_version sp-main activate)
cert="$(x5u_of sp-main "$v")=$sks_work/sp-main-$v.pem"

# serves_others NAME: 50 requests on fresh connections, each answered within a
# second and verified.
serves_others() {
    run_ok "$1-others" timeout 30 "$SKSD_CLIENT" load 127.0.0.1 "$sksd_port" --requests 50 \
        --conns 1 --cert "$cert"
    assert_grep "$1" "ok=50 " "$sks_work/$1-others.out"
    max_us=$(sed -n 's/.* max_us=\([0-9]*\).*/\1/p' "$sks_work/$1-others.out")
    [ "$max_us" -lt 1000000 ] || fail "$1: a request took $max_us us while the hostile client ran"
    for i in 1 2 3 4 5; do
        code=$(curl -sS --max-time 2 -X POST -H 'Content-Type: application/json' \
            --data-binary '{"signingRequest":{"attest":"A","dest":{"tn":["1"]},"orig":{"tn":"2"}}}' \
            -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sksd_port/stir/v1/signing") || code=timeout
        [ "$code" = 200 ] || fail "$1: a fresh connection got $code"
    done
}

# hostile MODE N SECONDS: sksd_client MODE holds N connections for SECONDS
# while ordinary requests must still be served.
hostile() {
    "$SKSD_CLIENT" "$1" 127.0.0.1 "$sksd_port" "$2" "$3" > "$sks_work/$1.out" 2>&1 &
    h_pid=$!
    i=0
    until grep -q "^opened" "$sks_work/$1.out" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || fail "$1: the hostile client did not connect"
        sleep 0.1
    done
    grep -q "^opened $2\$" "$sks_work/$1.out" ||
        { cat "$sks_work/$1.out"; fail "$1: only $(cat "$sks_work/$1.out") of $2 connections opened"; }
    serves_others "$1"
    wait $h_pid || { cat "$sks_work/$1.out"; fail "the $1 client failed"; }
}

hostile idle 1000 8
pass "hostile_1000_idle_connections_do_not_stop_service"
hostile slowloris 200 6
pass "hostile_slowloris_headers_do_not_stop_service"

# The headers announce 100 MB and a little of the body follows: the answer
# must come before the client sends the rest, and the connection must close,
# since the rest of the body is never read.
{
    printf 'POST /stir/v1/signing HTTP/1.1\r\nHost: sksd\r\nContent-Type: application/json\r\n'
    printf 'Content-Length: 100000000\r\n\r\n'
    head -c 1000 /dev/zero
} > "$sks_work/big.req"
run_ok big timeout 30 "$SKSD_CLIENT" raw "127.0.0.1:$sksd_port" "$sks_work/big.req"
assert_grep big "status 413" "$sks_work/big.out"
assert_grep big '"code":"body-too-large"' "$sks_work/big.out"
assert_grep big "connection-close yes" "$sks_work/big.out"
assert_grep big "connection closed" "$sks_work/big.out"
pass "hostile_100mb_body_is_refused_from_content_length_and_the_connection_closed"

head -c 100000000 /dev/zero > "$sks_work/100mb"
# Chunked: no length to refuse by; the daemon drops what exceeds the limit and
# cuts the connection.  The client may see 413 or a closed connection.
timeout 60 env -u LD_PRELOAD curl -sS -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    -H 'Expect:' --data-binary "@$sks_work/100mb" -o /dev/null \
    "http://127.0.0.1:$sksd_port/stir/v1/signing" > "$sks_work/chunked.out" 2>&1 &
chunked=$!
serves_others chunked
rc=0
wait $chunked || rc=$?
[ "$rc" -ne 124 ] || fail "the chunked 100 MB upload was still running after 60 s: it was read"
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$sksd_pid/status")
echo "FIGURE: sksd-hostile RSS after the hostile clients: $rss kB"
[ "$rss" -lt 200000 ] || fail "sksd uses $rss kB after the 100 MB bodies: they were buffered"
kill -0 "$sksd_pid" || fail "sksd died"
pass "hostile_chunked_100mb_body_is_cut_off_without_buffering"
rm -f "$sks_work/100mb"
