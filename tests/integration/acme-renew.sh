#!/bin/sh
# sksctl acme renew against the test STI-PA and STI-CA
# (tests/acme/sti-fixture.py) on loopback, with the settings of the
# configuration file's [acme] section and SPC tokens from the test STI-PA:
# a certificate outside its renewal window is left alone; inside it a new
# version is issued and activated and the old one stays usable for the
# grace period; a failing identity does not stop the others, its back-off
# is recorded in the token and respected until --force; a renewal killed
# after its order was created continues that order on the next run.
. "$top_srcdir/tests/integration/keystore-common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

ks_setup
sti_fixture_start 1234,5678,4321 pki
dir=$sti_base/acme/directory
stipa="--stipa-url $sti_base/stipa --stipa-account sp-test --stipa-credentials $sti_api_key_file"
stipa="$stipa --stipa-ca-file $sti_tls_ca"

# The [acme] section: what the timer's run reads; $1 the renew_fraction (none: the default).
acme_conf() {
    {
        cat "$sks_work/ks.conf.base"
        sti_acme_section
        [ -z "${1:-}" ] || echo "renew_fraction = $1"
        echo "retry_min = 3600"
    } > "$sks_work/ks.conf"
}
cp ks.conf ks.conf.base
acme_conf

# sksctl acme renew with the test's configuration (under $ACME_WRAPPER when set).
renew() { ${ACME_WRAPPER:-} "$SKSCTL" acme renew -c "$sks_work/ks.conf" "$@"; }
# The state of version $2 of identity $1 as sksctl list --json says.
version_state() {
    ks list --json "$1" | jq -r --argjson v "$2" '.identities[0].versions[] | select(.version == $v) | .state'
}
active_of() { ks list --json "$1" | jq -r '.identities[0].activeVersion'; }

run_ok register "$SKSCTL" acme register -c "$sks_work/ks.conf" --agree-tos --ca-file "$sti_tls_ca" \
    --allow-private --directory "$dir"
for pair in sp-a:1234 sp-b:5678 sp-c:4321; do
    # shellcheck disable=SC2086
    run_ok "issue-${pair%%:*}" "$SKSCTL" acme issue -c "$sks_work/ks.conf" --ca-file "$sti_tls_ca" \
        --allow-private --directory "$dir" "${pair%%:*}" --spc "${pair#*:}" $stipa \
        --x5u "https://sti-cr.test/${pair%%:*}.pem"
    run_ok "activate-${pair%%:*}" ks activate "${pair%%:*}" 1
done
pass "three identities issued by the STI-CA and active"

# ---- outside the window: left alone -----------------------------------------------------------
run_ok not-due renew sp-a
assert_grep not-due "sp-a: not due: version 1 renews after" not-due.out
[ "$(active_of sp-a)" = 1 ] || fail "sp-a's active version changed outside its window"
[ "$(ks list --json sp-a | jq '.identities[0].versions | length')" = 1 ] ||
    fail "a version was made for sp-a outside its window"
pass "a certificate outside its renewal window (the last third of its lifetime) is not renewed"

# ---- inside the window: renewed, the old version in its grace period --------------------------
acme_conf 1.0
run_ok due renew sp-a
assert_grep due "sp-a: renewed: version 2 active, version 1 usable for the grace period" due.out
[ "$(active_of sp-a)" = 2 ] || fail "sp-a/2 is not active after the renewal"
[ "$(version_state sp-a 1)" = previous ] || fail "sp-a/1 is not in its grace period"
p11tool_login --read-object --type pubkey --label sp-a/2 -o sp-a-2.der > /dev/null 2>&1 ||
    fail "cannot read the public key of sp-a/2"
sw_openssl pkey -pubin -inform DER -in sp-a-2.der -out sp-a-2.pem
ks list --json sp-a | jq -r '.identities[0].versions[] | select(.version == 2) | .x5u' > x5u-2
[ "$(cat x5u-2)" = https://sti-cr.test/sp-a.pem ] || fail "the renewed version lost the x5u"
record_of sp-a > rec-a
jq -e '.result == "ok" and .failures == 0 and (has("order") | not)' rec-a > /dev/null ||
    fail "sp-a's renewal record is not a success: $(cat rec-a)"
pass "inside its window: a new version issued and active, the old one usable for the grace period"

# ---- back-off: a failing identity recorded, not retried before its time, --force ---------------
# The STI-PA no longer grants sp-c's SPC to the account: its renewal fails, the others go on.
cp "$sti_state/stipa-accounts.json" accounts.json
jq '."sp-test".spcs -= ["4321"]' accounts.json > "$sti_state/stipa-accounts.json"
before_b=$(active_of sp-b)
run_fails all-one-fails "sp-c: failed (stipa-refused)" renew --all
assert_grep all-one-fails "sp-a: renewed: version 3 active, version 2 usable" all-one-fails.out
assert_grep all-one-fails "sp-b: renewed: version 2 active, version 1 usable" all-one-fails.out
[ "$(grep -c '^sp-[abc]: ' all-one-fails.out)" = 3 ] ||
    { cat all-one-fails.out; fail "renew --all did not print one line per identity"; } >&2
[ "$(active_of sp-b)" = $((before_b + 1)) ] || fail "sp-b was not renewed beside the failing sp-c"
[ "$(active_of sp-c)" = 1 ] || fail "the failed renewal of sp-c changed its active version"
[ "$(ks list --json sp-c | jq '.identities[0].versions | length')" = 1 ] ||
    fail "the failed renewal left a version of sp-c behind"
record_of sp-c > rec-c
jq -e '.result == "failed" and .failures == 1 and .code == "stipa-refused" and
       .next >= .attempt + 3600' rec-c > /dev/null ||
    fail "sp-c's failure and back-off are not recorded: $(cat rec-c)"
pass "renew --all: the failing identity named with its code, the others renewed, exit status 1"

cp accounts.json "$sti_state/stipa-accounts.json"
orders=$(grep -c 'POST /acme/new-order' "$sti_log")
run_ok backing-off renew sp-c
assert_grep backing-off "sp-c: backing off after 1 failure (stipa-refused); next attempt after" \
    backing-off.out
[ "$(grep -c 'POST /acme/new-order' "$sti_log")" = "$orders" ] ||
    fail "an identity in its back-off was ordered again"
[ "$(active_of sp-c)" = 1 ] || fail "sp-c changed in its back-off"
run_ok force renew sp-c --force
assert_grep force "sp-c: renewed: version 2 active, version 1 usable" force.out
record_of sp-c > rec-c2
jq -e '.result == "ok" and .failures == 0 and .next == 0' rec-c2 > /dev/null ||
    fail "sp-c's record after the forced renewal: $(cat rec-c2)"
pass "the back-off is respected until --force, which renews and clears it"

# ---- an interrupted renewal continues its order -----------------------------------------------
# The STI-CA holds the tkauth-01 validation: the client is polling, with the
# order created and kept in the record, when it is killed.
# held_renewal IDENTITY OUT: sksctl acme renew IDENTITY --force in the
# background (its pid in $renew_pid, its output in OUT), returning once it
# polls the authorization the STI-CA holds, its order created.
held_renewal() {
    sti_mode hold-validation
    held=$(grep -c 'still processing' "$sti_log" || true)
    # sksctl itself in the background (not a subshell around it), so that a kill reaches it.
    "$SKSCTL" acme renew -c "$sks_work/ks.conf" "$1" --force > "$2" 2>&1 &
    renew_pid=$!
    i=0
    until [ "$(grep -c 'still processing' "$sti_log" || true)" -gt "$held" ]; do
        kill -0 "$renew_pid" 2>/dev/null || { cat "$2"; fail "renew ended before it polled"; }
        i=$((i + 1))
        [ "$i" -lt 600 ] || fail "renew never polled the held authorization"
        sleep 0.1
    done
}
# kill_renewal IDENTITY: held_renewal, then killed (SIGKILL).
kill_renewal() {
    held_renewal "$1" "killed-$1.out"
    kill -9 "$renew_pid"
    wait "$renew_pid" 2>/dev/null || true
    if grep -q 'renewed' "killed-$1.out"; then fail "the renewal finished before it was killed"; fi
    sti_mode
}
orders=$(grep -c 'POST /acme/new-order' "$sti_log")
kill_renewal sp-b
record_of sp-b > rec-killed
order=$(jq -r .order rec-killed)
pending=$(jq -r .pending rec-killed)
jq -e '.result == "running" and (.order | startswith("https://")) and .pending > 0' rec-killed \
    > /dev/null || fail "the interrupted renewal did not keep its order: $(cat rec-killed)"
[ "$(version_state sp-b "$pending")" = pending ] || fail "the interrupted version is not pending"
[ "$(grep -c 'POST /acme/new-order' "$sti_log")" = $((orders + 1)) ] ||
    fail "the interrupted renewal did not create exactly one order"
run_ok resume renew sp-b
assert_grep resume "sp-b: renewed: version $pending active" resume.out
if grep -q "starting over" resume.out; then fail "the interrupted order was not continued"; fi
[ "$(grep -c 'POST /acme/new-order' "$sti_log")" = $((orders + 1)) ] ||
    fail "the resumed renewal created another order instead of continuing $order"
[ "$(active_of sp-b)" = "$pending" ] || fail "the resumed version is not the active one"
ks list --json sp-b | jq -e '[.identities[0].versions[] | select(.state == "active")] | length == 1' \
    > /dev/null || fail "sp-b has more than one active version"
ks list --json sp-b | jq -e '[.identities[0].versions[] | select(.state == "pending")] | length == 0' \
    > /dev/null || fail "a pending version of sp-b was left behind"
record_of sp-b > rec-resumed
jq -e '.result == "ok" and (has("order") | not)' rec-resumed > /dev/null ||
    fail "the resumed renewal's record: $(cat rec-resumed)"
pass "renew killed after its order was created: the next run continues that order and its version"

# ---- a bad [acme] section: named, nothing touched --------------------------------------------
cp ks.conf ks.conf.good
printf 'renew_fracton = 0.5\n' >> ks.conf
token_listing bad-conf.before
run_fails bad-key 'has no setting "renew_fracton"' renew --all
sed -i 's/^renew_fracton = 0.5$/renew_fraction = 1.5/' ks.conf
run_fails bad-fraction "renew_fraction = 1.5: not a fraction" renew --all
token_listing bad-conf.after
assert_same_file "a bad [acme] section leaves the token as it was" bad-conf.before bad-conf.after
cp ks.conf.good ks.conf
pass "a misspelt [acme] key or a bad renew_fraction is named and nothing is renewed"

# ---- an interrupted order that expired meanwhile: its version destroyed, a new order ----------
kill_renewal sp-a
record_of sp-a > rec-a-killed
stale=$(jq -r .pending rec-a-killed)
stale_order=$(jq -r .order rec-a-killed)
[ "$(version_state sp-a "$stale")" = pending ] || fail "the interrupted version of sp-a is not pending"
sti_mode orders-expired
run_ok expired renew sp-a
sti_mode
assert_grep expired "the interrupted order $stale_order was not continued" expired.out
assert_grep expired "starting over" expired.out
assert_grep expired "sp-a: renewed: version $((stale + 1)) active" expired.out
[ -z "$(version_state sp-a "$stale")" ] || fail "the expired order's version $stale was kept"
ks list --json sp-a | jq -e '[.identities[0].versions[] | select(.state == "active")] | length == 1' \
    > /dev/null || fail "sp-a has more than one active version"
pass "an interrupted order that expired: its pending version destroyed, the renewal starts over"

# ---- ACME Renewal Information (RFC 9773): the server's window opens it -----------------------
acme_conf
ari=$(grep -c 'renewal-info' "$sti_log" || true)
run_ok ari-not-due renew sp-c
assert_grep ari-not-due "sp-c: not due" ari-not-due.out
[ "$(grep -c 'renewal-info' "$sti_log")" -gt "$ari" ] || fail "the renewal information was not asked"
sti_mode ari-due
run_ok ari-due renew sp-c
sti_mode
assert_grep ari-due "sp-c: renewed: version 3 active, version 2 usable for the grace period (the server's suggested window)" ari-due.out
pass "outside the configured window, a suggested window (RFC 9773) that began renews"

# ---- killed before the server made the order: the version it generated is destroyed ----------
# The STI-CA holds every POST: the renewal has generated its version (kept
# in the record) and waits for newOrder's answer when it is killed.
sti_mode stall
"$SKSCTL" acme renew -c "$sks_work/ks.conf" sp-b --force > killed-unordered.out 2>&1 &
renew_pid=$!
i=0
until record_of sp-b | jq -e 'has("pending") and (has("order") | not)' > /dev/null 2>&1; do
    kill -0 "$renew_pid" 2>/dev/null || { cat killed-unordered.out; fail "renew ended before its order"; }
    i=$((i + 1))
    [ "$i" -lt 600 ] || fail "the renewal never recorded its new version"
    sleep 0.1
done
kill -9 "$renew_pid"
wait "$renew_pid" 2>/dev/null || true
sti_mode
orphan=$(record_of sp-b | jq -r .pending)
[ "$(version_state sp-b "$orphan")" = pending ] || fail "the interrupted version $orphan is not pending"
active_b=$(active_of sp-b)
run_ok unordered renew sp-b --force
assert_grep unordered "version $orphan of an interrupted renewal had no order: destroyed" unordered.out
assert_grep unordered "sp-b: renewed: version $((orphan + 1)) active, version $active_b usable" unordered.out
[ -z "$(version_state sp-b "$orphan")" ] || fail "the version without an order was kept"
ks list --json sp-b | jq -e '[.identities[0].versions[] | select(.state == "pending")] | length == 0' \
    > /dev/null || fail "a pending version of sp-b was left behind"
pass "renew killed before its order: the next run destroys the version it generated and renews"

# ---- two runs at once: the second leaves the identity to the first ----------------------------
# The first run holds sp-c's renewal lock while the STI-CA holds its validation.
active_c=$(active_of sp-c)
held_renewal sp-c first.out
first_pid=$renew_pid
orders=$(grep -c 'POST /acme/new-order' "$sti_log")
run_ok second renew sp-c --force
assert_grep second "sp-c: skipped: another renewal is running (pid $first_pid)" second.out
[ "$(grep -c 'POST /acme/new-order' "$sti_log")" = "$orders" ] ||
    fail "the second run ordered while the first was renewing sp-c"
sti_mode
wait "$first_pid" || { cat first.out; fail "the first renewal failed"; }
assert_grep first "sp-c: renewed: version $((active_c + 1)) active" first.out
[ "$(ks list --json sp-c | jq --argjson a "$active_c" '[.identities[0].versions[] | select(.version > $a)] | length')" = 1 ] ||
    fail "two runs at once made more than one new version of sp-c"
# Once the first is done the lock is free: the next run renews.
run_ok after-first renew sp-c --force
assert_grep after-first "sp-c: renewed: version $((active_c + 2)) active" after-first.out
pass "two renewals of one identity at once: the second skips it naming the first's pid; one new version"
