#!/bin/sh
# make install into a DESTDIR gives one coherent system install: the unit
# runs the installed sksd on the configuration path sksd --help and sksd(8)
# name, the example configuration sits beside that path, the user the unit
# runs as is declared for systemd-sysusers and its directory for
# systemd-tmpfiles, a second install leaves an existing sks.conf alone, and
# make uninstall removes every file it installed.
. "$top_srcdir/tests/integration/common.sh"

sks_mkwork
dest=$sks_work/dest
make_install() {
    ${MAKE:-make} -C "$top_builddir" "$@" DESTDIR="$dest" > "$sks_work/make.log" 2>&1 ||
        { cat "$sks_work/make.log"; fail "make $* DESTDIR=$dest failed"; }
}
make_install install

# $1: a file name; prints the one installed file of that name.
installed() {
    found=$(find "$dest" -path "*/$1" -type f)
    [ -n "$found" ] || fail "make install installed no $1"
    [ "$(printf '%s\n' "$found" | wc -l)" -eq 1 ] || fail "make install installed $1 twice: $found"
    printf '%s\n' "$found"
}
unit=$(installed systemd/system/sksd.service)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
sksd=${exec_start%% *}
conf=${exec_start##* -c }
[ "$exec_start" = "$sksd -c $conf" ] || fail "ExecStart is not 'SKSD -c CONFIG': $exec_start"
[ -x "$dest$sksd" ] || fail "the unit runs $sksd, which make install did not install"
pass "the unit runs the installed $sksd"
confdir=${conf%/*}
[ -f "$dest$confdir/sks.conf.example" ] ||
    fail "no sks.conf.example beside the unit's configuration $conf"
pass "the example configuration is installed beside $conf"

help_conf=$("$dest$sksd" --help | sed -n 's/.*(default \(.*\))$/\1/p')
[ "$help_conf" = "$conf" ] || fail "sksd --help names $help_conf, the unit $conf"
# Paths in the pages may break after a '/' (\:).
man_conf=$(sed -n '/^The configuration file (default$/{n;s/\\://g;s/^\.IR \([^ ]*\) ).*/\1/p;}' \
    "$(installed man8/sksd.8)")
[ "$man_conf" = "$conf" ] || fail "sksd(8) names the default configuration '$man_conf', sksd --help $conf"
pass "sksd --help, sksd(8) and the unit name the same configuration, $conf"
sksctl_conf=$("$dest${sksd%/sbin/sksd}/bin/sksctl" list --help | sed -n 's/.*(default \(.*\))$/\1/p')
sed 's/\\://g' "$(installed man1/sksctl.1)" | grep -q "^\.I $sksctl_conf\$" ||
    fail "sksctl(1) does not name sksctl's default configuration $sksctl_conf"
[ "$sksctl_conf" = "$conf" ] || fail "sksctl reads $sksctl_conf by default, sksd $conf"
pass "sksctl(1) and sksctl list --help name the same configuration"

# The renewal run: the installed sksctl on the same configuration, as the
# same user, hardened as sksd is, started by its timer twice a day.
renew_unit=$(installed systemd/system/sksctl-acme-renew.service)
renew_timer=$(installed systemd/system/sksctl-acme-renew.timer)
renew_exec=$(sed -n 's/^ExecStart=//p' "$renew_unit")
[ "$renew_exec" = "${sksd%/sbin/sksd}/bin/sksctl acme renew --all -c $conf" ] ||
    fail "the renewal unit runs '$renew_exec', not the installed sksctl acme renew --all on $conf"
[ -x "$dest${renew_exec%% *}" ] || fail "the renewal unit runs ${renew_exec%% *}, which is not installed"
hardening() {
    sed -n '/^NoNewPrivileges=/,/^ReadWritePaths=/p; /^User=/p; /^Group=/p' "$1"
}
hardening "$unit" > "$sks_work/sksd.hardening"
hardening "$renew_unit" > "$sks_work/renew.hardening"
[ -s "$sks_work/sksd.hardening" ] || fail "sksd.service has no hardening block"
assert_same_file "the renewal unit is hardened as sksd's" "$sks_work/sksd.hardening" \
    "$sks_work/renew.hardening"
grep -q '^Unit=sksctl-acme-renew.service$' "$renew_timer" || fail "the timer starts no renewal"
grep -q '^OnCalendar=.*00,12:00:00$' "$renew_timer" || fail "the timer does not run twice a day"
grep -q '^RandomizedDelaySec=' "$renew_timer" || fail "the timer's runs are not spread"
pass "sksctl-acme-renew.service/.timer: the installed sksctl on $conf, hardened as sksd, twice a day"

user=$(sed -n 's/^User=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
grep -q "^u $user " "$(installed sysusers.d/sksd.conf)" || fail "no sysusers.d entry declares the user $user"
grep -q "^d $confdir 0750 root $group " "$(installed tmpfiles.d/sksd.conf)" ||
    fail "no tmpfiles.d entry makes $confdir readable by group $group"
pass "sysusers.d declares $user; tmpfiles.d makes $confdir (root:$group 0750)"

# What systemd-sysusers makes of it on an empty system: the user, and its
# membership of softhsm, the group of SoftHSM2's token store.
command -v systemd-sysusers >/dev/null 2>&1 || fail "systemd-sysusers is not installed (quickstart.sh installs systemd)"
mkdir -p "$sks_work/root/etc"
run_ok sysusers env -u LD_PRELOAD systemd-sysusers --root="$sks_work/root" "$(installed sysusers.d/sksd.conf)"
grep -q "^$user:" "$sks_work/root/etc/passwd" || fail "systemd-sysusers made no user $user"
grep -q "^softhsm:[^:]*:[0-9]*:\(.*,\)\?$user\(,.*\)\?\$" "$sks_work/root/etc/group" ||
    { cat "$sks_work/root/etc/group"; fail "$user is not a member of softhsm"; }
ls -ld /var/lib/softhsm 2>/dev/null | grep -q ' softhsm ' ||
    fail "SoftHSM2's token store is not group softhsm here: the membership would not reach it"
pass "sysusers.d makes $user a member of softhsm, which owns SoftHSM2's token store"

if grep -rn '@[a-z_]*@' "$unit" "$renew_unit" "$dest$confdir" "$(installed tmpfiles.d/sksd.conf)" \
    "$(installed man8/sksd.8)" "$(installed man1/sksctl.1)"; then
    fail "an installed file names a directory configure did not substitute"
fi
pass "every installed path is substituted"

echo '# the administrator'"'"'s own' > "$dest$conf"
make_install install
[ "$(cat "$dest$conf")" = "# the administrator's own" ] || fail "make install overwrote $conf"
pass "a second make install leaves an existing $conf alone"

rm -f "$dest$conf"
make_install uninstall
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
pass "make uninstall removes every installed file"
