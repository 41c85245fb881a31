#!/bin/sh
# Publication to the STI-CR before activation: sksctl acme issue --publish
# against the test STI-PA and STI-CA (tests/acme/sti-fixture.py), with
# https-server.py on loopback as the STI-CR.  Each [publish] method -- a
# directory the server serves, an HTTP PUT with credentials from a file, a
# hook command -- publishes the new chain, the x5u is fetched back over
# HTTPS and serves exactly that chain, and only then is the version active
# (the one it replaces stays previous, usable for the grace period).  An
# STI-CR that serves another chain, a PUT refused for its credentials, a
# hook that fails, a directory path that escapes or goes through a symbolic
# link, and an x5u template without {version}: each is named, nothing is
# activated and the token is as it was.
. "$top_srcdir/tests/integration/keystore-common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

ks_setup
mkdir -p "$sks_work/cr/sti"
# The STI-CR first: the STI-PA/STI-CA fixture takes $https_server_pid next,
# so the STI-CR is stopped here, before the common cleanup.
cr_put_auth=$sks_work/cr-put-auth
(umask 077 && printf 'Bearer cr-secret-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    > "$cr_put_auth")
HTTPS_SERVER_PUT_AUTH=$cr_put_auth
export HTTPS_SERVER_PUT_AUTH
https_server_start "$sks_work/cr"
cr_pid=$https_server_pid
cr_ca=$https_ca
cr=https://127.0.0.1:$https_port
publish_cleanup() {
    pc_rc=$?
    kill "$cr_pid" 2>/dev/null || true
    (exit "$pc_rc")
    sks_cleanup
}
trap publish_cleanup EXIT
sti_fixture_start 1234,5678 pki
dir=$sti_base/acme/directory
stipa="--stipa-url $sti_base/stipa --stipa-account sp-test --stipa-credentials $sti_api_key_file"
stipa="$stipa --stipa-ca-file $sti_tls_ca"

# conf NAME KEY=VALUE...: $sks_work/NAME.conf, the key store's with a
# [publish] section of the STI-CR's TLS CA, loopback allowed, a short
# verify_wait and the settings given.
conf() {
    c_name=$1
    shift
    {
        cat "$sks_work/ks.conf"
        printf '\n[publish]\nca_file = %s\nallow_private = yes\nverify_wait = 2\n' "$cr_ca"
        for kv in "$@"; do printf '%s\n' "$kv"; done
    } > "$sks_work/$c_name.conf"
}
# issue CONF ARGS...: sksctl acme issue --publish with CONF, at the test STI-CA.
issue() {
    i_conf=$1
    shift
    # shellcheck disable=SC2086
    "$SKSCTL" acme issue -c "$sks_work/$i_conf.conf" --ca-file "$sti_tls_ca" --allow-private \
        --directory "$dir" $stipa --publish "$@"
}
# Every object on the token and what sksctl list says, to compare around a
# command that must leave the key store as it was.  Left out: the change
# marker, and the text of the identity records, which count writes and the
# next version number (a version attached, then destroyed when its
# publication failed, leaves them advanced): the objects there are and
# sksctl list compare what was kept.
token_state() {
    token_listing "$1.objects"
    awk '/^[^ ]/ { if (obj != "" && obj !~ /shaken-sks\/changed/) printf "%s", obj; obj = "" }
         /^  label: *.\{"format"/ { next }
         { obj = obj $0 "\n" }
         END { if (obj !~ /shaken-sks\/changed/) printf "%s", obj }' "$1.objects" > "$1.kept"
    ks list > "$1.list" 2>&1 || true
    cat "$1.kept" "$1.list" > "$1"
}
# refused NAME SUBSTRING CONF ARGS...: issue must fail naming SUBSTRING, the token as it was.
refused() {
    r_name=$1
    r_expect=$2
    shift 2
    token_state "$sks_work/$r_name.before"
    run_fails "$r_name" "$r_expect" issue "$@"
    token_state "$sks_work/$r_name.after"
    assert_same_file "$r_name: token unchanged" "$sks_work/$r_name.before" \
        "$sks_work/$r_name.after"
}
# served URL FILE: the STI-CR serves FILE's bytes at URL (fetched by curl, not our code).
served() {
    env -u LD_PRELOAD curl -sS --cacert "$cr_ca" -o "$sks_work/served.pem" "$1" ||
        fail "the STI-CR serves nothing at $1"
    assert_same_file "$1 serves $2" "$2" "$sks_work/served.pem"
}
# state IDENTITY VERSION: the state sksctl list gives the version.
state() {
    ks list "$1" --json | jq -r --argjson v "$2" \
        '.identities[0].versions[] | select(.version == $v) | .state'
}

run_ok register "$SKSCTL" acme register -c "$sks_work/ks.conf" --ca-file "$sti_tls_ca" \
    --allow-private --directory "$dir" --agree-tos

# ---- method = directory ----------------------------------------------------------------------
conf dir method=directory "directory = cr/sti" "url_prefix = $cr/sti/" \
    "x5u = $cr/sti/{identity}-{version}.pem"
run_ok dir-1 issue dir sp-a --spc 1234 --chain-out "$sks_work/sp-a-1.pem"
assert_grep dir-1 "sp-a/1 issued, published at $cr/sti/sp-a-1.pem and activated" dir-1.out
served "$cr/sti/sp-a-1.pem" sp-a-1.pem
[ "$(stat -c %a cr/sti/sp-a-1.pem)" = 644 ] || fail "the published chain is not mode 0644"
[ "$(state sp-a 1)" = active ] || fail "sp-a/1 is not active"
ks list sp-a --json | jq -e --arg u "$cr/sti/sp-a-1.pem" '.identities[0].versions[0].x5u == $u' \
    > /dev/null || fail "sp-a/1's x5u is not the template's"
run_ok dir-2 issue dir sp-a --chain-out "$sks_work/sp-a-2.pem"
assert_grep dir-2 "sp-a/2 issued, published at $cr/sti/sp-a-2.pem and activated" dir-2.out
served "$cr/sti/sp-a-2.pem" sp-a-2.pem
served "$cr/sti/sp-a-1.pem" sp-a-1.pem
[ "$(state sp-a 2)" = active ] && [ "$(state sp-a 1)" = previous ] ||
    fail "after the second issue sp-a/2 is not active with sp-a/1 previous"
[ -z "$(find cr/sti -name '.*')" ] || fail "a temporary file stayed in the directory"
pass "directory: published atomically (0644), served at the x5u, then activated; the old version previous"

# ---- method = put ----------------------------------------------------------------------------
conf put method=put "credentials_file = cr-put-auth" "x5u = $cr/put/{identity}-{version}.pem"
run_ok put-1 issue put sp-b --spc 5678 --chain-out "$sks_work/sp-b-1.pem"
assert_grep put-1 "sp-b/1 issued, published at $cr/put/sp-b-1.pem and activated" put-1.out
served "$cr/put/sp-b-1.pem" sp-b-1.pem
grep -q '"PUT /put/sp-b-1.pem HTTP/1.1" 201' https-server.log || fail "no PUT reached the STI-CR"
pass "put: the chain PUT with the credentials, served at the x5u, then activated"

printf 'Bearer wrong-credential-7f3a\n' > wrong-auth
conf put-wrong method=put "credentials_file = wrong-auth" "x5u = $cr/put/{identity}-{version}.pem"
refused put-401 "HTTP status 401" put-wrong sp-b
assert_grep put-401 "the credentials of [publish] credentials_file were refused" put-401.out
assert_grep put-401 "sp-b version 2 was not activated" put-401.out
if grep -q "wrong-credential-7f3a\|cr-secret" put-401.out; then
    fail "a credential was printed"
fi
[ "$(state sp-b 1)" = active ] || fail "sp-b/1 is no longer active"
pass "put with wrong credentials: 401 named, no credential printed, nothing activated"

# ---- method = command ------------------------------------------------------------------------
mkdir -p cr/hook
cat > hook.sh <<EOF
#!/bin/sh
# Copies the chain on stdin to where the STI-CR serves \$SKS_X5U.
set -eu
case \$SKS_X5U in "$cr/hook/\$SKS_IDENTITY-\$SKS_VERSION.pem") ;; *) echo "bad x5u \$SKS_X5U" >&2; exit 2 ;; esac
cat > "$sks_work/cr/hook/.\$SKS_IDENTITY.tmp"
mv "$sks_work/cr/hook/.\$SKS_IDENTITY.tmp" "$sks_work/cr/hook/\$SKS_IDENTITY-\$SKS_VERSION.pem"
EOF
chmod +x hook.sh
conf cmd method=command "command = hook.sh" "x5u = $cr/hook/{identity}-{version}.pem"
run_ok cmd-1 issue cmd sp-c --spc 1234 --chain-out "$sks_work/sp-c-1.pem"
assert_grep cmd-1 "sp-c/1 issued, published at $cr/hook/sp-c-1.pem and activated" cmd-1.out
served "$cr/hook/sp-c-1.pem" sp-c-1.pem
pass "command: the hook gets the chain on stdin and the x5u in its environment, then activation"

# An STI-CR that serves the upload only a while later (a cache, replicas): the check waits.
cat > hook-late.sh <<EOF
#!/bin/sh
cat > "$sks_work/late.tmp"
(sleep 2; mv "$sks_work/late.tmp" "$sks_work/cr/hook/\$SKS_IDENTITY-\$SKS_VERSION.pem") \
    < /dev/null > /dev/null 2>&1 &
EOF
chmod +x hook-late.sh
conf late method=command "command = hook-late.sh" "x5u = $cr/hook/{identity}-{version}.pem" \
    "verify_wait = 30"
run_ok late issue late sp-c --chain-out "$sks_work/sp-c-2.pem"
served "$cr/hook/sp-c-2.pem" sp-c-2.pem
[ "$(state sp-c 2)" = active ] || fail "sp-c/2 is not active"
pass "an STI-CR consistent only after a while: the GET check retries within verify_wait"

cat > hook-fail.sh <<'EOF'
#!/bin/sh
cat > /dev/null
echo "connecting to the repository" >&2
echo "upload refused: quota exceeded" >&2
exit 3
EOF
chmod +x hook-fail.sh
conf cmd-fail method=command "command = hook-fail.sh" "x5u = $cr/hook/{identity}-{version}.pem"
refused cmd-fail "exited with status 3: upload refused: quota exceeded" cmd-fail sp-c
refused cmd-fail-new "exited with status 3: upload refused: quota exceeded" cmd-fail sp-n \
    --spc 5678
ks list sp-n > sp-n.list 2>&1 || true
if grep -q "^sp-n" sp-n.list; then fail "a new identity was created without its publication"; fi
pass "a hook that fails: its status and the last line of its stderr named, nothing activated"

# ---- an STI-CR that serves another chain ---------------------------------------------------
mkdir -p cr/stale elsewhere
cp sp-a-1.pem cr/stale/sp-a-3.pem
conf stale method=directory "directory = elsewhere" "url_prefix = $cr/stale/" \
    "x5u = $cr/stale/{identity}-{version}.pem"
refused stale "the STI-CR serves a different chain at $cr/stale/sp-a-3.pem" stale sp-a
[ "$(state sp-a 2)" = active ] || fail "sp-a/2 is no longer active"
refused stale-none "the STI-CR does not serve the chain published at $cr/stale/sp-z-1.pem" \
    stale sp-z --spc 1234
pass "a stale chain or nothing at the x5u: named with the URL, nothing activated"

# ---- directory paths that escape, symbolic links ------------------------------------------
conf escape method=directory "directory = cr/sti" "url_prefix = $cr/sti/" \
    "x5u = $cr/sti/../../{identity}-{version}.pem"
refused escape "escapes the directory" escape sp-a
ln -s "$sks_work/elsewhere" cr/sti/link
conf link method=directory "directory = cr/sti" "url_prefix = $cr/sti/" \
    "x5u = $cr/sti/link/{identity}-{version}.pem"
refused link "a directory on the way is a symbolic link" link sp-a
mv cr/sti/sp-a-2.pem sp-a-2.kept
ln -s "$sks_work/elsewhere/target" cr/sti/sp-a-2.pem
run_fails link-file "is a symbolic link, not a regular file" "$SKSCTL" publish \
    -c "$sks_work/dir.conf" sp-a/2
[ ! -e elsewhere/target ] || fail "the chain was written through a symbolic link"
rm cr/sti/sp-a-2.pem
mv sp-a-2.kept cr/sti/sp-a-2.pem
pass "directory: a path with .., a directory or file that is a symbolic link: refused"

# ---- configuration errors: before anything is ordered --------------------------------------
orders=$(grep -c 'POST /acme/new-order' "$sti_log" || true)
conf nover method=directory "directory = cr/sti" "url_prefix = $cr/sti/" \
    "x5u = $cr/sti/{identity}.pem"
refused nover "names no {version}" nover sp-a
conf nomethod "x5u = $cr/sti/{identity}-{version}.pem"
refused nomethod "method is missing" nomethod sp-a
conf typo method=command "command = hook.sh" "x5u = $cr/hook/{identity}-{version}.pem" \
    "verify_wiat = 3"
refused typo "verify_wiat is not a setting of this section" typo sp-a
run_fails nosection "has no [publish] section" "$SKSCTL" acme issue -c "$sks_work/ks.conf" \
    --ca-file "$sti_tls_ca" --allow-private --directory "$dir" --publish sp-a --spc-token x
[ "$(grep -c 'POST /acme/new-order' "$sti_log" || true)" = "$orders" ] ||
    fail "a configuration error reached the STI-CA"
pass "an x5u without {version}, no method, a misspelt key, no [publish]: refused before ordering"

# ---- sksctl publish IDENTITY/VERSION ---------------------------------------------------------
rm cr/sti/sp-a-1.pem
run_ok republish "$SKSCTL" publish -c "$sks_work/dir.conf" sp-a/1
assert_grep republish "sp-a/1 published at $cr/sti/sp-a-1.pem" republish.out
served "$cr/sti/sp-a-1.pem" sp-a-1.pem
run_ok rollback "$SKSCTL" publish -c "$sks_work/dir.conf" sp-a/1 --activate
[ "$(state sp-a 1)" = active ] || fail "sksctl publish --activate did not activate sp-a/1"
run_fails publish-fails "upload refused: quota exceeded" "$SKSCTL" publish \
    -c "$sks_work/cmd-fail.conf" sp-a/2 --activate
[ "$(state sp-a 1)" = active ] || fail "a failed publish changed the active version"
pass "sksctl publish: a version's chain from the token at its x5u, --activate after the check"
