#!/bin/sh
# The README as a user follows it, on a scratch copy of the source tree:
# ./quickstart.sh runs the demo (on this build directory, so nothing is
# rebuilt), then every command its closing lines tell the user to type runs
# as printed and does what the line says: sksctl --help, sksctl list on the
# demo's key store, the openssl CLI through the sks provider, sksd on the
# demo configuration answering curl.  The README's way to read a man page
# from the build tree works too.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
# The demo runs the system's curl and openssl as a user would; under a
# sanitizer run's preloaded ASan runtime the demo's curl never returns.
case ${LD_PRELOAD:-} in
*asan*) skip "this is a sanitizer build: the demo's system programs run under its ASan preload" ;;
esac
sks_mkwork
sksd_pid=
trap 'rc=$?; [ -z "$sksd_pid" ] || kill "$sksd_pid" 2>/dev/null || true; (exit $rc); sks_cleanup' EXIT

# The copy: the source tree without its build directories (this one holds
# the copy), demo or history.
src=$sks_work/src
mkdir "$src"
srcdir=$(cd "$top_srcdir" && pwd -P)
excludes="--exclude=./.git --exclude=./demo"
for d in "$srcdir"/*/config.status; do
    [ -f "$d" ] || continue
    d=${d%/config.status}
    excludes="$excludes --exclude=./${d##*/}"
done
builddir=$(cd "$top_builddir" && pwd -P)
case $builddir in
"$srcdir"/*) # e.g. distcheck's _build/sub
    d=${builddir#"$srcdir"/}
    excludes="$excludes --exclude=./${d%%/*}" ;;
esac
# shellcheck disable=SC2086
(cd "$srcdir" && tar -cf - $excludes .) | (cd "$src" && tar -xf -)
chmod -R u+w "$src" # distcheck's source tree is read-only

cd "$src"
if ! SKS_BUILD_DIR=$top_builddir SKS_QUICKSTART_NO_INSTALL=1 ./quickstart.sh > "$sks_work/demo.out" 2>&1; then
    missing=$(sed -n 's/^Missing Debian packages://p' "$sks_work/demo.out")
    [ -z "$missing" ] || skip "quickstart.sh needs Debian packages that are not installed:$missing"
    cat "$sks_work/demo.out"
    fail "./quickstart.sh failed"
fi
pass "./quickstart.sh runs the demo"

# The closing lines: commands are indented by two spaces, what they do by eight.
sed -n '/^What to type next/,$p' "$sks_work/demo.out" | sed -n 's/^  \([^ ].*\)$/\1/p' \
    > "$sks_work/next"
[ -s "$sks_work/next" ] || { cat "$sks_work/demo.out"; fail "the demo does not say what to type next"; }
# What the closing lines say works in a new shell: nothing from the demo's
# environment, the token's SoftHSM2 configuration included.
unset SOFTHSM2_CONF OPENSSL_CONF
walked=""
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    out=$sks_work/next-$n.out
    case $cmd in
    */sksctl" --help")
        eval "$cmd" > "$out" 2>&1 || { cat "$out"; fail "$cmd failed"; }
        grep -q "^usage: sksctl" "$out" || { cat "$out"; fail "$cmd printed no usage"; }
        walked="$walked help" ;;
    */sksctl" list -c demo/sks.conf")
        eval "$cmd" > "$out" 2>&1 || { cat "$out"; fail "$cmd failed"; }
        grep -q "^sp-main .* active " "$out" || { cat "$out"; fail "$cmd does not list sp-main as active"; }
        walked="$walked list" ;;
    "SOFTHSM2_CONF=demo/token/softhsm2.conf OPENSSL_CONF=demo/openssl.cnf openssl "*)
        eval "$cmd" > "$out" 2>&1 || { cat "$out"; fail "$cmd failed"; }
        cmp -s "$out" demo/sp-demo.pub || { cat "$out"; fail "$cmd does not print the demo key's public half"; }
        walked="$walked openssl" ;;
    */sksd" -c demo/sks.conf")
        eval "exec $cmd" > "$out" 2>&1 &
        sksd_pid=$!
        i=0
        until grep -q "sksd: ready" "$out"; do
            i=$((i + 1))
            if [ "$i" -gt 300 ] || ! kill -0 "$sksd_pid" 2>/dev/null; then
                cat "$out"
                fail "$cmd did not get ready"
            fi
            sleep 0.1
        done
        port=$(sed -n 's/.*signing API listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$out")
        [ -n "$port" ] || { cat "$out"; fail "$cmd does not log its port as the closing lines say"; }
        walked="$walked sksd" ;;
    curl" "*PORT*)
        [ -n "$sksd_pid" ] || fail "the closing lines name curl before sksd"
        cmd=$(printf '%s\n' "$cmd" | sed "s/PORT/$port/g")
        eval "$cmd" > "$out" 2>&1 || { cat "$out"; fail "$cmd failed"; }
        sed -n 's/.*"identity":"\([^"]*\)".*/\1/p' "$out" > "$sks_work/identity"
        "$SKSCTL" verify --cert demo/kms-pki/sp-5678-fullchain.pem --trust demo/kms-pki/root.pem \
            < "$sks_work/identity" > "$out.verify" 2>&1 ||
            { cat "$out" "$out.verify"; fail "the Identity header from $cmd does not verify"; }
        walked="$walked curl" ;;
    *)
        fail "the demo's closing lines name a command this test does not know: $cmd" ;;
    esac
    pass "$cmd"
done < "$sks_work/next"
[ "$walked" = " help list openssl sksd curl" ] ||
    fail "the closing lines walked were$walked, not help list openssl sksd curl"
kill "$sksd_pid"
wait "$sksd_pid" 2>/dev/null || true
sksd_pid=

# The README's way to read a man page from the build tree, without man-db.
readme_groff=$(sed -n 's/^ *\(groff -man -Tutf8 build\/tools\/sksctl\.1\) | less$/\1/p' README.md)
[ -n "$readme_groff" ] || fail "README.md does not say how to read sksctl(1) with groff"
# groff-base is one of quickstart.sh's packages: the demo ran, so it is here.
# shellcheck disable=SC2086
(cd "$top_builddir" && ${readme_groff%% build/*} tools/sksctl.1) > "$sks_work/sksctl.1.txt" 2>&1 ||
    { cat "$sks_work/sksctl.1.txt"; fail "$readme_groff failed"; }
grep -q "^SKSCTL(1) .* SKSCTL(1)$" "$sks_work/sksctl.1.txt" || fail "$readme_groff shows no sksctl(1)"
pass "$readme_groff | less"
