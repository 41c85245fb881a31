# The test STI-PA and STI-CA (tests/acme/sti-fixture.py) for the ACME tests.
# Source it after tests/integration/common.sh and sks_mkwork:
#
#   sti_fixture_start SPC[,SPC...] [PKI]
#
# makes a test PKI with `sksctl pki` in $sti_pki (or takes the one in the
# directory PKI, e.g. ks_setup's, so that the key store trusts what the
# STI-CA issues), a TLS certificate for
# 127.0.0.1 (https_server_start's kind), an STI-PA account "sp-test" with
# the API key in $sti_api_key_file owning the SPCs given, and starts the
# fixture; sets $sti_base (https://127.0.0.1:PORT), $sti_tls_ca (its TLS CA),
# $sti_state (where a MODE file selects a hostile mode) and $sti_log.  The
# fixture takes https-server.py's place: it is stopped when the test exits.
# sti_mode MODE... writes the hostile modes (none: back to normal).
# sti_acme_section prints an [acme] section for the fixture (its directory, TLS CA and STI-PA).
# record_of IDENTITY prints its renewal record (sksctl acme renew's data object in the token).
# sti_token_state FILE [records] writes the token's state to FILE, to compare
# around a command that must leave it as it was.

sti_fixture_start() {
    command -v python3 >/dev/null 2>&1 || skip "python3 is not installed (quickstart.sh installs it)"
    env -u LD_PRELOAD python3 -c 'import cryptography' 2>/dev/null ||
        skip "python3-cryptography is not installed (quickstart.sh installs it)"
    command -v "$OPENSSL" >/dev/null 2>&1 || skip "the openssl command is not installed"
    [ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
    sti_state=$sks_work/sti-state
    sti_log=$sks_work/sti-fixture.log
    mkdir -p "$sti_state"
    if [ -n "${2:-}" ]; then
        sti_pki=$(cd "$2" && pwd)
    else
        sti_pki=$sks_work/sti-pki
        run_ok sti-pki "$SKSCTL" pki --out "$sti_pki" --spc "$1" --days 30
    fi
    hs_dir=$sks_work/sti-tls
    loopback_tls_make "$hs_dir"
    sti_tls_ca=$hs_dir/ca.pem
    sti_api_key_file=$sks_work/stipa-api-key
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$sti_api_key_file")
    sti_spcs=$(printf '%s' "$1" | sed 's/[^,][^,]*/"&"/g')
    printf '{"sp-test": {"key": "%s", "spcs": [%s]}}\n' "$(cat "$sti_api_key_file")" \
        "$sti_spcs" > "$sti_state/stipa-accounts.json"
    env -u LD_PRELOAD python3 "$top_srcdir/tests/acme/sti-fixture.py" "$sti_pki" "$sti_state" \
        "$hs_dir/tls.pem" "$hs_dir/tls.key" "$sti_tls_ca" "$sti_state/port" > "$sti_log" 2>&1 &
    https_server_pid=$!
    wait_started "sti-fixture.py" "$https_server_pid" "$sti_log" test -s "$sti_state/port"
    sti_base=https://127.0.0.1:$(cat "$sti_state/port")
}

sti_acme_section() {
    echo "[acme]"
    echo "directory = $sti_base/acme/directory"
    echo "ca_file = $sti_tls_ca"
    echo "allow_private = yes"
    echo "stipa_url = $sti_base/stipa"
    echo "stipa_account = sp-test"
    echo "stipa_credentials = $sti_api_key_file"
    echo "stipa_ca_file = $sti_tls_ca"
}

# The renewal record of identity $1 (the token's data object), as JSON.
record_of() {
    # mawk's index() reads past its buffer, which a sanitizer run's preloaded
    # ASan runtime stops: it is none of our code.
    p11tool_login -O 2>/dev/null |
        env -u LD_PRELOAD awk -v id="\"identity\":\"$1\"" '/label:/ && index($0, id) { sub(/^ *label: *\047/, ""); sub(/\047 *$/, ""); print }'
}

sti_mode() {
    : > "$sti_state/MODE"
    for sm in "$@"; do printf '%s\n' "$sm" >> "$sti_state/MODE"; done
}

# sti_probe ARGS...: tests/acme/acme-probe.py against the fixture.
sti_probe() {
    env -u LD_PRELOAD python3 "$top_srcdir/tests/acme/acme-probe.py" "$sti_base" "$sti_tls_ca" "$@"
}

# sti_curl ARGS...: curl trusting the fixture's TLS CA (not our code: it runs
# without the sanitizer run's ASan preload).
sti_curl() {
    env -u LD_PRELOAD curl -sS --cacert "$sti_tls_ca" "$@"
}

# sti_token_state FILE [records]: every object on the token, in a set
# order, and what sksctl list says (ks, keystore-common.sh), into FILE.  The
# key store's change marker (a data object of application
# shaken-sks/changed) is left out: it
# moves whenever a version is made or removed, so that other processes
# re-read, even when the net change is none.  With "records", so is the text
# of the identity records, which counts writes and the next version number:
# a version attached, then destroyed, leaves them advanced while the objects
# and what sksctl list says are as they were.
sti_token_state() {
    token_listing "$1.objects"
    # One line per object, sorted: the token lists its objects in no set order.
    awk -v records="${2:-}" '
        function out() { if (obj != "" && obj !~ /shaken-sks\/changed/) print obj; obj = "" }
        /^[^ ]/ { out() }
        records == "records" && /^  label: *.\{"format"/ { next }
        { obj = obj (obj == "" ? "" : "\037") $0 }
        END { out() }' "$1.objects" | LC_ALL=C sort | tr '\037' '\n' > "$1.kept"
    ks list > "$1.list" 2>&1 || true
    cat "$1.kept" "$1.list" > "$1"
}
