# Shared helpers for the integration tests.  Source it from a test script:
#
#   . "$top_srcdir/tests/integration/common.sh"
#
# The test harness (tests/local.mk through Makefile.am) exports top_srcdir,
# top_builddir, SOFTHSM_MODULE and OPENSSL_MODULES.  Every test makes its own
# throwaway SoftHSM2 token in a fresh directory and removes it on exit (set
# SKS_KEEP_TMP=1 to keep it for a post-mortem).
#
# Scripts speak TAP (automake's tap-driver.sh reads them, stdout and stderr
# merged): pass prints "ok N - what held", fail "not ok N - what did not",
# and the plan "1..N" comes when the script exits, so no script counts its
# assertions.  An exit for any other reason (set -e, a signal) is a "not ok"
# that names the exit status.  A missing prerequisite is a skip: "1..0 # SKIP
# why" before any assertion, "ok N # SKIP why" after one.  Nothing else that
# a script prints may start with "ok", "not ok", "1.." or "Bail out!".
#
# Scripts are POSIX sh: `make check` runs them with $(SHELL).

set -eu

: "${top_srcdir:?top_srcdir is not set: run through make check}"
: "${top_builddir:?top_builddir is not set: run through make check}"

SKSCTL=$top_builddir/sksctl
SKS_PROVIDER_DIR=${OPENSSL_MODULES:-$top_builddir/provider/.libs}
SKS_PROVIDER_SO=$SKS_PROVIDER_DIR/sks.so
OPENSSL=${OPENSSL:-openssl}
SKS_LIBP11_ENGINE=${SKS_LIBP11_ENGINE:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}
export OPENSSL_MODULES=$SKS_PROVIDER_DIR

# The variables below belong to the test: nothing from the caller's shell may
# change which module, token or PIN the provider picks.
unset SKS_PKCS11_MODULE SKS_PKCS11_TOKEN_PIN SKS_PKCS11_TOKEN OPENSSL_CONF \
    PKCS11_MODULE_PATH OPENSSL_ENGINES 2>/dev/null || true

sks_test_name=$(basename "$0" .sh)
sks_work=

# One line in this file per TAP result printed, "ok" or "not ok": results
# printed in a subshell count too.
sks_tap_results=$(mktemp "${TMPDIR:-/tmp}/sks-tap-$sks_test_name.XXXXXX")
sks_tap_skipped=0

# The number of the next result, recorded as of kind $1.
sks_tap_next() {
    echo "$1" >> "$sks_tap_results"
    echo $(($(wc -l < "$sks_tap_results")))
}

skip() {
    sks_tap_skipped=1
    if [ -s "$sks_tap_results" ]; then
        echo "ok $(sks_tap_next ok) # SKIP $*"
    else
        echo "1..0 # SKIP $*"
    fi
    exit 0
}

# On stderr, which the driver reads too: a fail inside $(...) or a
# { ...; } >&2 block still reaches it.
fail() {
    echo "not ok $(sks_tap_next 'not ok') - $*" >&2
    exit 1
}

# One line per assertion that held, so the .log reads as a list of behaviours.
pass() {
    echo "ok $(sks_tap_next ok) - $*"
}

# The EXIT trap's last step, with the script's exit status $1: the plan, and
# a "not ok" for an exit that no fail explained.
sks_tap_finish() {
    trap - EXIT
    set +e
    if [ "$1" -ne 0 ] && ! grep -q '^not ok' "$sks_tap_results"; then
        echo "not ok $(sks_tap_next 'not ok') - exited with status $1" \
            "after the last result above (a command failed under set -e, or a signal)"
    fi
    sks_tap_n=$(($(wc -l < "$sks_tap_results")))
    rm -f "$sks_tap_results"
    if [ "$sks_tap_skipped" = 0 ] || [ "$sks_tap_n" -gt 0 ]; then
        echo "1..$sks_tap_n"
    fi
    exit "$1"
}
trap 'sks_tap_finish $?' EXIT

# pass_each FILE [PREFIX]: each "ok - what" line that a test program wrote to
# FILE is an assertion of this script ("ok N - PREFIXwhat"); its other lines
# are shown as they are.
pass_each() {
    while IFS= read -r pe_line; do
        case $pe_line in
        "ok - "*) pass "${2:-}${pe_line#ok - }" ;;
        *) printf '%s\n' "$pe_line" ;;
        esac
    done < "$1"
}

sks_cleanup() {
    sks_rc=$?
    p11kit_server_stop
    [ -z "$https_server_pid" ] || kill "$https_server_pid" 2>/dev/null || true
    if [ -n "$sks_work" ] && [ -d "$sks_work" ]; then
        if [ "${SKS_KEEP_TMP:-0}" = 1 ]; then
            echo "kept $sks_work"
        else
            rm -rf "$sks_work"
        fi
    fi
    sks_tap_finish "$sks_rc"
}

# Creates $sks_work, a fresh directory removed when the script exits.
sks_mkwork() {
    mkdir -p "$top_builddir/tests/tmp"
    sks_work=$(mktemp -d "$top_builddir/tests/tmp/$sks_test_name.XXXXXX")
    # The key store's lock files (sksctl(1), FILES) go with the work directory.
    mkdir -m 700 "$sks_work/run"
    XDG_RUNTIME_DIR=$sks_work/run
    export XDG_RUNTIME_DIR
    trap sks_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    write_plain_cnf "$sks_work/plain.cnf"
}

# ---- prerequisites ---------------------------------------------------------

require_softhsm() {
    if [ -z "${SOFTHSM_MODULE:-}" ]; then
        for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*-linux-gnu/softhsm/libsofthsm2.so \
                 /usr/local/lib/softhsm/libsofthsm2.so; do
            if [ -f "$m" ]; then SOFTHSM_MODULE=$m; break; fi
        done
    fi
    [ -n "${SOFTHSM_MODULE:-}" ] && [ -f "$SOFTHSM_MODULE" ] ||
        skip "SoftHSM2 module not found (install softhsm2 or configure --with-softhsm)"
    export SOFTHSM_MODULE
    command -v "$OPENSSL" >/dev/null 2>&1 || skip "the openssl command is not installed"
    [ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
}

require_provider() {
    [ -f "$SKS_PROVIDER_SO" ] || fail "the sks provider is not built at $SKS_PROVIDER_SO"
}

require_pkcs11_tool() {
    command -v pkcs11-tool >/dev/null 2>&1 || skip "pkcs11-tool (opensc) is not installed"
}

require_libp11_engine() {
    [ -f "$SKS_LIBP11_ENGINE" ] ||
        skip "libp11's OpenSSL engine is not installed at $SKS_LIBP11_ENGINE (libengine-pkcs11-openssl)"
}

# wait_started WHAT PID LOG COMMAND...: waits up to WAIT_STARTED_SECONDS
# (default 10) for COMMAND to succeed while the process PID that WHAT names
# runs; otherwise shows its LOG and fails the test.
wait_started() {
    ws_what=$1
    ws_pid=$2
    ws_log=$3
    shift 3
    ws_i=0
    until "$@"; do
        ws_i=$((ws_i + 1))
        if [ "$ws_i" -gt $((${WAIT_STARTED_SECONDS:-10} * 10)) ] || ! kill -0 "$ws_pid" 2>/dev/null; then
            cat "$ws_log" >&2
            fail "$ws_what did not start"
        fi
        sleep 0.1
    done
}

# free_port: a TCP port on 127.0.0.1 that no socket uses now, below the
# kernel's ephemeral range: a port in that range can be taken as the source
# port of any outgoing connection between the choice and the bind.
free_port() {
    fp_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$fp_low" -gt 12000 ] 2>/dev/null || fp_low=32768
    fp_port=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (fp_low - 10000) ))
    while ss -Htan "sport = :$fp_port" 2>/dev/null | grep -q .; do
        fp_port=$(( fp_port + 1 < fp_low ? fp_port + 1 : 10000 ))
    done
    echo "$fp_port"
}

# ---- an HTTPS server on loopback -------------------------------------------

# sksctl_fetch_work: the start of an sksctl test that fetches: a work
# directory to cd into, whose www/ a loopback HTTPS server serves at $base.
sksctl_fetch_work() {
    command -v "$OPENSSL" >/dev/null 2>&1 || skip "the openssl command is not installed"
    [ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
    sks_mkwork
    cd "$sks_work" || fail "cannot enter $sks_work"
    mkdir www
    https_server_start www
    base=https://localhost:$https_port
}

# loopback_tls_make DIR: in DIR, a TLS CA of its own (ca.pem, ca.key) and a
# certificate for localhost and 127.0.0.1 it issued (tls.pem, tls.key).
loopback_tls_make() {
    mkdir -p "$1"
    sw_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=test TLS CA" -keyout "$1/ca.key" -out "$1/ca.pem"
    sw_openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$1/tls.key" -out "$1/tls.csr"
    printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n' > "$1/tls.ext"
    sw_openssl x509 -req -in "$1/tls.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
        -set_serial 1 -days 2 -extfile "$1/tls.ext" -out "$1/tls.pem"
}

# https_server_start DIR: tests/integration/https-server.py serving DIR on a
# free 127.0.0.1 port with a TLS certificate for localhost and 127.0.0.1
# from a CA of its own; sets $https_port and $https_ca (that CA, PEM).  Its
# log, a line per request, is $sks_work/https-server.log.  Stopped when the
# test exits.
https_server_pid=
https_server_start() {
    command -v python3 >/dev/null 2>&1 || skip "python3 is not installed (quickstart.sh installs it)"
    hs_dir=$sks_work/https-tls
    loopback_tls_make "$hs_dir"
    # None of our code: it runs without the sanitizer run's ASan preload.
    env -u LD_PRELOAD python3 "$top_srcdir/tests/integration/https-server.py" "$1" \
        "$hs_dir/tls.pem" "$hs_dir/tls.key" "$hs_dir/port" > "$sks_work/https-server.log" 2>&1 &
    https_server_pid=$!
    wait_started "https-server.py" "$https_server_pid" "$sks_work/https-server.log" \
        test -s "$hs_dir/port"
    https_port=$(cat "$hs_dir/port")
    https_ca=$hs_dir/ca.pem
}

# ---- p11-kit remoting -------------------------------------------------------

# find_p11kit_client: sets $P11KIT_CLIENT to p11-kit's client module; fails
# (returns 1) when it or the p11-kit command is not installed.
find_p11kit_client() {
    P11KIT_CLIENT=
    command -v p11-kit >/dev/null 2>&1 || return 1
    for fpc_m in /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so \
                 /usr/lib/*-linux-gnu/pkcs11/p11-kit-client.so /usr/lib/pkcs11/p11-kit-client.so; do
        if [ -f "$fpc_m" ]; then P11KIT_CLIENT=$fpc_m; return 0; fi
    done
    return 1
}

require_p11kit_client() {
    find_p11kit_client ||
        skip "p11-kit or p11-kit-client.so is not installed (packages p11-kit, p11-kit-modules)"
}

# p11kit_server_start NAME TOKEN-URI: a foreground `p11-kit server` that
# exports the tokens of $SOFTHSM_MODULE matching TOKEN-URI on
# $sks_work/NAME.sock (its output in NAME.server.out), in place of the one
# started before; exports P11_KIT_SERVER_ADDRESS for p11-kit-client.so.
# Stopped when the test exits.
p11kit_server_pid=
p11kit_server_start() {
    p11kit_server_stop
    p11-kit server -f -n "$sks_work/$1.sock" --provider "$SOFTHSM_MODULE" "$2" \
        > "$sks_work/$1.server.out" 2>&1 &
    p11kit_server_pid=$!
    wait_started "p11-kit server" "$p11kit_server_pid" "$sks_work/$1.server.out" \
        test -S "$sks_work/$1.sock"
    P11_KIT_SERVER_ADDRESS=unix:path=$sks_work/$1.sock
    export P11_KIT_SERVER_ADDRESS
}

p11kit_server_stop() {
    [ -n "$p11kit_server_pid" ] || return 0
    kill "$p11kit_server_pid" 2>/dev/null || true
    wait "$p11kit_server_pid" 2>/dev/null || true
    p11kit_server_pid=
}

# A test program built by check_PROGRAMS; skips when configure left it out.
require_program() {
    [ -x "$top_builddir/$1" ] || skip "$1 was not built ($2)"
}

# ---- tokens and keys -------------------------------------------------------

# Makes a throwaway token labelled $1 under $sks_work and sources its env:
# SOFTHSM2_CONF, SOFTHSM_MODULE, SKS_TOKEN_LABEL, SKS_PIN_FILE, SKS_SO_PIN_FILE.
make_token() {
    SKSCTL=$SKSCTL "$top_srcdir/softhsm-conf/mktoken.sh" "$sks_work/token" "${1:-sks-test}" ||
        fail "mktoken.sh could not create a token"
    . "$sks_work/token/env"
}

# sksctl keygen LABEL HEXID: prints the private key's pkcs11: URI.
keygen() {
    "$SKSCTL" keygen --module "$SOFTHSM_MODULE" --token "$SKS_TOKEN_LABEL" \
        --pin-file "$SKS_PIN_FILE" --label "$1" --id "$2" ||
        fail "sksctl keygen --label $1 --id $2 failed"
}

# pkcs11-tool against the test token.  The PIN goes through the environment
# (--pin env:VAR), never argv.  pkcs11-tool loads none of our code, and
# OpenSC 0.23's own use-after-free when it reads an EC public key would stop
# a sanitizer run: it runs without the preloaded ASan runtime.
p11tool_login() {
    SKS_TEST_PIN=$(cat "$SKS_PIN_FILE") env -u LD_PRELOAD pkcs11-tool \
        --module "$SOFTHSM_MODULE" --token-label "$SKS_TOKEN_LABEL" --login \
        --pin env:SKS_TEST_PIN "$@"
}

p11tool_nologin() {
    env -u LD_PRELOAD pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$SKS_TOKEN_LABEL" "$@"
}

# The public key with CKA_ID $1, read by pkcs11-tool (no provider involved),
# written as a SubjectPublicKeyInfo PEM to $2.
p11tool_export_pubkey() {
    p11tool_nologin --read-object --type pubkey --id "$1" -o "$2.der" >/dev/null 2>&1 ||
        fail "pkcs11-tool could not read the public key with id $1"
    sw_openssl pkey -pubin -inform DER -in "$2.der" -out "$2" ||
        fail "openssl could not convert the public key with id $1"
}

# ---- OpenSSL configuration -------------------------------------------------

# Writes an openssl.cnf to $1 that activates the default and sks providers.
# $2 is the PIN file (default: the token's); $3 the token selector URI
# (default: the test token; "-" leaves it out).
write_openssl_cnf() {
    cnf_token=${3:-pkcs11:token=$SKS_TOKEN_LABEL}
    {
        echo "openssl_conf = openssl_init"
        echo "[openssl_init]"
        echo "providers = provider_sect"
        echo "[provider_sect]"
        echo "default = default_sect"
        echo "sks = sks_sect"
        echo "[default_sect]"
        echo "activate = 1"
        echo "[sks_sect]"
        echo "module = $SKS_PROVIDER_SO"
        echo "activate = 1"
        echo "pkcs11-module-path = $SOFTHSM_MODULE"
        echo "pkcs11-module-token-pin = file:${2:-$SKS_PIN_FILE}"
        if [ "$cnf_token" != "-" ]; then echo "sks-token = $cnf_token"; fi
    } > "$1"
}

# An openssl.cnf that loads nothing: the default provider alone, and no
# system-wide settings leaking into the test.
write_plain_cnf() {
    : > "$1"
}

# openssl with the default provider alone: the software side that checks
# what the token produced.
sw_openssl() {
    OPENSSL_CONF=$sks_work/plain.cnf "$OPENSSL" "$@"
}

# revoke CERT PKI-DIR CRL [ISSUER]: the CRL of an issuer of PKI-DIR (sksctl
# pki), listing CERT and every certificate revoked through it before,
# written to CRL (openssl ca -gencrl).  ISSUER is ca, the STI-CA (ca.pem,
# ca.key; the default), or root, the STI-PA (root.pem, root.key), whose CRL
# revokes STI-CA certificates.
revoke() {
    rv_by=${4:-ca}
    rv_db=$sks_work/$rv_by-db-$(basename "$2")
    mkdir -p "$rv_db"
    printf 'R\t%s\t%s\t%s\tunknown\t%s\n' \
        "$(date -u -d "$(sw_openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)" \
        "$(date -u +%y%m%d%H%M%SZ)" "$(sw_openssl x509 -in "$1" -noout -serial | cut -d= -f2)" \
        "$(sw_openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//')" \
        >> "$rv_db/index.txt"
    printf '[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = %s\ncertificate = %s\nprivate_key = %s\ndefault_md = sha256\ndefault_crl_days = 30\n' \
        "$rv_db/index.txt" "$2/$rv_by.pem" "$2/$rv_by.key" > "$rv_db/ca.cnf"
    run_ok "revoke-$(basename "$3")" sw_openssl ca -config "$rv_db/ca.cnf" -gencrl -out "$3"
}

# RFC 7518 3.4 r || s (32 bytes each) in file $1 to the DER ECDSA-Sig-Value
# that `openssl pkeyutl -verify` and `openssl dgst -verify` take, in file $2.
raw_sig_to_der() {
    [ "$(wc -c < "$1")" -eq 64 ] || fail "$1 is not a 64-byte r || s signature"
    raw_hex=$(od -An -tx1 -v "$1" | tr -d ' \n')
    {
        echo "asn1 = SEQUENCE:ecdsa_sig"
        echo "[ecdsa_sig]"
        echo "r = INTEGER:0x$(echo "$raw_hex" | cut -c1-64)"
        echo "s = INTEGER:0x$(echo "$raw_hex" | cut -c65-128)"
    } > "$2.cnf"
    sw_openssl asn1parse -genconf "$2.cnf" -out "$2" -noout ||
        fail "cannot re-encode $1 as a DER signature"
}

# ---- running commands ------------------------------------------------------

# run_ok NAME CMD...: CMD must succeed; its output goes to $sks_work/NAME.out.
run_ok() {
    run_name=$1
    shift
    if "$@" > "$sks_work/$run_name.out" 2>&1; then
        return 0
    else
        run_rc=$?
    fi
    cat "$sks_work/$run_name.out" >&2
    fail "$run_name: '$*' exited with $run_rc"
}

# run_fails NAME SUBSTRING CMD...: CMD must exit non-zero without a crash
# (status below 128, i.e. no signal) and print SUBSTRING (case-sensitive).
run_fails() {
    run_name=$1
    run_expect=$2
    shift 2
    if "$@" > "$sks_work/$run_name.out" 2>&1; then
        run_rc=0
    else
        run_rc=$?
    fi
    if [ "$run_rc" -eq 0 ]; then
        cat "$sks_work/$run_name.out" >&2
        fail "$run_name: '$*' succeeded but must fail"
    fi
    if [ "$run_rc" -ge 128 ]; then
        cat "$sks_work/$run_name.out" >&2
        fail "$run_name: '$*' crashed (exit status $run_rc)"
    fi
    if ! grep -qF -- "$run_expect" "$sks_work/$run_name.out"; then
        cat "$sks_work/$run_name.out" >&2
        fail "$run_name: the error does not say '$run_expect'"
    fi
}

# Fails unless files $2 and $3 are identical; $1 names the check.
assert_same_file() {
    cmp -s "$2" "$3" || {
        echo "--- $2"; cat "$2"; echo "--- $3"; cat "$3"
        fail "$1: $2 and $3 differ"
    } >&2
}

assert_grep() {
    grep -qF -- "$2" "$3" || {
        cat "$3"
        fail "$1: '$2' not found in $3"
    } >&2
}
