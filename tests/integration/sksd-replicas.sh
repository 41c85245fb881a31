#!/bin/sh
# Two sksd on one token behind HAProxy (doc/haproxy-sksd.cfg: health checks
# on /healthz, retries with redispatch), the deployment sksd(8) describes
# under REPLICAS.  The token's module is p11fault (tests/p11fault) in front
# of SoftHSM2, so that the token can be taken away.
#   rotation_through_one_replica_is_served_by_all_within_key_max_age_ms
#   a_token_outage_gives_503_and_recovers
#   killing_a_replica_under_load_fails_no_request
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed (quickstart.sh installs it)"
sksd_setup
sksd_use_p11fault
# key_max_age_ms as sksd.8 documents it, spelt out: the rotation bound below.
max_age_ms=500
sed -i "s|^\[sksd_limits\]\$|[sksd_limits]\nkey_max_age_ms = $max_age_ms|" "$sks_work/sks.conf"
sksd_start
v1=$(provision_version sp-main activate)
replica_start replica2 "$(replica_conf "$sks_work/sks.conf" replica2)"
r2_pid=$replica_pid
r2_port=$replica_port
haproxy_start "$sksd_port" "$r2_port"
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'

# sign_at NAME PORT: POSTs $REQ to the signing API on PORT; prints the status.
sign_at() {
    printf '%s' "$REQ" > "$sks_work/$1.req"
    curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$sks_work/$1.req" \
        -o "$sks_work/$1.json" -w '%{http_code}' "http://127.0.0.1:$2/stir/v1/signing"
}
# x5u_signed NAME: the x5u (info parameter) of the Identity header in NAME.json.
x5u_signed() {
    json "$sks_work/$1.json" signingResponse.identity | sed -n 's/.*;info=<\([^>]*\)>.*/\1/p'
}
# healthz PORT: the status of /healthz on PORT.
healthz() {
    curl -sS -o "$sks_work/health-$1.json" -w '%{http_code}' "http://127.0.0.1:$1/healthz"
}

for port in "$sksd_port" "$r2_port" "$haproxy_port"; do
    code=$(sign_at first-$port "$port")
    [ "$code" = 200 ] || { cat "$sks_work/first-$port.json"; fail "port $port: status $code"; }
    [ "$(x5u_signed first-$port)" = "$(x5u_of sp-main "$v1")" ] ||
        fail "port $port signs with $(x5u_signed first-$port), not version $v1"
done

# ---- rotation through replica 1, served by both -----------------------------
v2=$(provision_version sp-main)
import_ok 200 activate2 POST "/sks/v1/identities/sp-main/versions/$v2/activate"
# The bound is key_max_age_ms after the activation answered; 100 ms more for curl to start.
sleep "$(awk -v ms="$max_age_ms" 'BEGIN { printf "%.3f", (ms + 100) / 1000 }')"
for port in "$sksd_port" "$r2_port"; do
    code=$(sign_at rot-$port "$port")
    [ "$code" = 200 ] || { cat "$sks_work/rot-$port.json"; fail "port $port after rotation: $code"; }
    [ "$(x5u_signed rot-$port)" = "$(x5u_of sp-main "$v2")" ] ||
        fail "port $port signs with $(x5u_signed rot-$port) $max_age_ms ms after version $v2 was activated"
done
json "$sks_work/rot-$r2_port.json" signingResponse.identity > "$sks_work/rot.identity"
verify_identity verify-rot "$sks_work/rot.identity" "$sks_work/sp-main-$v2.pem"
"$SKSD_CLIENT" load 127.0.0.1 "$haproxy_port" --requests 40 --conns 2 \
    --cert "$(x5u_of sp-main "$v2")=$sks_work/sp-main-$v2.pem" > "$sks_work/rot-load.out" ||
    { cat "$sks_work/rot-load.out"; fail "signing through HAProxy after the rotation"; }
pass "rotation_through_one_replica_is_served_by_all_within_key_max_age_ms"

# ---- the token goes away and comes back --------------------------------------
p11fault_control "remove 6"
sleep 0.1
code=$(sign_at outage "$haproxy_port")
[ "$code" = 503 ] || { cat "$sks_work/outage.json"; fail "signing through HAProxy during the outage: $code"; }
for port in "$sksd_port" "$r2_port"; do
    code=$(healthz "$port")
    [ "$code" = 503 ] || fail "/healthz of port $port answers $code while the token is away"
    [ "$(json "$sks_work/health-$port.json" status)" = unavailable ] ||
        fail "/healthz of port $port does not say unavailable"
done
# The health checks take both replicas out: HAProxy answers 503 itself.
i=0
until [ "$(sign_at outage-lb "$haproxy_port")" = 503 ] &&
    grep -q "No server is available" "$sks_work/outage-lb.json"; do
    i=$((i + 1))
    [ "$i" -lt 50 ] || { cat "$sks_work/outage-lb.json"; fail "HAProxy never took the replicas out"; }
    sleep 0.1
done
i=0
until [ "$(sign_at back "$haproxy_port")" = 200 ]; do
    i=$((i + 1))
    [ "$i" -lt 150 ] || { cat "$sks_work/back.json"; fail "no signature through HAProxy after the outage"; }
    sleep 0.1
done
for port in "$sksd_port" "$r2_port"; do
    i=0
    until [ "$(healthz "$port")" = 200 ]; do
        i=$((i + 1))
        [ "$i" -lt 50 ] || fail "/healthz of port $port did not recover"
        sleep 0.1
    done
done
json "$sks_work/back.json" signingResponse.identity > "$sks_work/back.identity"
verify_identity verify-back "$sks_work/back.identity" "$sks_work/sp-main-$v2.pem"
pass "a_token_outage_gives_503_and_recovers"

# ---- replica 2 killed under load ---------------------------------------------
# Both replicas sign again; HAProxy takes them back after two good checks
# (rise 2, 500 ms apart), so that the kill hits one in use.
sleep 1.5
"$SKSD_CLIENT" load 127.0.0.1 "$haproxy_port" --requests 1500 --conns 8 --rate 300 \
    --cert "$(x5u_of sp-main "$v2")=$sks_work/sp-main-$v2.pem" > "$sks_work/kill-load.out" 2>&1 &
load_pid=$!
sleep 1.5
kill -9 "$r2_pid"
rc=0
wait "$load_pid" || rc=$?
cat "$sks_work/kill-load.out"
[ "$rc" = 0 ] || fail "requests failed through HAProxy when a replica was killed"
grep -q "^requests=1500 ok=1500 " "$sks_work/kill-load.out" || fail "not every request was signed"
pass "killing_a_replica_under_load_fails_no_request"
