# pebble, the RFC 8555 test server, on loopback ports of its own, for the
# ACME tests and the ACME benchmark.  Source it after common.sh and
# sks_mkwork, in $sks_work:
#
#   pebble_tls                   # its TLS certificate for localhost: tls/ca.pem signs it
#   pebble_start NAME EAB REJECT # sets $dir_NAME, $mgmt_NAME; stopped at exit
#   acme SUB ARGS...             # sksctl acme SUB with $sks_work/ks.conf, trusting tls/ca.pem
#                                # (under $ACME_WRAPPER, e.g. valgrind, when it is set)
#
# EAB (true|false): externalAccountBindingRequired, the key $EAB_KID with
# the HMAC key in eab.key; REJECT: the percentage of good nonces refused
# (PEBBLE_WFE_NONCEREJECT).  Challenges are always valid, without delays.

command -v pebble >/dev/null 2>&1 || skip "pebble is not installed (quickstart.sh installs it)"

EAB_KID=kid-1

pebble_tls() {
    mkdir -p tls
    sw_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=pebble TLS CA" -keyout tls/ca.key -out tls/ca.pem
    sw_openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout tls/tls.key -out tls/tls.csr
    printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n' > tls/tls.ext
    sw_openssl x509 -req -in tls/tls.csr -CA tls/ca.pem -CAkey tls/ca.key -set_serial 1 \
        -days 2 -extfile tls/tls.ext -out tls/tls.pem
    # The External Account Binding pebble knows (its config's externalAccountMACKeys).
    printf 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W\n' > eab.key
}

pebble_pids=
pebble_start() {
    ps_port=$(free_port)
    ps_mgmt=$(free_port)
    cat > "pebble-$1.json" <<PEBBLE
{"pebble": {
  "listenAddress": "127.0.0.1:$ps_port",
  "managementListenAddress": "127.0.0.1:$ps_mgmt",
  "certificate": "$sks_work/tls/tls.pem", "privateKey": "$sks_work/tls/tls.key",
  "httpPort": $(free_port), "tlsPort": $(free_port), "ocspResponderURL": "",
  "externalAccountBindingRequired": $2,
  "externalAccountMACKeys": {"$EAB_KID": "$(cat eab.key)"}
}}
PEBBLE
    # None of our code: it runs without the sanitizer run's ASan preload.
    env -u LD_PRELOAD PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT="$3" \
        PEBBLE_AUTHZREUSE=0 pebble -config "pebble-$1.json" > "pebble-$1.log" 2>&1 &
    pebble_pids="$pebble_pids $!"
    wait_started "pebble $1" "$!" "pebble-$1.log" grep -q "ACME directory available" "pebble-$1.log"
    eval "dir_$1=https://localhost:$ps_port/dir"
    eval "mgmt_$1=https://localhost:$ps_mgmt"
}

acme() {
    acme_sub=$1
    shift
    ${ACME_WRAPPER:-} "$SKSCTL" acme "$acme_sub" -c "$sks_work/ks.conf" --ca-file "$sks_work/tls/ca.pem" \
        --allow-private "$@"
}

pebble_stop() {
    for p in $pebble_pids; do kill "$p" 2>/dev/null || true; done
}
trap 'pebble_rc=$?; pebble_stop; (exit $pebble_rc); sks_cleanup' EXIT
