#!/bin/sh
# Crash safety: SKS_CRASH_KILLS sksctl imports into 10 identities (default
# 30; make soak runs more), each killed with SIGKILL at a random moment, many
# of them before they finish (SoftHSM is slow enough for kills to land
# mid-write).  Afterwards no incomplete version is active, every import that
# reported success is still there and signs, and sweep leaves exactly the
# objects of the complete versions.
. "$top_srcdir/tests/integration/keystore-common.sh"
ks_setup
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to read sksctl list --json"

IMPORTS=${SKS_CRASH_KILLS:-30}
# Kills land between 0 and SPREAD % of the time the first import took.
SPREAD=${SKS_CRASH_SPREAD:-200}
x5u=https://cert.example.org/crash.pem
start=$(date +%s)

# How long one import takes here, to spread the kills over it.
t0=$(date +%s%N)
run_ok first ks import sp-c0 --key pki/sp-1234.key --cert pki/sp-1234.pem --chain pki/chain.pem \
    --x5u "$x5u"
t1=$(date +%s%N)
span_us=$(( (t1 - t0) / 1000 ))
echo "one import takes ${span_us} us; kills land in 0..$((span_us * SPREAD / 100)) us"
echo "sp-c0/1" > done.list

# A kill inside SoftHSM's C_Login can tear token.object: restored and counted
# (token_object_save/check in keystore-common.sh).
torn=0

i=1
killed=0
while [ "$i" -lt "$IMPORTS" ]; do
    token_object_save
    name=sp-c$((i % 10))
    # sksctl itself in the background, not a subshell: the kill must hit the writer.
    "$SKSCTL" import "$name" -c "$sks_work/ks.conf" --key pki/sp-1234.key --cert pki/sp-1234.pem \
        --chain pki/chain.pem --x5u "$x5u" > "run.out" 2> "run.err" &
    pid=$!
    kill_after_random "$pid" "$span_us" "$SPREAD"
    if wait "$pid"; then
        # Printed "sp-cN/V active|standby": complete, and must stay so.
        cut -d' ' -f1 run.out >> done.list
    else
        rc=$?
        [ "$rc" -eq 137 ] || { cat run.err; fail "import $i failed on its own (exit $rc)"; }
        killed=$((killed + 1))
    fi
    token_object_check
    i=$((i + 1))
done
echo "$IMPORTS imports, $killed killed by SIGKILL, $(wc -l < done.list) reported complete," \
    "$torn SoftHSM token.object rewrites torn by a kill and restored"

# The token after the crashes, before any clean-up: read-only look.
run_ok list-crashed ks list --json
python3 - "$sks_work/list-crashed.out" "$sks_work/done.list" <<'PY' || fail "the token after the crashes is inconsistent"
import json, sys
ids = json.load(open(sys.argv[1]))["identities"]
done = [l.strip() for l in open(sys.argv[2]) if l.strip()]
versions = {}
for i in ids:
    actives = [v for v in i["versions"] if v["state"] == "active"]
    assert len(actives) <= 1, (i["name"], "several active versions")
    for v in i["versions"]:
        versions["%s/%d" % (i["name"], v["version"])] = v
    for v in actives:
        assert v["uri"] and v["x5u"] and v.get("notAfter"), (i["name"], "active but incomplete", v)
lost = [d for d in done if d not in versions or versions[d]["state"] not in ("active", "standby")]
assert not lost, ("complete versions lost", lost)
writing = sum(1 for v in versions.values() if v["state"] == "writing")
print("versions:", len(versions), "unfinished writes left by kills:", writing)
PY
pass "no_incomplete_version_is_active_and_no_complete_one_is_lost after $killed kills"

for n in 0 1 2 3 4 5 6 7 8 9; do
    if ks list "sp-c$n" 2>/dev/null | grep -q " active "; then
        ks_signs "sign-c$n" "sp-c$n" pki/sp-1234-fullchain.pem
    fi
done
pass "every_identity_with_an_active_version_signs"

# Sweep with no waiting time for abandoned writes: what the kills left goes.
sed 's/^grace_period = .*/&\nsweep_after = 0/' ks.conf > sweep.conf
run_ok sweep "$SKSCTL" sweep -c "$sks_work/sweep.conf"
run_ok list-swept ks list --json
token_listing swept.objs
python3 - "$sks_work/list-swept.out" "$sks_work/done.list" "$sks_work/swept.objs" <<'PY' || fail "sweep left the token inconsistent"
import json, re, sys
ids = json.load(open(sys.argv[1]))["identities"]
done = [l.strip() for l in open(sys.argv[2]) if l.strip()]
objs = open(sys.argv[3]).read()
versions = {"%s/%d" % (i["name"], v["version"]): v for i in ids for v in i["versions"]}
assert all(v["state"] in ("active", "standby") for v in versions.values()), "unfinished versions after sweep"
assert all(d in versions for d in done), "sweep removed a complete version"
# Objects as pkcs11-tool lists them: a header line, then "  name: value" lines.
blocks, cur = [], None
for line in objs.splitlines():
    if line and not line.startswith(" "):
        cur = {"kind": line}
        blocks.append(cur)
    elif cur is not None and ":" in line:
        k, v = line.strip().split(":", 1)
        cur.setdefault(k.strip(), v.strip().strip("'"))
version_objs = [b for b in blocks if re.match(r"sp-c\d/\d+(/ca\d+)?$", b.get("label", ""))]
records = [b for b in blocks if b.get("application") == "shaken-sks"]
markers = [b for b in blocks if b.get("application") == "shaken-sks/changed"]
ours = version_objs + records + markers
# Per version: private key, public key, certificate, chain certificate;
# per identity one or two record slots; one change marker.
assert len(version_objs) == 4 * len(versions), ("version objects", len(version_objs),
                                                "expected", 4 * len(versions))
assert len(ids) <= len(records) <= 2 * len(ids), ("record slots", len(records), "identities", len(ids))
assert len(markers) == 1, ("change markers", len(markers))
# A kill inside SoftHSM's C_CreateObject leaves an object with SoftHSM's
# defaults and none of our template (no label, no CKA_ID): nothing the key
# store can find, name or use.
partial = [b for b in blocks if b not in ours and b["kind"][:4] in ("Priv", "Publ", "Cert", "Data")]
empty = ("", "<empty>")
assert all(b.get("label", "") in empty and b.get("ID", "") in empty for b in partial), \
    ("objects with a label or CKA_ID the key store did not account for", partial)
print("after sweep:", len(versions), "versions,", len(ours), "key store objects,",
      len(partial), "unlabelled objects from kills inside SoftHSM's C_CreateObject")
PY
pass "sweep_removes_everything_the_kills_left_and_nothing_else"

elapsed=$(( $(date +%s) - start ))
echo "crash test took ${elapsed} s"
