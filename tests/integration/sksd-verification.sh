#!/bin/sh
# sksd's verification API (POST /stir/v1/verification, the STI-VS of
# ATIS-1000082): what sksd signs verifies through it, with the certificate
# its x5u names fetched from a real TLS server on loopback (https-server.py,
# the STI-CR) and checked against the SHAKEN profile and the test STI-PA
# root; the call's from, to and time are held to the PASSporT; bad Identity
# values get the SIP response sksctl verify gives them, as a verstat and a
# reason; a body the API cannot read is a 400 with a stable code.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_verify_on "x5u_timeout_ms = 5000" "timeout_ms = 8000" "trust = $sks_work/verify-roots.pem"
base=$sts_base
# pa_pki NAME: a test PKI whose STI-CA names the STI-PA's CRL, served as
# NAME-crl.pem (ATIS-1000080), its SP certificate's CRL as NAME-sp-crl.pem,
# and a PASSporT its SP key signed whose x5u is NAME-chain.pem, in
# $sks_work/NAME.identity.  Its root is trusted too.
pa_pki() {
    "$SKSCTL" pki --out "$sks_work/$1" --spc 1234 --crl-url "$base/$1-sp-crl.pem" \
        --ca-crl-url "$base/$1-crl.pem" > "$sks_work/$1.log" 2>&1 || fail "sksctl pki for $1"
    cp "$sks_work/$1/sp-1234-fullchain.pem" "$sks_work/www/$1-chain.pem"
    cp "$sks_work/$1/crl.pem" "$sks_work/www/$1-sp-crl.pem"
    cp "$sks_work/$1/root-crl.pem" "$sks_work/www/$1-crl.pem"
    cat "$sks_work/$1/root.pem" >> "$sks_work/verify-roots.pem"
    "$SKSCTL" sign --key "$sks_work/$1/sp-1234.key" --orig 12155550121 --dest 12155550131 \
        --attest A --x5u "$base/$1-chain.pem" > "$sks_work/$1.identity" || fail "sksctl sign for $1"
}
cp "$sks_work/pki/root.pem" "$sks_work/verify-roots.pem"
pa_pki pa
pa_pki pa-revoked
# The diverting provider of the diverted calls: SPC 5678, its own STI-PA (trusted too).
"$SKSCTL" pki --out "$sks_work/divp" --spc 5678 --crl-url "$base/divp-crl.pem" \
    > "$sks_work/divp.log" 2>&1 || fail "sksctl pki for the diverting provider"
cp "$sks_work/divp/sp-5678-fullchain.pem" "$sks_work/www/divp-chain.pem"
cp "$sks_work/divp/crl.pem" "$sks_work/www/divp-crl.pem"
cat "$sks_work/divp/root.pem" >> "$sks_work/verify-roots.pem"
revoke "$sks_work/pa-revoked/ca.pem" "$sks_work/pa-revoked" "$sks_work/www/pa-revoked-crl.pem" root
sksd_start
v=$(provision_version sp-main activate)
publish sp-main "$v"

# verification NAME BODY: BODY to the verification API; the answer lands in
# $sks_work/NAME.json; prints the status.
verification() {
    printf '%s' "$2" > "$sks_work/$1.req"
    curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$sks_work/$1.req" \
        -o "$sks_work/$1.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/stir/v1/verification"
}
# request FROM TO IDENTITY [TIME]: an ATIS-1000082 verificationRequest.
request() {
    printf '{"verificationRequest":{"from":{"tn":"%s"},"to":{"tn":["%s"]},"time":%s,"identity":"%s"}}' \
        "$1" "$2" "${4:-$(date +%s)}" "$3"
}
# verstat NAME BODY VERSTAT [REASONCODE]: a 200 with that verstat (and reasonCode).
verstat() {
    vs_code=$(verification "$1" "$2")
    [ "$vs_code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: status $vs_code, not 200"; }
    vs_got=$(json "$sks_work/$1.json" verificationResponse.verstat)
    [ "$vs_got" = "$3" ] || { cat "$sks_work/$1.json"; fail "$1: verstat $vs_got, not $3"; }
    if [ -n "${4:-}" ]; then
        vs_got=$(json "$sks_work/$1.json" verificationResponse.reasonCode)
        [ "$vs_got" = "$4" ] || { cat "$sks_work/$1.json"; fail "$1: reasonCode $vs_got, not $4"; }
    fi
}
# signed NAME ORIG DEST: an Identity header sksd signs for ORIG to DEST, in $sks_work/NAME.identity.
signed() {
    s_code=$(sign "$1" "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"$3\"]},\"orig\":{\"tn\":\"$2\"}}}")
    [ "$s_code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: signing status $s_code"; }
    json "$sks_work/$1.json" signingResponse.identity > "$sks_work/$1.identity"
}

# ---- what sksd signs verifies ------------------------------------------------------

i=0
while [ "$i" -lt 20 ]; do
    signed "pp$i" "1215555$(printf %04d "$i")" 12155550131
    verstat "ok$i" "$(request "1215555$(printf %04d "$i")" 12155550131 "$(cat "$sks_work/pp$i.identity")")" \
        TN-Validation-Passed
    i=$((i + 1))
done
[ "$(json "$sks_work/ok0.json" verificationResponse.attest)" = A ] || fail "attest is not reported"
[ "$(json "$sks_work/ok0.json" verificationResponse.spc)" = "$SKSD_SPC" ] ||
    fail "the certificate's SPC is not reported"
fetches=$(grep -c "GET /sp-main-$v.pem" "$sks_work/https-server.log")
[ "$fetches" = 1 ] || fail "20 verifications of one x5u fetched it $fetches times, not once"
pass "every_passport_sksd_signs_verifies_with_one_fetch_of_its_x5u"

# vesper's shape: orig, dest and iat, and from.tn as an array of one.
id=$(cat "$sks_work/pp0.identity")
verstat vesper "{\"orig\":{\"tn\":[\"12155550000\"]},\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":$(date +%s),\"identity\":\"$id\"}" \
    TN-Validation-Passed
verstat formatted "$(request "+1 215-555-0000" "1 (215) 555-0131" "$id")" TN-Validation-Passed
verstat no-call "{\"verificationRequest\":{\"identity\":\"$id\"}}" TN-Validation-Passed
pass "vesper_shape_formatted_tns_and_a_request_without_from_to_verify"

# secsipidx (Kamailio's STIR/SHAKEN library and tool) signs with the test
# SP key; its Identity header verifies through the API.  It is none of our
# code: it runs without the sanitizer run's ASan preload.
command -v secsipidx >/dev/null 2>&1 || fail "secsipidx is not installed (quickstart.sh installs it)"
# Its key is a file (secsipidx reads no token); the test STI-CA certifies it.
run_ok secsipidx-key sw_openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=SHAKEN $SKSD_SPC" -keyout "$sks_work/secsipidx.key" -out "$sks_work/secsipidx.csr"
issue_cert "$sks_work/secsipidx.csr" "$sks_work/secsipidx.pem"
cat "$sks_work/secsipidx.pem" "$sks_work/pki/chain.pem" > "$sks_work/www/secsipidx.pem"
env -u LD_PRELOAD secsipidx -S -k "$sks_work/secsipidx.key" -o 12155550121 -d 12155550131 -a B \
    -x5u "$base/secsipidx.pem" > "$sks_work/secsipidx.identity" 2> "$sks_work/secsipidx.err" ||
    { cat "$sks_work/secsipidx.err"; fail "secsipidx -S"; }
verstat secsipidx "$(request 12155550121 12155550131 "$(cat "$sks_work/secsipidx.identity")")" \
    TN-Validation-Passed
[ "$(json "$sks_work/secsipidx.json" verificationResponse.attest)" = B ] ||
    fail "the attest of secsipidx's PASSporT is not reported"
pass "an_identity_header_secsipidx_signs_verifies"

# ---- the call is held to the PASSporT ------------------------------------------------

verstat other-orig "$(request 12155559999 12155550131 "$id")" TN-Validation-Failed 438
assert_grep other-orig "is not the call's originating TN 12155559999" "$sks_work/other-orig.json"
verstat other-dest "$(request 12155550000 12155550199 "$id")" TN-Validation-Failed 438
assert_grep other-dest "12155550199 is not among the PASSporT's dest" "$sks_work/other-dest.json"
verstat stale-time "$(request 12155550000 12155550131 "$id" $(($(date +%s) - 3600)))" \
    TN-Validation-Failed 403
[ "$(json "$sks_work/stale-time.json" verificationResponse.code)" = stale-time ] ||
    fail "a stale time has no stale-time code"
pass "from_to_and_time_must_be_the_passports"

# ---- a diverted call: its shaken PASSporT and div PASSporTs (RFC 8946) -----------------

# requests FROM TO FILE...: a verificationRequest whose identity is the array of the files' values.
requests() {
    rq_ids=
    rq_from=$1
    rq_to=$2
    shift 2
    for rq_f in "$@"; do
        rq_ids="$rq_ids,\"$(cat "$sks_work/$rq_f.identity")\""
    done
    printf '{"verificationRequest":{"from":{"tn":"%s"},"to":{"tn":["%s"]},"time":%s,"identity":[%s]}}' \
        "$rq_from" "$rq_to" "$(date +%s)" "${rq_ids#,}"
}
# div_signed NAME ORIG FROM TO: sksd signs a div PASSporT for the call ORIG diverted FROM -> TO.
div_signed() {
    ds_code=$(sign "$1" "{\"signingRequest\":{\"dest\":{\"tn\":[\"$4\"]},\"orig\":{\"tn\":\"$2\"},\"div\":{\"tn\":\"$3\"}}}")
    [ "$ds_code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: signing status $ds_code"; }
    json "$sks_work/$1.json" signingResponse.identity > "$sks_work/$1.identity"
}
# field NAME PATH WANT: the answer NAME has WANT at PATH.
field() {
    fd_got=$(json "$sks_work/$1.json" "$2")
    [ "$fd_got" = "$3" ] || { cat "$sks_work/$1.json"; fail "$1: $2 is $fd_got, not $3"; }
}
signed call 12155550121 12155550131
div_signed div1 12155550121 12155550131 12155550141
div_signed div2 12155550121 12155550141 12155550151
verstat diverted "$(requests 12155550121 12155550141 div1 call)" TN-Validation-Passed
field diverted verificationResponse.attest A
field diverted verificationResponse.spc "$SKSD_SPC"
field diverted verificationResponse.diversions.0.div.tn 12155550131
field diverted verificationResponse.diversions.0.dest.tn.0 12155550141
field diverted verificationResponse.diversions.0.spc "$SKSD_SPC"
verstat twice "$(requests 12155550121 12155550151 div2 call div1)" TN-Validation-Passed
field twice verificationResponse.diversions.1.div.tn 12155550141
pass "a_call_sksd_signed_and_diverted_verifies_as_its_shaken_and_div_passports"

# ATIS-1000085: the diverting provider signs with its own certificate, of its own SPC.
"$SKSCTL" sign --key "$sks_work/divp/sp-5678.key" --orig 12155550121 --div 12155550131 \
    --dest 12155550141 --x5u "$base/divp-chain.pem" > "$sks_work/div-other.identity" ||
    fail "sksctl sign --div"
verstat div-other "$(requests 12155550121 12155550141 call div-other)" TN-Validation-Passed
field div-other verificationResponse.spc "$SKSD_SPC"
field div-other verificationResponse.diversions.0.spc 5678
verstat one-shaken "$(requests 12155550121 12155550131 call)" TN-Validation-Passed
field one-shaken verificationResponse.diversions "[]"
pass "a_div_passport_of_another_providers_spc_verifies_and_names_it"

# failed NAME BODY VERSTAT REASON CODE INDEX: the set fails with that reason, code and value.
failed() {
    verstat "$1" "$2" "$3" "$4"
    [ -z "$5" ] || field "$1" verificationResponse.code "$5"
    field "$1" verificationResponse.identityIndex "$6"
}
div_signed broken 12155550121 12155550139 12155550141
failed broken-link "$(requests 12155550121 12155550141 call broken)" TN-Validation-Failed 438 div-unlinked 1
assert_grep broken-link "it diverts the call from 12155550139" "$sks_work/broken-link.json"
failed leg-skipped "$(requests 12155550121 12155550151 call div2)" TN-Validation-Failed 438 div-unlinked 1
failed not-this-call "$(requests 12155550121 12155550131 call div1)" TN-Validation-Failed 438 "" 1
# A call that arrives diverted without its div PASSporT: the shaken PASSporT is for another number.
failed div-missing "$(requests 12155550121 12155550141 call)" TN-Validation-Failed 438 "" 0
assert_grep div-missing "12155550141 is not among the PASSporT's dest" "$sks_work/div-missing.json"
assert_grep not-this-call "12155550131 is not among the PASSporT's dest" "$sks_work/not-this-call.json"
div_signed other-caller 12155550999 12155550131 12155550141
failed div-orig "$(requests 12155550121 12155550141 call other-caller)" TN-Validation-Failed 438 div-orig 1
failed div-alone "$(requests 12155550121 12155550141 div1)" No-TN-Validation 428 div-without-shaken 0
failed two-shaken "$(requests 12155550121 12155550131 call call)" TN-Validation-Failed 438 shaken-several 1
failed too-many "$(requests 12155550121 12155550141 call div1 div1 div1 div1 div1 div1 div1 div1)" \
    TN-Validation-Failed 438 identity-too-many 8
verstat bad-value "$(requests 12155550121 12155550141 call div1 | sed 's/"identity":\["/"identity":["x/')" \
    TN-Validation-Failed 438
field bad-value verificationResponse.identityIndex 0
pass "a_broken_chain_a_div_of_another_caller_a_div_alone_and_too_many_values_get_their_verstat"

# The single-string form answers as it always did: no diversions, no index.
verstat single "$(request 12155550121 12155550131 "$(cat "$sks_work/call.identity")")" TN-Validation-Passed
printf '{"verificationResponse":{"verstat":"TN-Validation-Passed","attest":"A","spc":"%s"}}' \
    "$SKSD_SPC" > "$sks_work/single.want"
cmp -s "$sks_work/single.want" "$sks_work/single.json" || { cat "$sks_work/single.json"; fail "the single-string answer changed"; }
pass "the_single_identity_string_answers_byte_for_byte_as_before"

# ---- the shared vectors ---------------------------------------------------------------

# V1 (SHAKEN) and V3 (div) carry an iat of 2015: stale today, whatever their signature.
for vec in shaken-v1 div-v3; do
    verstat "$vec" "{\"verificationRequest\":{\"identity\":\"$(cat "$SKS_VECTORS/$vec.identity")\"}}" \
        TN-Validation-Failed 403
    assert_grep "$vec" "seconds old" "$sks_work/$vec.json"
done
pass "the_shared_vectors_are_stale_today"

# ---- bad Identity values: the SIP response sksctl verify gives ---------------------------

# api_same NAME IDENTITY: the API's reasonCode is the SIP code of sksctl verify --fetch.
api_same() {
    printf '%s' "$2" > "$sks_work/$1.identity"
    "$SKSCTL" verify --fetch --trust "$sks_work/pki/root.pem" --fetch-ca "$https_ca" --fetch-private \
        < "$sks_work/$1.identity" > "$sks_work/$1.cli" 2>&1 && fail "$1: sksctl verify accepted it"
    as_cli=$(grep -o '[0-9][0-9][0-9] [A-Z][a-z]*' "$sks_work/$1.cli" | head -n 1 | cut -d' ' -f1)
    [ -n "$as_cli" ] || { cat "$sks_work/$1.cli"; fail "$1: sksctl verify gave no SIP code"; }
    printf '{"verificationRequest":{"identity":%s}}' \
        "$(env -u LD_PRELOAD python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$sks_work/$1.identity")" \
        > "$sks_work/$1.body"
    verstat "$1" "$(cat "$sks_work/$1.body")" "$(case $as_cli in 403 | 437 | 438) echo TN-Validation-Failed ;; *) echo No-TN-Validation ;; esac)" "$as_cli"
}
hdr=${id%%.*}
rest=${id#*.}
claims=${rest%%.*}
sig_info=${rest#*.}
sig=${sig_info%%;*}
info=";${sig_info#*;}"
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
api_same empty ""
api_same truncated "$hdr.$claims"
api_same bad-base64 "$hdr.$claims.!!!$sig$info"
api_same no-info "$hdr.$claims.$sig"
api_same alg-none "$(b64 '{"alg":"none","ppt":"shaken","typ":"passport","x5u":"'"$(x5u_of sp-main "$v")"'"}').$claims.$sig;info=<$(x5u_of sp-main "$v")>;alg=none;ppt=shaken"
api_same wrong-ppt "$hdr.$claims.$sig;info=<$(x5u_of sp-main "$v")>;alg=ES256;ppt=rcd"
api_same other-signature "$hdr.$claims.$(b64 "$(head -c 64 /dev/zero | tr '\0' 'A')")$info"
api_same info-elsewhere "$hdr.$claims.$sig;info=<$base/elsewhere.pem>;alg=ES256;ppt=shaken"
api_same huge "$(head -c 9000 /dev/zero | tr '\0' 'a')"
pass "bad_identity_values_get_the_sip_response_sksctl_verify_gives"

# ---- bad certificates behind the x5u ------------------------------------------------------

# A PASSporT signed with a key whose x5u serves a chain that does not reach the root.
"$SKSCTL" pki --out "$sks_work/other-pki" --spc 5678 --crl-url "$base/other-crl.pem" \
    > "$sks_work/other-pki.log" 2>&1 ||
    fail "sksctl pki for another STI-PA"
cp "$sks_work/other-pki/sp-5678-fullchain.pem" "$sks_work/www/other.pem"
cp "$sks_work/other-pki/crl.pem" "$sks_work/www/other-crl.pem"
"$SKSCTL" sign --key "$sks_work/other-pki/sp-5678.key" --orig 12155550121 --dest 12155550131 \
    --attest A --x5u "$base/other.pem" > "$sks_work/other.identity" || fail "sksctl sign"
verstat untrusted "$(request 12155550121 12155550131 "$(cat "$sks_work/other.identity")")" \
    TN-Validation-Failed 437
assert_grep untrusted "the certificate is not acceptable" "$sks_work/untrusted.json"
verstat untrusted-again "$(request 12155550121 12155550131 "$(cat "$sks_work/other.identity")")" \
    TN-Validation-Failed 437
cmp -s "$sks_work/untrusted.json" "$sks_work/untrusted-again.json" ||
    fail "the kept verdict on a chain differs from the first"
"$SKSCTL" sign --key "$sks_work/other-pki/sp-5678.key" --orig 12155550121 --dest 12155550131 \
    --attest A --x5u "$base/missing.pem" > "$sks_work/missing.identity" || fail "sksctl sign"
verstat missing "$(request 12155550121 12155550131 "$(cat "$sks_work/missing.identity")")" \
    No-TN-Validation 436
assert_grep missing "HTTP status 404" "$sks_work/missing.json"
pass "unacceptable_and_missing_certificates_are_437_and_436"

# ---- CRLs ------------------------------------------------------------------------------------

# crl_identity NAME CRL: an activated identity NAME whose certificate names
# CRL (on the STI-CR) as its CRL distribution point, and a PASSporT it
# signed in $sks_work/NAME.identity; prints its version.
crl_identity() {
    sp_crl=$2
    ci_v=$(provision_version "$1" activate)
    sp_crl=
    publish "$1" "$ci_v"
    printf '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}' \
        > "$sks_work/$1-sign.req"
    ci_code=$(curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$sks_work/$1-sign.req" \
        -o "$sks_work/$1-sign.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing?identity=$1")
    [ "$ci_code" = 200 ] || { cat "$sks_work/$1-sign.json" >&2; fail "$1: signing status $ci_code"; }
    json "$sks_work/$1-sign.json" signingResponse.identity > "$sks_work/$1.identity"
    echo "$ci_v"
}
rv=$(crl_identity sp-revoked revoked-crl.pem)
revoke "$sks_work/sp-revoked-$rv.pem" "$sks_work/pki" "$sks_work/www/revoked-crl.pem"
verstat revoked "$(request 12155550121 12155550131 "$(cat "$sks_work/sp-revoked.identity")")" \
    TN-Validation-Failed 437
assert_grep revoked "is revoked: its issuer's CRL lists it" "$sks_work/revoked.json"
verstat revoked-again "$(request 12155550121 12155550131 "$(cat "$sks_work/sp-revoked.identity")")" \
    TN-Validation-Failed 437
crl_identity sp-no-crl absent-crl.pem > /dev/null
verstat no-crl "$(request 12155550121 12155550131 "$(cat "$sks_work/sp-no-crl.identity")")" \
    No-TN-Validation 436
assert_grep no-crl "the certificate's CRL: https://localhost:$https_port/absent-crl.pem: HTTP status 404" \
    "$sks_work/no-crl.json"
crl_identity sp-junk-crl junk-crl.pem > /dev/null
printf 'not a CRL\n' > "$sks_work/www/junk-crl.pem"
verstat junk-crl "$(request 12155550121 12155550131 "$(cat "$sks_work/sp-junk-crl.identity")")" \
    No-TN-Validation 436
assert_grep junk-crl "is not a PEM or DER CRL" "$sks_work/junk-crl.json"
crls=$(grep -c "GET /revoked-crl.pem" "$sks_work/https-server.log")
[ "$crls" = 1 ] || fail "two verifications fetched the CRL $crls times, not once"
pass "a_revoked_certificate_is_437_and_a_crl_that_cannot_be_had_436"

# metric NAME: its value on /metrics now.
metric() {
    curl -sS "http://127.0.0.1:$sksd_port/metrics" | sed -n "s/^$1 //p"
}
# The STI-CA is held to the STI-PA's CRL too: one fetch of each of the
# chain's two CRLs serves every verification of it, and a chain whose
# STI-CA the STI-PA's CRL lists is 437, naming the STI-CA.
fetches=$(metric sksd_crl_fetches_total)
hits=$(metric 'sksd_crl_cache_hits_total{kind="fresh"}')
i=0
while [ "$i" -lt 10 ]; do
    verstat "pa$i" "$(request 12155550121 12155550131 "$(cat "$sks_work/pa.identity")")" \
        TN-Validation-Passed
    i=$((i + 1))
done
got=$(metric sksd_crl_fetches_total)
[ "$got" = $((fetches + 2)) ] ||
    fail "10 verifications of a chain that names 2 CRLs made $((got - fetches)) CRL fetches, not 2"
got=$(metric 'sksd_crl_cache_hits_total{kind="fresh"}')
[ "$got" -ge $((hits + 18)) ] ||
    fail "9 warm verifications of a chain that names 2 CRLs made $((got - hits)) fresh CRL hits"
for f in pa-crl.pem pa-sp-crl.pem; do
    [ "$(grep -c "GET /$f" "$sks_work/https-server.log")" = 1 ] || fail "$f was not fetched once"
done
pass "one_fetch_of_each_crl_of_a_chain_serves_every_verification"

verstat sti-ca-revoked "$(request 12155550121 12155550131 "$(cat "$sks_work/pa-revoked.identity")")" \
    TN-Validation-Failed 437
assert_grep sti-ca-revoked "is revoked: its issuer's CRL lists the intermediate (STI-CA) certificate at depth 1, /C=US/O=SKS Test STI-CA/CN=SKS Test STI-CA" \
    "$sks_work/sti-ca-revoked.json"
verstat sti-ca-revoked-again "$(request 12155550121 12155550131 "$(cat "$sks_work/pa-revoked.identity")")" \
    TN-Validation-Failed 437
cmp -s "$sks_work/sti-ca-revoked.json" "$sks_work/sti-ca-revoked-again.json" ||
    fail "the kept verdict on a chain whose STI-CA is revoked differs from the first"
[ "$(grep -c "GET /pa-revoked-crl.pem" "$sks_work/https-server.log")" = 1 ] ||
    fail "the STI-PA's CRL was not fetched once for two verifications"
pass "a_chain_whose_sti_ca_the_sti_pa_revoked_is_437"

# A certificate server that stalls holds a verification thread, never the
# HTTP workers or the signers: signing goes on while the stalled
# verification waits, which then gets 436 with the reason.
"$SKSCTL" sign --key "$sks_work/other-pki/sp-5678.key" --orig 12155550121 --dest 12155550131 \
    --attest A --x5u "$base/stall" > "$sks_work/stall.identity" || fail "sksctl sign"
verstat stall "$(request 12155550121 12155550131 "$(cat "$sks_work/stall.identity")")" \
    No-TN-Validation 436 > "$sks_work/stall.out" 2>&1 &
stall_pid=$!
# The stalled verification holds a verification thread (the server logs a
# request only once it answers it).
i=0
until curl -sS "http://127.0.0.1:$sksd_port/metrics" | grep -q '^sksd_verify_threads_busy 1$'; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || fail "no verification thread took the stalled x5u"
    sleep 0.1
done
i=0
while [ "$i" -lt 20 ]; do
    signed "during-stall$i" 12155550121 12155550131
    i=$((i + 1))
done
kill -0 "$stall_pid" 2>/dev/null ||
    { cat "$sks_work/stall.out"; fail "the stalled verification was answered before the signings"; }
wait "$stall_pid" || { cat "$sks_work/stall.out"; fail "the stalled verification"; }
assert_grep stall "no complete answer in time" "$sks_work/stall.json"
pass "a_stalling_certificate_server_holds_no_signer"

# ---- what the API refuses -------------------------------------------------------------------

# refused NAME BODY CODE: a 400 with that stable code.
refused() {
    rf_status=$(verification "$1" "$2")
    [ "$rf_status" = 400 ] || { cat "$sks_work/$1.json"; fail "$1: status $rf_status, not 400"; }
    rf_code=$(json "$sks_work/$1.json" error.code)
    [ "$rf_code" = "$3" ] || { cat "$sks_work/$1.json"; fail "$1: code $rf_code, not $3"; }
}
refused not-json '{"verificationRequest":' malformed-json
refused not-object '[1,2]' wrong-type
refused unknown '{"verificationRequest":{"identity":"x","attest":"A"}}' unknown-field
refused extra '{"verificationRequest":{"identity":"x"},"more":1}' unknown-field
refused bad-from '{"verificationRequest":{"from":{"tn":"12ab"},"identity":"x"}}' invalid-tn
refused from-type '{"verificationRequest":{"from":"12155550121","identity":"x"}}' wrong-type
refused identity-type '{"verificationRequest":{"identity":42}}' wrong-type
refused identity-item-type '{"verificationRequest":{"identity":["x",42]}}' wrong-type
[ "$(json "$sks_work/identity-item-type.json" error.field)" = "identity[1]" ] ||
    { cat "$sks_work/identity-item-type.json"; fail "a non-string identity value is not named"; }
refused time-type '{"verificationRequest":{"identity":"x","time":"now"}}' wrong-type
refused time-fraction '{"verificationRequest":{"identity":"x","time":1.5}}' wrong-type
many=$(i=0; while [ $i -lt 200 ]; do printf '"1215555%04d",' $i; i=$((i + 1)); done)
refused too-many-to "{\"verificationRequest\":{\"to\":{\"tn\":[${many%,}]},\"identity\":\"x\"}}" too-many
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sksd_port/stir/v1/verification")
[ "$code" = 405 ] || fail "GET of the verification API: status $code, not 405"
pass "unreadable_requests_are_400_with_a_stable_code"

# ---- Rich Call Data ---------------------------------------------------------------------

# rcd_signed NAME ICON DIGEST-OF: sksd signs a PASSporT whose rcd points at $base/ICON, with an
# rcdi digest of the file DIGEST-OF (as the icon's author computed it).
rcd_signed() {
    rs_digest=sha256-$(openssl dgst -sha256 -binary "$3" | base64 | tr -d '\n')
    rs_code=$(sign "$1" "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"orig\":{\"tn\":\"12155550121\"},\"crn\":\"Appointment reminder\",\"rcd\":{\"nam\":\"Example Clinic\",\"icn\":\"$base/$2\"},\"rcdi\":{\"/icn\":\"$rs_digest\"}}}")
    [ "$rs_code" = 200 ] || { cat "$sks_work/$1.json"; fail "$1: signing status $rs_code"; }
    json "$sks_work/$1.json" signingResponse.identity > "$sks_work/$1.identity"
}
head -c 4000 /dev/urandom > "$sks_work/www/logo.png"
head -c 4000 /dev/urandom > "$sks_work/www/other.png"
rcd_signed rcd-good logo.png "$sks_work/www/logo.png"
for n in 1 2 3; do
    verstat "rcd-ok$n" "$(request 12155550121 12155550131 "$(cat "$sks_work/rcd-good.identity")")" \
        TN-Validation-Passed
    [ "$(json "$sks_work/rcd-ok$n.json" verificationResponse.rcd.result)" = verified ] ||
        { cat "$sks_work/rcd-ok$n.json"; fail "rcd-ok$n: Rich Call Data not verified"; }
done
[ "$(json "$sks_work/rcd-ok1.json" verificationResponse.rcd.rcd.nam)" = "Example Clinic" ] ||
    fail "the verified name is not reported"
[ "$(json "$sks_work/rcd-ok1.json" verificationResponse.rcd.crn)" = "Appointment reminder" ] ||
    fail "the call reason is not reported"
fetches=$(grep -c "GET /logo.png" "$sks_work/https-server.log")
[ "$fetches" = 1 ] || fail "3 verifications of one icon fetched it $fetches times, not once"
# The icon's digest is of another picture: TN validation passes, Rich Call Data fails.
rcd_signed rcd-bad other.png "$sks_work/www/logo.png"
verstat rcd-bad "$(request 12155550121 12155550131 "$(cat "$sks_work/rcd-bad.identity")")" \
    TN-Validation-Passed
[ "$(json "$sks_work/rcd-bad.json" verificationResponse.rcd.result)" = failed ] ||
    { cat "$sks_work/rcd-bad.json"; fail "a wrong icon digest did not fail the Rich Call Data"; }
[ "$(json "$sks_work/rcd-bad.json" verificationResponse.rcd.code)" = rcdi-mismatch ] ||
    { cat "$sks_work/rcd-bad.json"; fail "a wrong icon digest is not rcdi-mismatch"; }
rcd_signed rcd-missing gone.png "$sks_work/www/logo.png"
verstat rcd-missing "$(request 12155550121 12155550131 "$(cat "$sks_work/rcd-missing.identity")")" \
    TN-Validation-Passed
[ "$(json "$sks_work/rcd-missing.json" verificationResponse.rcd.result)" = failed ] ||
    { cat "$sks_work/rcd-missing.json"; fail "a missing icon did not fail the Rich Call Data"; }
pass "rich_call_data_is_judged_apart_with_one_fetch_of_its_icon"

# "rcdi": true: sksd computes the digests itself, over what the icon's and
# the jCard photo's URLs serve (fetched as verification fetches them), and
# they are what sksctl sign --rcdi computes over the same content.
head -c 4000 /dev/urandom > "$sks_work/www/brand.png"
head -c 6000 /dev/urandom > "$sks_work/www/photo.jpg"
printf '["vcard",[["version",{},"text","4.0"],["fn",{},"text","Example Clinic"],["photo",{},"uri","%s/photo.jpg"]]]' \
    "$base" > "$sks_work/card.json"
# rcdi_request NAME ICON: sksd signs with "rcdi": true for an icon at $base/ICON and the jCard.
rcdi_request() {
    sign "$1" "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"orig\":{\"tn\":\"12155550121\"},\"rcd\":{\"nam\":\"Example Clinic\",\"icn\":\"$base/$2\",\"jcd\":$(cat "$sks_work/card.json")},\"rcdi\":true}}"
}
# rcdi_of FILE: the rcdi claim of the Identity header in FILE, as sorted JSON.
rcdi_of() {
    env -u LD_PRELOAD python3 -c 'import base64,json,sys
c=open(sys.argv[1]).read().split(".")[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(c+"="*(-len(c)%4)))["rcdi"],sort_keys=True))' "$1"
}
code=$(rcdi_request rcdi-sksd brand.png)
[ "$code" = 200 ] || { cat "$sks_work/rcdi-sksd.json"; fail "rcdi: true: signing status $code"; }
json "$sks_work/rcdi-sksd.json" signingResponse.identity > "$sks_work/rcdi-sksd.identity"
"$SKSCTL" sign --key "$sks_work/pa/sp-1234.key" --orig 12155550121 --dest 12155550131 --attest A \
    --x5u "$base/pa-chain.pem" --nam "Example Clinic" --icn "$base/brand.png" \
    --jcd "$sks_work/card.json" --rcdi --fetch-ca "$https_ca" --fetch-private \
    > "$sks_work/rcdi-sksctl.identity" || fail "sksctl sign --rcdi"
rcdi_of "$sks_work/rcdi-sksd.identity" > "$sks_work/rcdi-sksd.rcdi"
rcdi_of "$sks_work/rcdi-sksctl.identity" > "$sks_work/rcdi-sksctl.rcdi"
assert_grep rcdi-sksd '"/icn": "sha256-' "$sks_work/rcdi-sksd.rcdi"
assert_grep rcdi-sksd '"/jcd/1/2/3": "sha256-' "$sks_work/rcdi-sksd.rcdi"
assert_same_file rcdi-sksd "$sks_work/rcdi-sksctl.rcdi" "$sks_work/rcdi-sksd.rcdi"
verstat rcdi-verified "$(request 12155550121 12155550131 "$(cat "$sks_work/rcdi-sksd.identity")")" \
    TN-Validation-Passed
[ "$(json "$sks_work/rcdi-verified.json" verificationResponse.rcd.result)" = verified ] ||
    { cat "$sks_work/rcdi-verified.json"; fail "the rcdi sksd computed does not verify"; }
pass "sksd_computes_rcdi_as_sksctl_does_and_it_verifies"

# Content that cannot be had: 422 naming the URL, and nothing signed.
code=$(rcdi_request rcdi-gone gone.png)
[ "$code" = 422 ] || { cat "$sks_work/rcdi-gone.json"; fail "rcdi over a missing icon: status $code"; }
[ "$(json "$sks_work/rcdi-gone.json" error.code)" = rcd-content-unavailable ] ||
    { cat "$sks_work/rcdi-gone.json"; fail "rcdi over a missing icon: no rcd-content-unavailable"; }
assert_grep rcdi-gone "$base/gone.png: HTTP status 404" "$sks_work/rcdi-gone.json"
if grep -q '"identity"' "$sks_work/rcdi-gone.json"; then fail "rcdi over a missing icon signed"; fi
code=$(sign rcdi-nothing '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"},"rcdi":true}}')
[ "$code" = 400 ] || { cat "$sks_work/rcdi-nothing.json"; fail "rcdi without rcd: status $code"; }
[ "$(json "$sks_work/rcdi-nothing.json" error.code)" = invalid-rcd ] ||
    { cat "$sks_work/rcdi-nothing.json"; fail "rcdi without rcd: not invalid-rcd"; }
pass "rcdi_over_content_that_cannot_be_had_is_refused_naming_the_url"

# "rcdPassport": true: the Rich Call Data goes into a ppt=rcd PASSporT of
# its own (RFC 9795), answered as rcdIdentity beside the SHAKEN one; both
# verify, alone and together.
code=$(sign rcdpp "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"orig\":{\"tn\":\"12155550121\"},\"crn\":\"Appointment reminder\",\"rcd\":{\"nam\":\"Example Clinic\",\"icn\":\"$base/brand.png\"},\"rcdi\":true,\"rcdPassport\":true}}")
[ "$code" = 200 ] || { cat "$sks_work/rcdpp.json"; fail "rcdPassport: signing status $code"; }
json "$sks_work/rcdpp.json" signingResponse.identity > "$sks_work/rcdpp-shaken.identity"
json "$sks_work/rcdpp.json" signingResponse.rcdIdentity > "$sks_work/rcdpp-rcd.identity"
grep -q ';ppt=shaken$' "$sks_work/rcdpp-shaken.identity" || fail "rcdPassport: identity is not ppt=shaken"
grep -q ';ppt=rcd$' "$sks_work/rcdpp-rcd.identity" || fail "rcdPassport: rcdIdentity is not ppt=rcd"
verstat rcdpp-shaken "$(request 12155550121 12155550131 "$(cat "$sks_work/rcdpp-shaken.identity")")" \
    TN-Validation-Passed
if grep -q '"rcd"' "$sks_work/rcdpp-shaken.json"; then
    cat "$sks_work/rcdpp-shaken.json"; fail "the SHAKEN PASSporT kept the Rich Call Data"
fi
verstat rcdpp-rcd "$(request 12155550121 12155550131 "$(cat "$sks_work/rcdpp-rcd.identity")")" \
    TN-Validation-Passed
field rcdpp-rcd verificationResponse.rcd.result verified
field rcdpp-rcd verificationResponse.rcd.crn "Appointment reminder"
verstat rcdpp-both "$(requests 12155550121 12155550131 rcdpp-shaken rcdpp-rcd)" TN-Validation-Passed
field rcdpp-both verificationResponse.attest A
field rcdpp-both verificationResponse.rcd.result verified
field rcdpp-both verificationResponse.rcd.rcd.nam "Example Clinic"
failed rcdpp-other-call "$(requests 12155550121 12155550131 pp1 rcdpp-rcd)" \
    TN-Validation-Failed 438 rcd-call 1
code=$(sign rcdpp-no-rcd '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"},"rcdPassport":true}}')
[ "$code" = 400 ] && [ "$(json "$sks_work/rcdpp-no-rcd.json" error.code)" = missing-field ] ||
    { cat "$sks_work/rcdpp-no-rcd.json"; fail "rcdPassport without rcd: not 400 missing-field"; }
code=$(sign rcdpp-false '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"},"rcd":{"nam":"X"},"rcdPassport":false}}')
[ "$code" = 400 ] && [ "$(json "$sks_work/rcdpp-false.json" error.code)" = wrong-type ] ||
    { cat "$sks_work/rcdpp-false.json"; fail "rcdPassport false: not 400 wrong-type"; }
pass "rcd_passport_is_signed_beside_the_shaken_one_and_both_verify"

# ---- /metrics --------------------------------------------------------------------------------

curl -sS -o "$sks_work/metrics.txt" "http://127.0.0.1:$sksd_port/metrics" || fail "GET /metrics"
assert_grep metrics 'sksd_verifications_total{verstat="TN-Validation-Passed"}' "$sks_work/metrics.txt"
assert_grep metrics 'sksd_x5u_fetches_total' "$sks_work/metrics.txt"
for m in sksd_crl_cache_entries sksd_crl_cache_bytes sksd_crl_fetches_total \
    'sksd_crl_cache_hits_total{kind="negative"}' sksd_crl_cache_evictions_total; do
    assert_grep metrics "$m" "$sks_work/metrics.txt"
done
assert_grep metrics 'sksd_requests_total{api="verification",code="400"}' "$sks_work/metrics.txt"
pass "metrics_count_verifications_and_the_x5u_and_crl_caches"

# ---- without [verify] ------------------------------------------------------------------------

sksd_kill
sed -i '/^verify = sksd_verify$/d' "$sks_work/sks.conf"
sksd_start
code=$(verification unconfigured "$(request 12155550000 12155550131 "$id")")
[ "$code" = 404 ] || fail "verification without [verify]: status $code, not 404"
[ "$(json "$sks_work/unconfigured.json" error.code)" = verification-not-configured ] ||
    fail "verification without [verify]: no verification-not-configured code"
code=$(rcdi_request rcdi-unconfigured brand.png)
[ "$code" = 422 ] || { cat "$sks_work/rcdi-unconfigured.json"; fail "rcdi: true without [verify]: status $code"; }
[ "$(json "$sks_work/rcdi-unconfigured.json" error.code)" = rcdi-not-configured ] ||
    fail "rcdi: true without [verify]: no rcdi-not-configured code"
pass "without_verify_the_api_says_it_is_not_configured"
