#!/bin/sh
# sksctl sign and verify end to end with plain PEM keys from `openssl genpkey`
# and a test SHAKEN PKI from `sksctl pki`: what sign prints matches the test
# vectors byte for byte but for the signature, verify accepts it, and every
# failing verify exits with the status and SIP response that say why.
. "$top_srcdir/tests/integration/common.sh"

command -v "$OPENSSL" >/dev/null 2>&1 || skip "the openssl command is not installed"
[ -x "$SKSCTL" ] || fail "sksctl not built at $SKSCTL"
sks_mkwork
vectors=$top_srcdir/tests/vectors
a1_pub=$vectors/rfc8225-a1-public.pem
a1_key=$vectors/rfc8225-a1-private.pem
v1_iat=1443208345
v1_origid=123e4567-e89b-12d3-a456-426655440000
x5u=https://cert.example.org/passport.cer

# run_status NAME STATUS SUBSTRING CMD...: CMD exits with exactly STATUS and
# prints SUBSTRING.
run_status() {
    rs_name=$1
    rs_want=$2
    rs_text=$3
    shift 3
    if "$@" > "$sks_work/$rs_name.out" 2>&1; then rs_rc=0; else rs_rc=$?; fi
    if [ "$rs_rc" -ne "$rs_want" ]; then
        cat "$sks_work/$rs_name.out" >&2
        fail "$rs_name: '$*' exited with $rs_rc, not $rs_want"
    fi
    assert_grep "$rs_name" "$rs_text" "$sks_work/$rs_name.out"
}

b64url() {
    "$OPENSSL" base64 -A | tr '+/' '-_' | tr -d '='
}

# ---- keys ----------------------------------------------------------------------

sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$sks_work/sp.key"
sw_openssl pkey -in "$sks_work/sp.key" -pubout -out "$sks_work/sp.pub"
sw_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$sks_work/other.key"
sw_openssl pkey -in "$sks_work/other.key" -pubout -out "$sks_work/other.pub"

# ---- sign ----------------------------------------------------------------------

run_ok sign-v1 "$SKSCTL" sign --key "$sks_work/sp.key" --orig "+1 215-555-0121" \
    --dest 12155550131 --attest A --x5u "$x5u" --origid "$v1_origid" --iat "$v1_iat"
[ "$(wc -l < "$sks_work/sign-v1.out")" -eq 1 ] || fail "sign-v1: more than the header on stdout"
cut -d. -f1,2 "$sks_work/sign-v1.out" > "$sks_work/v1-mine.input"
cut -d. -f1,2 "$vectors/shaken-v1.identity" > "$sks_work/v1-vector.input"
assert_same_file sign-v1 "$sks_work/v1-vector.input" "$sks_work/v1-mine.input"
[ "$(cut -d';' -f2- "$sks_work/sign-v1.out")" = "info=<$x5u>;alg=ES256;ppt=shaken" ] ||
    fail "sign-v1: the parameters are not info=<$x5u>;alg=ES256;ppt=shaken"
pass "sign prints V1's header and claims byte for byte, then info=<...>;alg=ES256;ppt=shaken"

sig_b64=$(cut -d';' -f1 "$sks_work/sign-v1.out" | cut -d. -f3)
[ "${#sig_b64}" -eq 86 ] || fail "sign-v1: the signature is ${#sig_b64} characters, not 86 (64 bytes)"
pass "the signature is 64 bytes of r || s"

run_ok verify-v1 "$SKSCTL" verify --pubkey "$sks_work/sp.pub" --now "$v1_iat" \
    "$(cat "$sks_work/sign-v1.out")"
assert_grep verify-v1 "verified: 200 OK" "$sks_work/verify-v1.out"
assert_grep verify-v1 "orig: 12155550121" "$sks_work/verify-v1.out"
assert_grep verify-v1 "origid: $v1_origid" "$sks_work/verify-v1.out"
pass "verify accepts what sign made"

run_ok sign-a1 "$SKSCTL" sign --key "$a1_key" --orig 12155550121 --dest 12155550131 \
    --attest A --x5u "$x5u" --origid "$v1_origid" --iat "$v1_iat"
run_ok verify-a1 "$SKSCTL" verify --pubkey "$a1_pub" --now "$v1_iat" < "$sks_work/sign-a1.out"
pass "a signature by the RFC 8225 A.1 key verifies with its public key, header on stdin"

for v in shaken-v1 div-v3; do
    run_ok "verify-$v" "$SKSCTL" verify --pubkey "$a1_pub" --now "$v1_iat" < "$vectors/$v.identity"
done
assert_grep verify-div-v3 "div: 12155551213" "$sks_work/verify-div-v3.out"
pass "the V1 and V3 vectors verify with the RFC 8225 A.1 public key"

run_ok sign-now "$SKSCTL" sign --key "$sks_work/sp.key" --orig 12155550121 \
    --dest 12155550131,12155550132 --attest C --x5u "$x5u"
run_ok verify-now "$SKSCTL" verify --pubkey "$sks_work/sp.pub" < "$sks_work/sign-now.out"
assert_grep verify-now "dest: 12155550131,12155550132" "$sks_work/verify-now.out"
grep -Eq '^origid: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' \
    "$sks_work/verify-now.out" || fail "sign-now: origid is not a random (v4) UUID"
pass "without --iat and --origid, sign uses now and a random v4 UUID"

run_ok sign-div "$SKSCTL" sign --key "$sks_work/sp.key" --orig 12155551212 \
    --dest 12155551214 --div 12155551213 --x5u "$x5u" --iat "$v1_iat"
case $(cat "$sks_work/sign-div.out") in
*";info=<$x5u>;alg=ES256;ppt=div") ;;
*) fail "sign-div: the header does not end in ;ppt=div" ;;
esac
cut -d. -f1,2 "$sks_work/sign-div.out" > "$sks_work/v3-mine.input"
cut -d. -f1,2 "$vectors/div-v3.identity" > "$sks_work/v3-vector.input"
assert_same_file sign-div "$sks_work/v3-vector.input" "$sks_work/v3-mine.input"
run_ok verify-div "$SKSCTL" verify --pubkey "$sks_work/sp.pub" --now "$v1_iat" \
    < "$sks_work/sign-div.out"
pass "sign --div makes V3's div PASSporT and verify accepts it"

# ---- certificates: a test SHAKEN PKI --------------------------------------------

pki=$sks_work/pki
run_ok pki "$SKSCTL" pki --out "$pki" --spc 1234,5678 --days 30
run_ok sign-cert "$SKSCTL" sign --key "$pki/sp-1234.key" --orig 12155550121 \
    --dest 12155550131 --attest B --x5u "$x5u"
run_ok verify-chain "$SKSCTL" verify --cert "$pki/sp-1234-fullchain.pem" \
    --trust "$pki/root.pem" < "$sks_work/sign-cert.out"
assert_grep verify-chain "SPC 1234, SHAKEN profile and chain" "$sks_work/verify-chain.out"
run_ok verify-cert-only "$SKSCTL" verify --cert "$pki/sp-1234.pem" < "$sks_work/sign-cert.out"
assert_grep verify-cert-only "not checked against the SHAKEN profile" \
    "$sks_work/verify-cert-only.out"
pass "verify checks the signer's certificate, its chain and the SHAKEN profile with --trust"

run_status verify-other-cert 8 "438 Invalid Identity Header" "$SKSCTL" verify \
    --cert "$pki/sp-5678-fullchain.pem" --trust "$pki/root.pem" < "$sks_work/sign-cert.out"
assert_grep verify-other-cert "certificate's public key" "$sks_work/verify-other-cert.out"
run_status verify-no-chain 7 "437 Unsupported Credential" "$SKSCTL" verify \
    --cert "$pki/sp-1234.pem" --trust "$pki/root.pem" < "$sks_work/sign-cert.out"
run_status verify-self-signed 7 "437 Unsupported Credential" "$SKSCTL" verify \
    --cert "$pki/root.pem" --trust "$pki/root.pem" < "$sks_work/sign-cert.out"
pass "a certificate for another key fails 438; one that does not chain or fits no profile, 437"

# ---- failing verifies: status and SIP response ------------------------------------

hdr=$(cat "$sks_work/sign-v1.out")
run_status stale 7 "403 Stale Date" "$SKSCTL" verify --pubkey "$sks_work/sp.pub" \
    --now $((v1_iat + 61)) "$hdr"
assert_grep stale "61 seconds old" "$sks_work/stale.out"
run_ok max-age "$SKSCTL" verify --pubkey "$sks_work/sp.pub" --now $((v1_iat + 61)) \
    --max-age 120 "$hdr"
run_status future 7 "403 Stale Date" "$SKSCTL" verify --pubkey "$sks_work/sp.pub" \
    --now $((v1_iat - 61)) "$hdr"
assert_grep future "61 seconds in the future" "$sks_work/future.out"
run_status stale-now 7 "403 Stale Date" "$SKSCTL" verify --pubkey "$a1_pub" \
    < "$vectors/shaken-v1.identity"
pass "an iat outside the window fails 403 Stale Date with exit 7; --max-age widens it"

run_status wrong-key 8 "438 Invalid Identity Header: the PASSporT signature does not verify" \
    "$SKSCTL" verify --pubkey "$sks_work/other.pub" --now "$v1_iat" "$hdr"
pass "a signature by another key fails 438 with exit 8"

run_status other-info 2 "differs from the Identity header's info <https://evil.example/c.cer>" \
    "$SKSCTL" verify --pubkey "$sks_work/sp.pub" --now "$v1_iat" \
    "$(cut -d';' -f1 "$sks_work/sign-v1.out");info=<https://evil.example/c.cer>;ppt=shaken"
assert_grep other-info "438 Invalid Identity Header" "$sks_work/other-info.out"
run_status no-info 2 "436 Bad Identity Info" "$SKSCTL" verify --pubkey "$sks_work/sp.pub" \
    --now "$v1_iat" "$(cut -d';' -f1 "$sks_work/sign-v1.out");ppt=shaken"
run_status empty 2 "428 Use Identity Header" "$SKSCTL" verify --pubkey "$sks_work/sp.pub" \
    < /dev/null
pass "x5u other than info fails 438, a missing info 436, no header at all 428"

# alg "none" with an empty signature, as an attacker would send it.
none_hdr=$(printf '{"alg":"none","ppt":"shaken","typ":"passport","x5u":"%s"}' "$x5u" | b64url)
claims=$(cut -d. -f2 "$sks_work/sign-v1.out")
run_status alg-none 7 "437 Unsupported Credential" "$SKSCTL" verify \
    --pubkey "$sks_work/sp.pub" --now "$v1_iat" "$none_hdr.$claims.;info=<$x5u>;ppt=shaken"
assert_grep alg-none 'alg "none" is not supported' "$sks_work/alg-none.out"
pass "alg none fails 437 Unsupported Credential"

# The signer's DER output put in the JWS as it is.
cut -d. -f1,2 "$sks_work/sign-v1.out" | tr -d '\n' > "$sks_work/input"
sw_openssl dgst -sha256 -sign "$sks_work/sp.key" -out "$sks_work/der.sig" "$sks_work/input"
der_hdr="$(cat "$sks_work/input").$(b64url < "$sks_work/der.sig");info=<$x5u>;ppt=shaken"
run_status der-sig 2 "DER ECDSA signature; ES256 in a JWS is the 64-byte r || s" "$SKSCTL" verify \
    --pubkey "$sks_work/sp.pub" --now "$v1_iat" "$der_hdr"
pass "a DER signature in place of r || s fails 438 and says so"

head -c 20000 /dev/zero | tr '\0' A > "$sks_work/huge"
run_status huge 2 "the limit is 16384" "$SKSCTL" verify --pubkey "$sks_work/sp.pub" \
    < "$sks_work/huge"
pass "a 20 kB header is refused before parsing"

# ---- bad input to sign, usage and help ---------------------------------------------

run_status tn-letters 2 'orig: TN "1215555O121" contains '"'O'" "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1215555O121 --dest 1 --attest A --x5u "$x5u"
run_status tn-16 2 'dest: TN "1234567890123456" has 16 digits' "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 12155550131,1234567890123456 --attest A --x5u "$x5u"
run_status tn-empty 2 'dest: TN "" is empty' "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 12155550131, --attest A --x5u "$x5u"
run_status bad-attest 2 'attest "D" is not A, B or C' "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 2 --attest D --x5u "$x5u"
run_status bad-origid 2 "is not a UUID" "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 2 --attest A --x5u "$x5u" --origid 1234
run_status bad-iat 2 '--iat: "soon" is not a number of seconds' "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 2 --attest A --x5u "$x5u" --iat soon
run_status no-key 3 "$sks_work/missing.key" "$SKSCTL" sign \
    --key "$sks_work/missing.key" --orig 1 --dest 2 --attest A --x5u "$x5u"
pass "sign refuses bad TNs, attest, origid and iat with messages naming them"

run_status no-attest 1 "--attest is required" "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 2 --x5u "$x5u"
run_status div-attest 1 "drop --attest" "$SKSCTL" sign \
    --key "$sks_work/sp.key" --orig 1 --dest 2 --div 3 --attest A --x5u "$x5u"
run_status no-cert 1 "give one of --cert, --pubkey and --fetch" "$SKSCTL" verify "$hdr"
run_ok sign-help "$SKSCTL" sign --help
assert_grep sign-help "usage: sksctl sign" "$sks_work/sign-help.out"
run_ok verify-help "$SKSCTL" verify --help
assert_grep verify-help "usage: sksctl verify" "$sks_work/verify-help.out"
pass "usage errors exit 1; --help prints usage and exits 0"
