#!/bin/sh
# Usability: every sksctl command answers --help with its usage and exit 0,
# and sksctl(1) documents every command sksctl --help lists.  Also where the
# writers' lock file goes, and the members of sksctl list --json.
. "$top_srcdir/tests/integration/common.sh"

[ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
sks_mkwork
run_ok help "$SKSCTL" --help
commands=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$sks_work/help.out")
[ "$(echo "$commands" | wc -w)" -ge 18 ] || fail "sksctl --help lists too few commands: $commands"
for c in $commands; do
    run_ok "help-$c" "$SKSCTL" "$c" --help
    assert_grep "help-$c" "usage: sksctl $c" "$sks_work/help-$c.out"
    grep -q "^\.SS sksctl $(echo "$c" | sed 's/-/\\\\-/g')\( \|$\)" "$top_builddir/tools/sksctl.1" ||
        fail "sksctl(1) has no section for sksctl $c"
done
pass "every_command_has_help_and_a_man_page_section: $(echo $commands)"

# --x5u is optional for sksctl sign, in --help as in sksctl(1): an identity
# brings its own.
sed -n '/^usage/,/^$/p' "$sks_work/help-sign.out" > "$sks_work/sign-usage"
assert_grep help-sign "[--x5u URL]" "$sks_work/sign-usage"
if sed 's/\[--x5u URL\]//g' "$sks_work/sign-usage" | grep -q -- '--x5u'; then
    cat "$sks_work/sign-usage"
    fail "sksctl sign --help shows --x5u as required"
fi
grep -q '^\.SS sksctl sign .*\[\\-\\-x5u URL\]' "$top_builddir/tools/sksctl.1" ||
    fail "sksctl(1) does not show --x5u of sksctl sign as optional"
pass "sign_help_and_the_man_page_agree_that_x5u_is_optional"

run_fails unknown "unknown command" "$SKSCTL" frobnicate
run_fails import-no-key "give --key or --wrapped" "$SKSCTL" import sp-x --cert x --x5u https://a/b
run_fails destroy-no-version "give IDENTITY VERSION" "$SKSCTL" destroy sp-x --yes
run_fails activate-bad-version "VERSION is a version number" "$SKSCTL" activate sp-x zero
pass "usage_errors_say_what_is_missing"

# ---- a token of the test's own ---------------------------------------------
require_softhsm
make_token sks-usage
run_ok pki "$SKSCTL" pki --out "$sks_work/pki" --spc 1234
printf '%s\n' "[sks]" "pkcs11_module = $SOFTHSM_MODULE" "token = $SKS_TOKEN_LABEL" \
    "pin_file = $SKS_PIN_FILE" "trust_anchors = $sks_work/pki/root.pem" \
    "crl_check = no" > "$sks_work/ks.conf"

# The writers' lock file lives in the runtime directory, one per token, and
# the next runs take the same one: nothing lands in $TMPDIR (or /tmp).
mkdir "$sks_work/tmp"
for v in 1 2; do
    run_ok "import-$v" env XDG_RUNTIME_DIR="$sks_work/run" TMPDIR="$sks_work/tmp" \
        "$SKSCTL" import sp-usage -c "$sks_work/ks.conf" --key "$sks_work/pki/sp-1234.key" \
        --cert "$sks_work/pki/sp-1234-fullchain.pem" --x5u "https://cert.example.org/sp-usage-$v.pem"
done
run_ok activate-2 env XDG_RUNTIME_DIR="$sks_work/run" TMPDIR="$sks_work/tmp" \
    "$SKSCTL" activate sp-usage 2 -c "$sks_work/ks.conf"
locks=$(find "$sks_work/run" -name '*.lock' | wc -l)
[ "$locks" = 1 ] || { find "$sks_work/run"; fail "three runs left $locks lock files, not 1"; }
[ -z "$(ls -A "$sks_work/tmp")" ] || { ls -la "$sks_work/tmp"; fail "a lock file went to TMPDIR"; }
[ "$(stat -c %a "$sks_work/run/shaken-sks")" = 700 ] || fail "the lock directory is open to others"
pass "the_lock_file_is_in_the_runtime_directory_and_reused_by_the_next_runs"

# sksctl list --json speaks sksd's vocabulary (sksd-api.sh checks that both
# give the same document): camelCase members, times as RFC 3339 UTC strings.
command -v jq >/dev/null 2>&1 || skip "jq is not installed"
run_ok list-json "$SKSCTL" list -c "$sks_work/ks.conf" --json
jq -e '
    def time: type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$");
    [.identities[].versions[].state] == ["previous", "active"] and
    all(.identities[];
        keys == ["activeVersion", "name", "spc", "versions"] and (.name | type == "string") and
        (.spc | type == "string") and .activeVersion == 2 and
        all(.versions[];
            (keys == (["notAfter", "state", "uri", "version", "x5u"] +
                      if .state == "previous" then ["replacedAt", "usableUntil"] else [] end | sort)) and
            (.version | type == "number") and (.state | type == "string") and
            (.x5u | type == "string") and (.uri | startswith("pkcs11:")) and (.notAfter | time) and
            (.state != "previous" or ((.replacedAt | time) and (.usableUntil | time)))))
' "$sks_work/list-json.out" > /dev/null ||
    { cat "$sks_work/list-json.out"; fail "sksctl list --json: unexpected members or types"; }
pass "list_json_uses_camelcase_members_and_rfc3339_times"

# Without $XDG_RUNTIME_DIR and with /run closed: a directory of this user
# alone under $TMPDIR.  (Root can write /run, so it would leave a lock file
# for a token that is gone at exit in /run/shaken-sks.)
if [ "$(id -u)" = 0 ]; then
    echo "# TMPDIR fallback not run: root writes /run/shaken-sks"
else
    run_ok import-3 env -u XDG_RUNTIME_DIR TMPDIR="$sks_work/tmp" \
        "$SKSCTL" import sp-usage -c "$sks_work/ks.conf" --key "$sks_work/pki/sp-1234.key" \
        --cert "$sks_work/pki/sp-1234-fullchain.pem" --x5u https://cert.example.org/sp-usage-3.pem
    [ "$(find "$sks_work/tmp" -name '*.lock' | wc -l)" = 1 ] || fail "no lock file under TMPDIR"
    [ "$(stat -c %a "$sks_work/tmp/shaken-sks-$(id -u)")" = 700 ] ||
        fail "the lock directory under TMPDIR is open to others"
    pass "without_a_runtime_directory_the_lock_file_stays_out_of_tmp"
fi
