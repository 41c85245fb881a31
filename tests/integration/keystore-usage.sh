#!/bin/sh
# Usability: every sksctl command answers --help with its usage and exit 0,
# and sksctl(1) documents every command sksctl --help lists.
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

run_fails unknown "unknown command" "$SKSCTL" frobnicate
run_fails import-no-key "give --key or --wrapped" "$SKSCTL" import sp-x --cert x --x5u https://a/b
run_fails destroy-no-version "give IDENTITY VERSION" "$SKSCTL" destroy sp-x --yes
run_fails activate-bad-version "VERSION is a version number" "$SKSCTL" activate sp-x zero
pass "usage_errors_say_what_is_missing"
