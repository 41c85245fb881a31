# Shared helpers for the sksd tests.  Source after common.sh's variables are
# known:
#
#   . "$top_srcdir/tests/integration/sksd-common.sh"
#
# sksd_setup makes a token, a test SHAKEN PKI (sksctl pki) and a
# configuration; sksd_start runs the daemon on 127.0.0.1 with a free port
# (it listens on port 0 and the test reads the port from its log) and an
# import socket in the work directory; provision_version puts a key version
# into the token through the import API, the way an SP-KMS does.  The daemon
# is stopped when the test exits.  $sksd_sock is the import socket.

. "$top_srcdir/tests/integration/common.sh"

SKSD=$top_builddir/sksd/sksd
SKSD_CLIENT=$top_builddir/tests/interop/sksd_client
SKSD_SPC=1234
sksd_pid=
sksd_port=
sksd_sock=
sksd_shared=
replica_pids=
haproxy_pid=

require_sksd() {
    require_softhsm
    [ -x "$SKSD" ] || fail "sksd not built at $SKSD"
    [ -x "$SKSD_CLIENT" ] || fail "sksd_client not built at $SKSD_CLIENT"
    command -v curl >/dev/null 2>&1 || skip "curl is not installed"
}

# curl loads none of our code, and under a sanitizer run the preloaded ASan
# runtime can deadlock it at start-up (in setlocale): it runs without.
curl() {
    env -u LD_PRELOAD curl "$@"
}

sksd_kill() {
    for sk_pid in $sksd_pid $replica_pids $haproxy_pid; do
        kill "$sk_pid" 2>/dev/null || true
        wait "$sk_pid" 2>/dev/null || true
    done
    sksd_pid=
    replica_pids=
    haproxy_pid=
}

# A token, a test PKI for SPC 1234 and $sks_work/sks.conf.
sksd_setup() {
    sks_mkwork
    trap 'sksd_rc=$?; sksd_kill; [ -z "$sksd_shared" ] || rm -rf "$sksd_shared"
        (exit $sksd_rc); sks_cleanup' EXIT
    sksd_sock=$sks_work/import.sock
    make_token sksd-test
    run_ok pki "$SKSCTL" pki --out "$sks_work/pki" --spc "$SKSD_SPC"
    write_sksd_conf "$sks_work/sks.conf"
}

# Writes the configuration to $1; more lines for [sksd_limits] come from $2.
write_sksd_conf() {
    cat > "$1" <<EOF
[sks]
pkcs11_module = $SOFTHSM_MODULE
token = $SKS_TOKEN_LABEL
pin_file = $SKS_PIN_FILE
trust_anchors = $sks_work/pki/root.pem
# The test PKI's CRLs are not served here: sksd-crl.sh serves them.
crl_check = no

[sksd]
listen = 127.0.0.1:0
identities = sksd_identities
limits = sksd_limits
import_unix = sksd_import_unix

[sksd_identities]
default = sp-main

[sksd_limits]
connection_timeout = 10
drain_seconds = 10
${2:-}

[sksd_import_unix]
path = $sks_work/import.sock
allowed_uids = $(id -u)
EOF
}

# sksd_share_socket: moves the import socket of $sks_work/sks.conf into a
# fresh directory under /tmp that every uid may pass through (mode 711),
# removed at exit, for a test that connects as another uid: the work
# directory lies in the build tree, whose ancestors may be closed to others
# (a checkout under /root).  Call before sksd_start; returns 1 when no such
# directory can be made.
sksd_share_socket() {
    sksd_shared=$(mktemp -d /tmp/sksd-sock.XXXXXX) || return 1
    chmod 711 "$sksd_shared" || return 1
    sed -i "s|^path = $sksd_sock\$|path = $sksd_shared/import.sock|" "$sks_work/sks.conf"
    sksd_sock=$sksd_shared/import.sock
}

# Starts sksd with configuration $1 (default $sks_work/sks.conf); sets
# $sksd_pid and $sksd_port.  The log is $sks_work/sksd.log.
sksd_start() {
    # Emptied here, not by the background job's redirection: that may run
    # after the loop below has read the previous daemon's "ready".
    : > "$sks_work/sksd.log"
    "$SKSD" -c "${1:-$sks_work/sks.conf}" > "$sks_work/sksd.log" 2>&1 &
    sksd_pid=$!
    sksd_port=$(sksd_wait_ready "$sksd_pid" "$sks_work/sksd.log") || { sksd_pid=; exit 1; }
}

# sksd_wait_ready PID LOG: waits up to 20 s for the sksd PID to log "ready"
# in LOG; prints its signing port.
sksd_wait_ready() {
    WAIT_STARTED_SECONDS=20 wait_started sksd "$1" "$2" grep -qs "sksd: ready" "$2"
    swr_port=$(sed -n 's/.*signing API listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" |
        tail -n 1)
    [ -n "$swr_port" ] || fail "sksd did not log its signing port"
    echo "$swr_port"
}

# wait_log TEXT WHAT: waits up to 10 s for TEXT in the daemon's log.
wait_log() {
    wl_i=0
    until grep -qF "$1" "$sks_work/sksd.log"; do
        wl_i=$((wl_i + 1))
        [ "$wl_i" -lt 100 ] || fail "$2"
        sleep 0.1
    done
}

# json FILE PATH: the value at a dotted PATH of the JSON in FILE.
json() {
    "$SKSD_CLIENT" json "$1" "$2"
}

# import_api NAME METHOD PATH [BODY]: the import API over the Unix socket.
# The answer goes to $sks_work/NAME.json; prints the status code.
import_api() {
    if [ -n "${4:-}" ]; then
        printf '%s' "$4" > "$sks_work/$1.req"
    else
        : > "$sks_work/$1.req"
    fi
    curl -sS --unix-socket "${sksd_sock:-$sks_work/import.sock}" -X "$2" \
        -H 'Content-Type: application/json' --data-binary "@$sks_work/$1.req" \
        -o "$sks_work/$1.json" -w '%{http_code}' "http://sksd$3"
}

# The same, where anything but status $2 fails the test.
import_ok() {
    want=$1
    shift
    code=$(import_api "$@") || fail "$1: curl could not reach the import socket"
    [ "$code" = "$want" ] || { cat "$sks_work/$1.json" >&2; fail "$1: status $code, not $want"; }
}

# sign NAME BODY [QUERY]: POSTs BODY to the signing API; the answer goes to
# $sks_work/NAME.json, the status is printed.
sign() {
    printf '%s' "$2" > "$sks_work/$1.req"
    curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$sks_work/$1.req" \
        -o "$sks_work/$1.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing${3:-}"
}

# The SP certificate the test STI-CA issues for CSR $1, written to $2 (ATIS-1000080 profile).
# Its CRL distribution point is $sp_crl (default crl.pem) on the loopback
# STI-CR once sksd_verify_on ran.
issue_cert() {
    cat > "$sks_work/sp-ext.cnf" <<EOF
[sp]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.16.840.1.114569.1.1.1
crlDistributionPoints = URI:${sts_base:-https://sti-ca.test}/${sp_crl:-crl.pem}
1.3.6.1.5.5.7.1.26 = DER:30:08:A0:06:16:04:31:32:33:34
EOF
    run_ok "issue-$(basename "$2")" sw_openssl x509 -req -in "$1" -CA "$sks_work/pki/ca.pem" \
        -CAkey "$sks_work/pki/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
        -days 30 -sha256 -extfile "$sks_work/sp-ext.cnf" -extensions sp -out "$2"
}

# The x5u of version $2 of identity $1 in these tests: the loopback STI-CR
# once sksd_verify_on ran.
x5u_of() {
    echo "${sts_base:-https://cert.example.org}/$1-$2.pem"
}

# provision_version IDENTITY [activate]: generate in the token, issue, attach
# (and activate); prints the version.  Its certificate is
# $sks_work/IDENTITY-VERSION.pem.
provision_version() {
    import_ok 201 gen-$1 POST "/sks/v1/identities/$1/generate" "{\"spc\":\"$SKSD_SPC\"}"
    pv_version=$(json "$sks_work/gen-$1.json" version)
    json "$sks_work/gen-$1.json" csr > "$sks_work/$1-$pv_version.csr"
    issue_cert "$sks_work/$1-$pv_version.csr" "$sks_work/$1-$pv_version.pem"
    "$SKSD_CLIENT" attach-body "$sks_work/$1-$pv_version.pem" "$sks_work/pki/chain.pem" \
        "$(x5u_of "$1" "$pv_version")" > "$sks_work/attach-$1.body"
    import_ok 200 attach-$1 POST "/sks/v1/identities/$1/versions/$pv_version/attach" \
        "$(cat "$sks_work/attach-$1.body")"
    if [ "${2:-}" = activate ]; then
        import_ok 200 activate-$1 POST "/sks/v1/identities/$1/versions/$pv_version/activate"
    fi
    echo "$pv_version"
}

# verify_identity NAME FILE CERT [sksctl verify options]: the Identity header in
# FILE verifies with CERT chained to the test root (sksctl verify --trust).
verify_identity() {
    vi_name=$1
    vi_file=$2
    vi_cert=$3
    shift 3
    cat "$vi_cert" "$sks_work/pki/chain.pem" > "$sks_work/$vi_name.certs"
    run_ok "$vi_name" "$SKSCTL" verify --cert "$sks_work/$vi_name.certs" \
        --trust "$sks_work/pki/root.pem" "$@" "$(cat "$vi_file")"
}

# ---- the verification API (sksd-verification.sh, bench_sksd) ------------------

# sksd_verify_on [LINE...]: a loopback STI-CR (https_server_start serving
# $sks_work/www at $sts_base) holds the versions' x5u from here on, and
# $sks_work/sks.conf turns on [verify], trusting that server's TLS CA; the
# test STI-CA's CRL is served there as crl.pem.  Each
# LINE is one more [sksd_verify] setting.  Call before sksd_start.
sts_base=
sksd_verify_on() {
    mkdir -p "$sks_work/www"
    https_server_start "$sks_work/www"
    sts_base=https://localhost:$https_port
    sed -i 's/^import_unix = sksd_import_unix$/&\nverify = sksd_verify/' "$sks_work/sks.conf"
    cp "$sks_work/pki/crl.pem" "$sks_work/www/crl.pem"
    printf '\n[sksd_verify]\nx5u_ca_file = %s\nx5u_allow_private = yes\n' "$https_ca" \
        >> "$sks_work/sks.conf"
    for svo_line in "$@"; do
        printf '%s\n' "$svo_line" >> "$sks_work/sks.conf"
    done
}

# publish IDENTITY VERSION: its certificate and the test chain, at its x5u on the STI-CR.
publish() {
    cat "$sks_work/$1-$2.pem" "$sks_work/pki/chain.pem" > "$sks_work/www/$1-$2.pem"
}

# ---- replicas behind HAProxy (sksd-replicas.sh, bench_hsm_latency) ----------

# replica_start NAME CONF: one more sksd, with configuration CONF (give each
# its own import socket) and its log in $sks_work/NAME.log; sets
# $replica_pid and $replica_port.  Stopped when the test exits.
replica_start() {
    : > "$sks_work/$1.log"
    "$SKSD" -c "$2" > "$sks_work/$1.log" 2>&1 &
    replica_pid=$!
    replica_pids="$replica_pids $replica_pid"
    replica_port=$(sksd_wait_ready "$replica_pid" "$sks_work/$1.log") || exit 1
}

# replica_conf CONF NAME: writes $sks_work/NAME.conf, CONF with the import
# socket $sks_work/NAME.sock; prints its path.
replica_conf() {
    sed "s|^path = .*|path = $sks_work/$2.sock|" "$1" > "$sks_work/$2.conf"
    echo "$sks_work/$2.conf"
}

# haproxy_start PORT...: HAProxy in the foreground as the test user, with
# doc/haproxy-sksd.cfg's settings on a free loopback port and one server per
# replica signing PORT; sets $haproxy_port.  Its configuration and log are
# $sks_work/haproxy.cfg and haproxy.log.
haproxy_start() {
    command -v haproxy >/dev/null 2>&1 || fail "haproxy is not installed (quickstart.sh installs it)"
    haproxy_port=$(free_port)
    hs_servers=
    hs_n=0
    for hs_p in "$@"; do
        hs_n=$((hs_n + 1))
        hs_servers="$hs_servers    server sksd$hs_n 127.0.0.1:$hs_p check
"
    done
    # The example configuration with this test's addresses: the frontend on
    # $haproxy_port and the servers; nothing else differs.
    sed -e "s|^    bind .*|    bind 127.0.0.1:$haproxy_port|" -e '/^    server /d' \
        -e '/^    user /d' -e '/^    group /d' -e '/^    daemon/d' -e '/^    log /d' \
        -e '/^    chroot /d' -e '/^    stats socket /d' \
        "$top_srcdir/doc/haproxy-sksd.cfg" > "$sks_work/haproxy.cfg"
    printf '%s' "$hs_servers" >> "$sks_work/haproxy.cfg"
    haproxy -db -f "$sks_work/haproxy.cfg" > "$sks_work/haproxy.log" 2>&1 &
    haproxy_pid=$!
    wait_started haproxy "$haproxy_pid" "$sks_work/haproxy.log" \
        curl -s -o /dev/null "http://127.0.0.1:$haproxy_port/healthz"
}

# sksd_use_p11fault: the token's module in $sks_work/sks.conf becomes
# p11fault (tests/p11fault) in front of SoftHSM2; p11fault_control sets its
# faults.  $P11FAULT_SO is the module.
sksd_use_p11fault() {
    P11FAULT_SO=$top_builddir/tests/p11fault/.libs/libp11fault.so
    [ -f "$P11FAULT_SO" ] || skip "p11fault is not built at $P11FAULT_SO (make check builds it)"
    P11FAULT_MODULE=$SOFTHSM_MODULE
    P11FAULT_CONTROL=$sks_work/control
    export P11FAULT_MODULE P11FAULT_CONTROL
    : > "$sks_work/control"
    sed -i "s|^pkcs11_module = .*|pkcs11_module = $P11FAULT_SO|" "$sks_work/sks.conf"
}

# p11fault_control [DIRECTIVE...]: replaces p11fault's directives (none: no
# fault), atomically, for every process on the token.
p11fault_control() {
    if [ "$#" -gt 0 ]; then
        printf '%s\n' "$@" > "$sks_work/control.tmp"
    else
        : > "$sks_work/control.tmp"
    fi
    mv -f "$sks_work/control.tmp" "$sks_work/control"
}

