#!/bin/sh
# Crash safety of sksctl acme renew: SKS_CRASH_KILLS renewals (default 8;
# make soak runs SOAK_ACME_CRASH_KILLS) of two identities issued by the test
# STI-CA (tests/acme/sti-fixture.py), each killed with SIGKILL at a random
# moment of its run: generating the version, ordering, answering tkauth-01,
# polling, finalizing, attaching, activating, writing the record.  After each
# kill the next `acme renew --force` completes the renewal (continuing the
# interrupted order or starting over); then the identity has exactly one
# active version, complete, whose certificate is for a key in the token, no
# pending version is left behind (not even one generated just before the
# kill, before the record named it), its renewal record is a success, and
# sksctl list --json agrees with all that.  Times are measured to spread the
# kills, never asserted.
. "$top_srcdir/tests/integration/keystore-common.sh"
. "$top_srcdir/tests/acme/fixture.sh"

RENEWALS=${SKS_CRASH_KILLS:-8}
# Kills land between 0 and SPREAD % of the time one renewal takes.
SPREAD=${SKS_CRASH_SPREAD:-110}
start=$(date +%s)

ks_setup
sti_fixture_start 1234,5678 pki
{
    cat ks.conf
    sti_acme_section
    echo "retry_min = 3600"
} > acme.conf

acme_opts="--ca-file $sti_tls_ca --allow-private --directory $sti_base/acme/directory"
stipa="--stipa-url $sti_base/stipa --stipa-account sp-test --stipa-credentials $sti_api_key_file"
stipa="$stipa --stipa-ca-file $sti_tls_ca"
# shellcheck disable=SC2086
run_ok register "$SKSCTL" acme register -c "$sks_work/acme.conf" --agree-tos $acme_opts
for pair in sp-a:1234 sp-b:5678; do
    # shellcheck disable=SC2086
    run_ok "issue-${pair%%:*}" "$SKSCTL" acme issue -c "$sks_work/acme.conf" $acme_opts \
        "${pair%%:*}" --spc "${pair#*:}" $stipa --x5u "https://sti-cr.test/${pair%%:*}.pem"
    run_ok "activate-${pair%%:*}" ks activate "${pair%%:*}" 1
done

# The STI-CA takes a second to validate each tkauth-01 answer: a renewal
# lasts long enough for kills to land in each of its steps.
sti_mode slow-validation
renew() { "$SKSCTL" acme renew -c "$sks_work/acme.conf" "$@"; }


# consistent ID: the identity after a completed renewal, as sksctl list
# --json and the token show it.
consistent() {
    ks list --json "$1" > "list-$1.json" || fail "sksctl list --json $1 failed"
    jq -e '.identities | length == 1' "list-$1.json" > /dev/null || fail "$1 is not listed"
    active=$(jq -r '.identities[0].activeVersion' "list-$1.json")
    jq -e --argjson a "$active" '.identities[0].versions as $v |
        ([$v[] | select(.state == "active")] | length == 1) and
        ([$v[] | select(.state == "active")][0].version == $a) and
        ([$v[] | select(.state == "pending")] | length == 0) and
        ([$v[] | select(.state == "active")][0] | (.x5u | length > 0) and (.notAfter != null))' \
        "list-$1.json" > /dev/null ||
        { cat "list-$1.json"; fail "$1: not exactly one complete active version and no pending one"; } >&2
    # The active certificate is for the active version's key, and that key is in the token.
    p11tool_login --read-object --type cert --label "$1/$active" -o "$1-cert.der" > /dev/null 2>&1 ||
        fail "$1/$active has no certificate on the token"
    p11tool_login --read-object --type pubkey --label "$1/$active" -o "$1-pub.der" > /dev/null 2>&1 ||
        fail "$1/$active has no public key on the token"
    [ -n "$(ks_key_id "$1" "$active")" ] || fail "$1/$active has no private key on the token"
    sw_openssl x509 -inform DER -in "$1-cert.der" -noout -pubkey > "$1-cert-pub.pem"
    sw_openssl pkey -pubin -inform DER -in "$1-pub.der" -out "$1-pub.pem"
    cmp -s "$1-cert-pub.pem" "$1-pub.pem" || fail "$1/$active: its certificate is for another key"
    record_of "$1" > "rec-$1.json"
    jq -e '.result == "ok" and (has("order") | not) and (has("pending") | not)' "rec-$1.json" \
        > /dev/null || fail "$1: the renewal record after a completed renewal: $(cat "rec-$1.json")"
}
consistent sp-a
consistent sp-b

# How long one renewal takes here, to spread the kills over it.
t0=$(date +%s%N)
run_ok first renew sp-a --force
t1=$(date +%s%N)
span_us=$(((t1 - t0) / 1000))
echo "one renewal takes ${span_us} us; kills land in 0..$((span_us * SPREAD / 100)) us"
consistent sp-a

# A kill inside SoftHSM's C_Login can tear token.object: restored and counted
# (token_object_save/check in keystore-common.sh).
torn=0
i=0
killed=0
finished=0
ordered=0
unordered=0
generating=0
restarted=0
while [ "$i" -lt "$RENEWALS" ]; do
    name=sp-a
    [ $((i % 2)) -eq 0 ] || name=sp-b
    before=$(jq -r '.identities[0].activeVersion' "list-$name.json")
    token_object_save
    # sksctl itself in the background, not a subshell: the kill must hit it.
    "$SKSCTL" acme renew -c "$sks_work/acme.conf" "$name" --force > run.out 2> run.err &
    pid=$!
    kill_after_random "$pid" "$span_us" "$SPREAD"
    if wait "$pid"; then
        finished=$((finished + 1))
    else
        rc=$?
        [ "$rc" -eq 137 ] || { cat run.out run.err; fail "renewal $i failed on its own (exit $rc)"; }
        killed=$((killed + 1))
    fi
    token_object_check
    # What the kill left for the next run: an order to continue, a version with no order, neither.
    record_of "$name" > killed-rec.json
    if jq -e 'has("order")' killed-rec.json > /dev/null 2>&1; then
        ordered=$((ordered + 1))
    elif jq -e 'has("pending")' killed-rec.json > /dev/null 2>&1; then
        unordered=$((unordered + 1))
    elif jq -e 'has("generating")' killed-rec.json > /dev/null 2>&1; then
        generating=$((generating + 1))
    fi
    # The next run completes it, whatever the kill left.
    run_ok "recover-$i" renew "$name" --force
    assert_grep "recover-$i" "$name: renewed: version" "recover-$i.out"
    if grep -q "starting over" "recover-$i.out"; then restarted=$((restarted + 1)); fi
    consistent "$name"
    after=$(jq -r '.identities[0].activeVersion' "list-$name.json")
    [ "$after" -gt "$before" ] || fail "renewal $i: $name is still on version $before"
    i=$((i + 1))
done
echo "$RENEWALS renewals: $killed killed by SIGKILL, $finished finished before the kill;" \
    "kills left $ordered orders to continue ($restarted could not be and started over)" \
    "and $unordered versions with no order, $generating killed while generating one;" \
    "$torn SoftHSM token.object rewrites torn by a kill and restored"
pass "after each of $killed kills the next renewal completes: one complete active version, its key in the token, no pending version"

# Both identities sign with their active versions, verified with the chain the STI-CA issued.
for name in sp-a sp-b; do
    active=$(jq -r '.identities[0].activeVersion' "list-$name.json")
    sw_openssl x509 -inform DER -in "$name-cert.der" -out "$name-leaf.pem"
    cat "$name-leaf.pem" pki/chain.pem > "$name-fullchain.pem"
    ks_signs "sign-$name" "$name" "$name-fullchain.pem"
done
pass "every identity signs with its renewed active version"

elapsed=$(($(date +%s) - start))
echo "crash test took ${elapsed} s"
