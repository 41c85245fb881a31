#!/bin/sh
# Crash consistency of imports and activations made through both ways of
# changing the key store at once.  Each round runs one operation through
# sksd's import API (a wrapped import or an activation) and one through
# sksctl (import or activate), on two different identities, while SIGKILL
# hits sksd and, separately, sksctl at random moments; sksd is restarted
# after each kill.  Afterwards, what a user checks:
#   - every identity has exactly one active version, and sksd signs with it
#     an Identity header that sksctl verify accepts against the test PKI;
#   - every import that reported success is still there, complete, with its
#     x5u; every activation that reported success still holds, unless a later
#     activation of the same identity (reported or cut short) replaced it;
#   - sksd's next start sweeps what the kills left: the token then holds
#     exactly the objects the records list, and sksctl sweep finds nothing more.
# SKS_CRASH_KILLS rounds (default 12, two operations and up to two kills each;
# make soak runs more) scale the batch.
. "$top_srcdir/tests/integration/keystore-common.sh"
# After keystore-common.sh, which it would reset, and before any work directory.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read sksctl list --json"

ROUNDS=${SKS_CRASH_KILLS:-12}
# Kills land between 0 and SPREAD % of the time the operation takes unhurt.
SPREAD=${SKS_CRASH_SPREAD:-150}
# Chances, in %, that a round kills sksd, and sksctl.
KILL_SKSD=${SKS_CRASH_KILL_SKSD:-40}
KILL_SKSCTL=${SKS_CRASH_KILL_SKSCTL:-50}
# The whole test: a hung command fails it instead of stalling make check.
DEADLINE=${SKS_CRASH_DEADLINE:-$((120 + ROUNDS * 5))}
# Few enough versions per identity for a record's 64.
NIDS=$((4 + ROUNDS / 25))
start=$(date +%s)

sksd_setup
cd "$sks_work"
ln -s sks.conf ks.conf
ctl_pid=
watchdog_pid=
trap 'rc=$?; set +e; [ -z "$ctl_pid" ] || kill -9 "$ctl_pid" 2>/dev/null
      [ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null
      sksd_kill; (exit $rc); sks_cleanup' EXIT
# The watchdog takes its sleep with it when it is stopped: nothing outlives the test.
sh -c 'sleep "$1" & s=$!; trap "kill $s; exit 0" TERM; wait $s
       echo "FAIL: crash-sksd-activations: not done after $1 s" >&2; kill -TERM "$2"' \
    watchdog "$DEADLINE" $$ &
watchdog_pid=$!
sksd_start

# The log so far goes to sksd-runs.log first: sksd_start launches sksd in the
# background, and must not find the "ready" of the run before in sksd.log.
sksd_restart() {
    cat sksd.log >> sksd-runs.log
    rm -f sksd.log
    sksd_start "$@"
}

# rnd N: a random number in 0..N-1.
rnd() {
    echo $(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1 ))
}

now_us() {
    echo $(( $(date +%s%N) / 1000 ))
}

sleep_us() {
    sleep "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))"
}

# ops.log, one line per operation: seq identity kind way outcome version x5u,
# where outcome is ok (it reported success) or cut (killed before it answered).
# cv-IDENTITY lists the versions that reported complete.
: > ops.log
seq=0
log_op() {
    seq=$((seq + 1))
    echo "$seq $*" >> ops.log
    if [ "$2" = import ] && [ "$4" = ok ]; then echo "$5" >> "cv-$1"; fi
}

# A kill inside SoftHSM's C_Login can tear token.object, which holds no key
# store state: restored and counted (token_object_save/check, keystore-common.sh).
torn=0

# ---- the four operations -------------------------------------------------------------
# WAY_KIND IDENTITY VERSION X5U starts one in the background: $ctl_pid is
# sksctl itself (a kill must hit the writer), $api_job the import API client.

ctl_import() {
    "$SKSCTL" import "$1" -c "$sks_work/ks.conf" --key pki/sp-1234.key --cert pki/sp-1234.pem \
        --chain pki/chain.pem --x5u "$3" > ctl.out 2> ctl.err &
    ctl_pid=$!
}

ctl_activate() {
    "$SKSCTL" activate "$1" "$2" -c "$sks_work/ks.conf" > ctl.out 2> ctl.err &
    ctl_pid=$!
}

api_import() {
    "$SKSD_CLIENT" attach-body pki/sp-1234.pem pki/chain.pem "$3" blob > api.body
    (import_api api POST "/sks/v1/identities/$1/import" "$(cat api.body)" > api.code 2> api.err ||
        true) &
    api_job=$!
}

api_activate() {
    (import_api api POST "/sks/v1/identities/$1/versions/$2/activate" > api.code 2> api.err ||
        true) &
    api_job=$!
}

# WAY_result KIND IDENTITY VERSION X5U KILLED: waits for the operation and
# logs how it ended.  Failing without being killed fails the test.
ctl_result() {
    cr_rc=0
    wait "$ctl_pid" || cr_rc=$?
    ctl_pid=
    if [ "$cr_rc" -eq 0 ]; then
        cr_v=$(sed -n "s|^$2/\([0-9][0-9]*\) [a-z]*$|\1|p" ctl.out)
        [ -n "$cr_v" ] || { cat ctl.out ctl.err; fail "sksctl $1 $2: no version in its output"; }
        log_op "$2" "$1" sksctl ok "$cr_v" "$4"
    elif [ "$cr_rc" -eq 137 ] && [ "$5" = 1 ]; then
        log_op "$2" "$1" sksctl cut "$3" "$4"
    else
        cat ctl.err
        fail "sksctl $1 $2 $3 failed on its own (exit $cr_rc), round $round"
    fi
}

api_result() {
    wait "$api_job" || true
    ar_code=$(cat api.code)
    case "$ar_code" in
    200 | 201)
        ar_v=$3
        if [ "$1" = import ]; then ar_v=$(json api.json version); fi
        log_op "$2" "$1" api ok "$ar_v" "$4"
        ;;
    000)
        [ "$5" = 1 ] || { cat api.err; fail "import API $1 $2 $3: no answer, sksd not killed"; }
        log_op "$2" "$1" api cut "$3" "$4"
        ;;
    *)
        cat api.json api.err
        fail "import API $1 $2 $3 failed on its own (status $ar_code), round $round"
        ;;
    esac
}

# unhurt WAY KIND IDENTITY VERSION X5U: one operation run to its end; sets span_WAY_KIND.
unhurt() {
    u0=$(now_us)
    "$1_$2" "$3" "$4" "$5"
    "$1_result" "$2" "$3" "$4" "$5" 0
    eval "span_$1_$2=\$(( \$(now_us) - u0 ))"
}

# plan IDENTITY: what a way does to IDENTITY this round: an activation of one
# of its complete versions other than the last one activated, or an import.
plan() {
    p_kind=import
    p_v=-
    p_x=https://cert.example.org/$1-r$round-$((seq + 1)).pem
    [ "$(rnd 2)" = 1 ] || return 0
    p_last=$(awk -v id="$1" '$2 == id && $3 == "activate" && $5 == "ok" { v = $6 } END { print v }' \
        ops.log)
    grep -vx "$p_last" "cv-$1" | sort -u > pick.list || true
    p_n=$(wc -l < pick.list)
    if [ "$p_n" -gt 0 ]; then
        p_kind=activate
        p_v=$(sed -n "$(($(rnd "$p_n") + 1))p" pick.list)
        p_x=-
    fi
}

# ---- set-up: one active version per identity, and each operation timed ----------------

import_ok 200 wk GET /sks/v1/wrapping-key
json wk.json wrappingKey > wrapping.pem
run_ok wrap "$SKSCTL" wrap --wrapping-key wrapping.pem --key pki/sp-1234.key --out blob

round=0
i=0
while [ "$i" -lt "$NIDS" ]; do
    unhurt ctl import "sp-k$i" - "https://cert.example.org/sp-k$i-first.pem"
    log_op "sp-k$i" activate sksctl ok "$(tail -n 1 "cv-sp-k$i")" -
    i=$((i + 1))
done
unhurt api import sp-k0 - https://cert.example.org/sp-k0-api.pem
unhurt ctl activate sp-k0 "$(tail -n 1 cv-sp-k0)" -
unhurt api activate sp-k0 "$(head -n 1 cv-sp-k0)" -
echo "unhurt, in us: sksctl import $span_ctl_import, activate $span_ctl_activate;" \
    "import API import $span_api_import, activate $span_api_activate"

# ---- the batch ---------------------------------------------------------------------------

kills_sksd=0
kills_sksctl=0
round=1
while [ "$round" -le "$ROUNDS" ]; do
    token_object_save
    a=$(rnd "$NIDS")
    c=$(( (a + 1 + $(rnd $((NIDS - 1)))) % NIDS ))
    plan "sp-k$a"
    a_kind=$p_kind a_v=$p_v a_x=$p_x
    plan "sp-k$c"
    c_kind=$p_kind c_v=$p_v c_x=$p_x
    : > kills
    kd=0
    kc=0
    if [ "$(rnd 100)" -lt "$KILL_SKSD" ]; then
        kd=1
        eval "span=\$span_api_$a_kind"
        echo "$(( $(rnd 65536) * span * SPREAD / 100 / 65536 )) sksd" >> kills
    fi
    if [ "$(rnd 100)" -lt "$KILL_SKSCTL" ]; then
        kc=1
        eval "span=\$span_ctl_$c_kind"
        echo "$(( $(rnd 65536) * span * SPREAD / 100 / 65536 )) sksctl" >> kills
    fi
    sort -n kills > kills.sorted

    "api_$a_kind" "sp-k$a" "$a_v" "$a_x"
    "ctl_$c_kind" "sp-k$c" "$c_v" "$c_x"
    at=0
    while read -r delay who; do
        sleep_us $((delay - at))
        at=$delay
        if [ "$who" = sksd ]; then
            kill -9 "$sksd_pid" 2>/dev/null || true
            kills_sksd=$((kills_sksd + 1))
        else
            kill -9 "$ctl_pid" 2>/dev/null || true
            kills_sksctl=$((kills_sksctl + 1))
        fi
    done < kills.sorted
    ctl_result "$c_kind" "sp-k$c" "$c_v" "$c_x" "$kc"
    api_result "$a_kind" "sp-k$a" "$a_v" "$a_x" "$kd"
    if [ "$kd" = 1 ]; then
        wait "$sksd_pid" 2>/dev/null || true
        sksd_pid=
        token_object_check
        sksd_restart
    else
        token_object_check
    fi
    round=$((round + 1))
done

nops=$(wc -l < ops.log)
batch=$(awk -v n="$seq" -v r="$ROUNDS" '$1 > n - 2 * r' ops.log)
count() { echo "$batch" | awk -v k="$1" -v w="$2" -v o="$3" '$3 == k && $4 == w && $5 ~ o' | wc -l; }
echo "FIGURE: $sks_test_name operations=$((2 * ROUNDS))" \
    "imports_api=$(count import api .) imports_sksctl=$(count import sksctl .)" \
    "activations_api=$(count activate api .) activations_sksctl=$(count activate sksctl .)" \
    "cut_by_kills=$(echo "$batch" | awk '$5 == "cut"' | wc -l)" \
    "sksd_kills=$kills_sksd sksctl_kills=$kills_sksctl torn_token_object_restored=$torn" \
    "setup_operations=$((nops - 2 * ROUNDS))"

REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
# signs_active NAME LIST: sksd signs for every identity with the active version
# LIST (sksctl list --json) names, within 3 s (it reads the change marker at
# most every second), and sksctl verify accepts the Identity header.
signs_active() {
    i=0
    while [ "$i" -lt "$NIDS" ]; do
        id=sp-k$i
        want=$(python3 -c 'import json, sys
i = [i for i in json.load(open(sys.argv[1]))["identities"] if i["name"] == sys.argv[2]][0]
print([v["x5u"] for v in i["versions"] if v["version"] == i["activeVersion"]][0])' "$2" "$id")
        t=0
        while :; do
            code=$(sign "$1-$id" "$REQ" "?identity=$id")
            [ "$code" = 200 ] || { cat "$1-$id.json"; fail "$1: sksd cannot sign for $id: status $code"; }
            json "$1-$id.json" signingResponse.identity > "$1-$id.identity"
            got=$(sed 's/.*;info=<\([^>]*\)>.*/\1/' "$1-$id.identity")
            [ "$got" != "$want" ] || break
            t=$((t + 1))
            [ "$t" -lt 30 ] || fail "$1: sksd signs for $id with $got; its active version is $want"
            sleep 0.1
        done
        verify_identity "$1-verify-$id" "$1-$id.identity" pki/sp-1234.pem
        assert_grep "$1-verify-$id" "verified: 200 OK" "$1-verify-$id.out"
        i=$((i + 1))
    done
}

# ---- what the kills left, before anything sweeps --------------------------------------------

chain_certs=$(grep -c 'BEGIN CERTIFICATE' pki/chain.pem)
cat > check.py <<'PY'
import json, re, sys
mode, listing, opsf, nchain = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ids = {i["name"]: i for i in json.load(open(listing))["identities"]}
ops = [l.split() for l in open(opsf) if l.strip()]
complete = ("active", "standby", "previous")
problems = []
versions = {(n, v["version"]): v for n, i in ids.items() for v in i["versions"]}
for name, i in ids.items():
    act = [v for v in i["versions"] if v["state"] == "active"]
    if len(act) != 1 or act[0]["version"] != i["activeVersion"]:
        problems.append("%s: %d active versions (record says %d)" % (name, len(act), i["activeVersion"]))
    for v in act:
        if not (v["uri"] and v["x5u"] and v.get("notAfter")):
            problems.append("%s/%d: active but incomplete: %s" % (name, v["version"], v))
# Every import that reported success: complete, with its own x5u.
for seq, name, kind, way, outcome, ver, x5u in ops:
    if kind == "import" and outcome == "ok":
        v = versions.get((name, int(ver)))
        if v is None or v["state"] not in complete or not v["uri"]:
            problems.append("%s/%s (op %s, %s) reported complete, now %s" % (name, ver, seq, way, v))
        elif v["x5u"] != x5u:
            problems.append("%s/%s has x5u %s, imported with %s" % (name, ver, v["x5u"], x5u))
# The active version: the last reported activation, or one tried after it.
allowed = {}
for seq, name, kind, way, outcome, ver, x5u in ops:
    if kind == "activate":
        allowed[name] = {int(ver)} if outcome == "ok" else allowed.get(name, set()) | {int(ver)}
for name, may in allowed.items():
    if name not in ids or ids[name]["activeVersion"] not in may:
        problems.append("%s: active version %s, expected one of %s"
                        % (name, ids.get(name, {}).get("activeVersion"), sorted(may)))
unfinished = sorted("%s/%d" % k for k, v in versions.items() if v["state"] not in complete)
if mode == "swept":
    if unfinished:
        problems.append("unfinished versions after the sweep: %s" % unfinished)
    # Objects as pkcs11-tool -O lists them: a header line, then "  name: value" lines.
    blocks, cur = [], None
    for line in open(sys.argv[5]).read().splitlines():
        if line and not line.startswith(" "):
            cur = {"kind": line.split(";")[0].strip()}
            blocks.append(cur)
        elif cur is not None and ":" in line:
            k, val = line.strip().split(":", 1)
            cur.setdefault(k.strip(), val.strip().strip("'"))
    want = []
    for (name, n) in versions:
        base = "%s/%d" % (name, n)
        want += [("Private Key Object", base), ("Public Key Object", base), ("Certificate Object", base)]
        want += [("Certificate Object", "%s/ca%d" % (base, k)) for k in range(1, nchain + 1)]
    have = [(b["kind"], b.get("label", "")) for b in blocks
            if re.match(r"sp-k\d+/\d+(/ca\d+)?$", b.get("label", ""))]
    if sorted(have) != sorted(want):
        problems.append("version objects: extra %s, missing %s"
                        % (sorted(set(have) - set(want)), sorted(set(want) - set(have))))
    by_label = {}
    for b in blocks:
        m = re.match(r"(sp-k\d+/\d+)(/ca\d+)?$", b.get("label", ""))
        if m:
            by_label.setdefault(m.group(1), set()).add(b.get("ID"))
    if any(len(s) != 1 for s in by_label.values()):
        problems.append("a version's objects do not share one CKA_ID")
    records = [b for b in blocks if b.get("application") == "shaken-sks"]
    markers = [b for b in blocks if b.get("application") == "shaken-sks/changed"]
    if not len(ids) <= len(records) <= 2 * len(ids) or len(markers) > 1:
        problems.append("%d record slots for %d identities, %d change markers"
                        % (len(records), len(ids), len(markers)))
    # A kill inside SoftHSM's C_CreateObject leaves an object without our
    # template (no label, no CKA_ID): nothing the key store can find or use.
    known = [b for b in blocks if b in records or b in markers
             or re.match(r"(sp-k\d+/\d+(/ca\d+)?|shaken-sks/wrapping)$", b.get("label", ""))]
    other = [b for b in blocks if b not in known]
    if any(b.get("label", "") not in ("", "<empty>") or b.get("ID", "") not in ("", "<empty>")
           for b in other):
        problems.append("objects the records do not account for: %s" % other)
    print("swept:", len(versions), "versions,", len(have), "version objects,", len(records),
          "record slots,", len(other), "unlabelled objects from kills inside C_CreateObject")
for p in problems:
    print("PROBLEM:", p)
print("%s: %d identities, %d versions, unfinished: %d %s"
      % (mode, len(ids), len(versions), len(unfinished), " ".join(unfinished)))
sys.exit(1 if problems else 0)
PY

run_ok list-crashed ks list --json
python3 check.py crashed list-crashed.out ops.log "$chain_certs" > check-crashed.out ||
    { cat check-crashed.out; fail "the token after the kills is inconsistent"; }
cat check-crashed.out
unfinished=$(sed -n 's/^crashed: .* unfinished: \([0-9]*\).*/\1/p' check-crashed.out)
token_listing objs-crashed
pass "every_identity_has_one_active_version_and_nothing_reported_was_lost"
signs_active signed-crashed list-crashed.out
pass "the_sksd_that_saw_the_kills_signs_with_every_active_version"

# ---- sksd's next start sweeps (with no wait for abandoned writes) -------------------------

sksd_kill
sed 's|^trust_anchors = .*|&\nsweep_after = 0|' sks.conf > sweep.conf
sksd_restart "$sks_work/sweep.conf"
swept=$(grep -c 'key store: sweep: ' sksd.log || true)
run_ok list-swept ks list --json
token_listing objs-swept
python3 check.py swept list-swept.out ops.log "$chain_certs" objs-swept > check-swept.out ||
    { cat check-swept.out; fail "the token after sksd's start-up sweep is inconsistent"; }
cat check-swept.out
echo "FIGURE: $sks_test_name unfinished_versions_left=$unfinished swept_at_sksd_start=$swept"
pass "sksd_start_sweeps_what_the_kills_left_and_nothing_else"

run_ok sweep-again "$SKSCTL" sweep -c "$sks_work/sweep.conf"
token_listing objs-swept-again
assert_same_file "sksctl sweep after sksd's start-up sweep" objs-swept objs-swept-again
pass "sksctl_sweep_finds_nothing_more"

# ---- every identity signs with its active version ---------------------------------------------

signs_active signed-swept list-swept.out
pass "sksd_signs_for_every_identity_with_its_active_version"

echo "crash test took $(( $(date +%s) - start )) s"
