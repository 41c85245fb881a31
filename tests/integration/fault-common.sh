# Helpers of the fault tests (tests/integration/fault-*.sh), on top of
# common.sh: a token whose module is p11fault (tests/p11fault/p11fault.c)
# forwarding to SoftHSM, the fault_sign driver run in the background, and
# the shim's control and statistics files.
#
#   . "$top_srcdir/tests/integration/fault-common.sh"
#   fault_setup LABEL
#
# Figures meant for the project's notes are printed as lines starting
# "FIGURE: <test> ", so that `grep -h '^FIGURE:' tests/integration/*.log`
# collects them.
. "$top_srcdir/tests/integration/common.sh"

P11FAULT_SO=$top_builddir/tests/p11fault/.libs/libp11fault.so
FAULT_SIGN=$top_builddir/tests/interop/fault_sign
# No command may hang a test: each runs under timeout(1) with this limit.
FAULT_CMD_TIMEOUT=60

# A token labelled $1 with one P-256 key; sets fault_key_uri and writes, in
# $sks_work (the current directory from then on): pub.pem (read without the
# shim) and fault.cnf, an openssl.cnf whose provider loads p11fault.
fault_setup() {
    require_softhsm
    require_provider
    command -v timeout >/dev/null 2>&1 || skip "timeout(1) is not installed"
    [ -f "$P11FAULT_SO" ] || fail "p11fault is not built at $P11FAULT_SO"
    require_program tests/interop/fault_sign "built by make check"
    sks_mkwork
    make_token "$1"
    cd "$sks_work"
    fault_key_uri=$(keygen fault-key 0f)
    write_openssl_cnf real.cnf
    run_ok pubout env OPENSSL_CONF="$sks_work/real.cnf" timeout "$FAULT_CMD_TIMEOUT" \
        "$OPENSSL" pkey -pubin -in "pkcs11:token=$SKS_TOKEN_LABEL;object=fault-key;type=public" \
        -pubout -out pub.pem
    fault_real_module=$SOFTHSM_MODULE
    SOFTHSM_MODULE=$P11FAULT_SO
    write_openssl_cnf fault.cnf
    SOFTHSM_MODULE=$fault_real_module
    P11FAULT_MODULE=$fault_real_module
    P11FAULT_CONTROL=$sks_work/control
    P11FAULT_STATS=$sks_work/stats
    export P11FAULT_MODULE P11FAULT_CONTROL P11FAULT_STATS
    fault_control
}

# fault_control [LINE...]: replaces the shim's directives (none: no fault).
# The rename makes the change atomic for the shim, which may read at any time.
fault_control() {
    printf '%s\n' "$@" > "$sks_work/control.tmp"
    mv -f "$sks_work/control.tmp" "$sks_work/control"
}

now_us() {
    echo $(($(date +%s%N) / 1000))
}

# wait_until SECONDS WHAT CMD...: polls CMD every 20 ms; fails after SECONDS.
# While a driver runs, its early death ends the wait at once.
wait_until() {
    wait_limit=$(($(now_us) + $1 * 1000000))
    wait_what=$2
    shift 2
    until "$@"; do
        if [ -n "${driver_pid:-}" ] && ! kill -0 "$driver_pid" 2>/dev/null && ! "$@"; then
            cat "$sks_work/$driver_name.out" >&2
            fail "fault_sign exited while waiting until $wait_what"
        fi
        [ "$(now_us)" -lt "$wait_limit" ] || fail "gave up after $1 s waiting until $wait_what"
        sleep 0.02
    done
}

# stat_value FILE KEY: the number that ends the line starting with KEY (0 when none).
# Numbers are printed as read: mawk would print a microsecond time as 1.8e+15.
stat_value() {
    awk -v k="$2" 'index($0, k " ") == 1 { v = $NF } END { print (v == "" ? 0 : v) }' "$1" \
        2>/dev/null || echo 0
}

# stat_above FILE KEY N: true once the value of KEY exceeds N.
stat_above() {
    [ "$(stat_value "$1" "$2")" -gt "$3" ]
}

# stat_field FILE KIND I FIELD: FIELD= of the Ith "rule" (calls, hits) or
# "window" (start_us, end_us, restarted_us) line of the statistics.
stat_field() {
    awk -v t="$2" -v i="$3" -v f="$4=" '$1 == t && $2 == i {
        for (n = 3; n <= NF; n++) if (index($n, f) == 1) v = substr($n, length(f) + 1)
    } END { print (v == "" ? 0 : v) }' "$1"
}

# driver_start NAME [OPTIONS...]: fault_sign in the background on the test key,
# its output in NAME.out; returns once it has signed (NAME.ready).  It runs
# until driver_stop, or until its own -n limit.  The shim's statistics
# start afresh with each driver.  FAULT_WRAPPER, when set, is a command line
# that runs fault_sign (valgrind ...).
driver_start() {
    driver_name=$1
    shift
    rm -f "$sks_work/$driver_name.ready" "$sks_work/$driver_name.stop" "$sks_work/$driver_name.go" \
        "$sks_work"/stats "$sks_work"/stats.*
    # shellcheck disable=SC2086 # FAULT_WRAPPER is a command line (valgrind ...)
    OPENSSL_CONF=$sks_work/fault.cnf timeout "$FAULT_CMD_TIMEOUT" ${FAULT_WRAPPER:-} "$FAULT_SIGN" \
        -r "$sks_work/$driver_name.ready" -s "$sks_work/$driver_name.stop" "$@" \
        "$fault_key_uri" "$sks_work/pub.pem" > "$sks_work/$driver_name.out" 2>&1 &
    driver_pid=$!
    wait_until 30 "fault_sign has loaded the key and signed" test -f "$sks_work/$driver_name.ready"
}

# driver_go: lets a driver started with -g "$sks_work/$driver_name.go" begin.
driver_go() {
    : > "$sks_work/$driver_name.go"
}

# driver_wait: waits for the driver to exit; it must exit 0 (every signature
# it made verified) and not through the watchdog or a signal.
driver_wait() {
    driver_rc=0
    wait "$driver_pid" || driver_rc=$?
    driver_pid=
    if [ "$driver_rc" -ne 0 ]; then
        cat "$sks_work/$driver_name.out" >&2
        if [ "$driver_rc" -eq 124 ]; then
            fail "$driver_name: fault_sign hung (killed after $FAULT_CMD_TIMEOUT s)"
        fi
        fail "$driver_name: fault_sign exited with $driver_rc"
    fi
    assert_grep "$driver_name" "SUMMARY " "$sks_work/$driver_name.out"
    # A directive p11fault refused would leave a test injecting nothing.
    for f in $(stats_files); do
        if grep '^error ' "$f" >&2; then fail "$driver_name: p11fault refused a directive"; fi
    done
    fault_table
}

# stats_files: the statistics of the last driver run: stats, and stats.PID
# for a forked child (not the temporary files the shim renames into place).
stats_files() {
    for f in "$sks_work"/stats "$sks_work"/stats.*; do
        case $f in
        *.tmp.*) ;;
        *) [ -f "$f" ] && echo "$f" ;;
        esac
    done
}

# fault_table: what p11fault injected in the last driver run, by kind, one
# FIGURE line per process.
fault_table() {
    for f in $(stats_files); do
        figure "$driver_name: faults_by_kind ($(basename "$f"))" \
            "$(awk '$1 == "total" { printf "%s=%s ", $2, $3 }' "$f")restarts=$(stat_value "$f" restarts)"
    done
}

driver_stop() {
    : > "$sks_work/$driver_name.stop"
    driver_wait
}

# driver_count WORD: lines of the driver's output that start with WORD.
driver_count() {
    grep -c "^$1 " "$sks_work/$driver_name.out" || true
}

# summary_field FIELD: a figure of the driver's SUMMARY line.
summary_field() {
    sed -n "s/^SUMMARY .*$1=\([0-9]*\).*/\1/p" "$sks_work/$driver_name.out"
}

figure() {
    echo "FIGURE: $sks_test_name $*"
}
