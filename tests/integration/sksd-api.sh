#!/bin/sh
# sksd's signing API as a client sees it: answers that verify against the
# test PKI, the V1 test-vector claims round-tripping byte for byte, div
# PASSporTs, identity selection, and every refusal with its status, stable
# code and field -- never a 500 for bad input.  Also /healthz, /metrics,
# that the import API is not on the signing port, and that its identities
# listing is the document sksctl list --json prints.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
write_sksd_conf "$sks_work/sks.conf"
# Calls from 1999... sign as sp-west.
sed -i 's/^default = sp-main$/default = sp-main\n1999 = sp-west/' "$sks_work/sks.conf"
sksd_start
v=$(provision_version sp-main activate)
[ "$v" = 1 ] || fail "the first version of sp-main is $v, not 1"
w=$(provision_version sp-west activate)
pass "provisioned sp-main/$v and sp-west/$w through the import socket"

# payload FILE: the decoded claims of the Identity header in FILE.
payload() {
    cut -d. -f2 "$1" | tr '_-' '/+' | awk '{ n = length($0) % 4; if (n == 2) $0 = $0 "=="; else if (n == 3) $0 = $0 "="; print }' |
        base64 -d
}

# same_claims NAME EXPECTED: the claims of NAME's Identity header are EXPECTED, byte for byte.
same_claims() {
    payload "$sks_work/$1.identity" > "$sks_work/$1.payload"
    printf '%s' "$2" > "$sks_work/$1.expected"
    assert_same_file "$1 claims" "$sks_work/$1.expected" "$sks_work/$1.payload"
}

# ---- answers --------------------------------------------------------------

V1_CLAIMS='{"attest":"A","dest":{"tn":["12155550131"]},"iat":1443208345,"orig":{"tn":"12155550121"},"origid":"123e4567-e89b-12d3-a456-426655440000"}'
code=$(sign v1 "{\"signingRequest\":$V1_CLAIMS}")
[ "$code" = 200 ] || { cat "$sks_work/v1.json"; fail "V1 claims: status $code"; }
json "$sks_work/v1.json" signingResponse.identity > "$sks_work/v1.identity"
case "$(cat "$sks_work/v1.identity")" in
*";info=<$(x5u_of sp-main 1)>;alg=ES256;ppt=shaken") ;;
*) fail "the V1 answer does not end in ;info=<x5u>;alg=ES256;ppt=shaken: $(cat "$sks_work/v1.identity")" ;;
esac
same_claims v1 "$V1_CLAIMS"
verify_identity verify-v1 "$sks_work/v1.identity" "$sks_work/sp-main-1.pem" --max-age 1000000000
pass "api_signs_v1_vector_claims_byte_for_byte_and_verifies_against_the_test_root"

code=$(sign fill '{"signingRequest":{"attest":"B","dest":{"tn":["12155550131","12155550132"]},"orig":{"tn":"12155550121"}}}')
[ "$code" = 200 ] || { cat "$sks_work/fill.json"; fail "request without iat and origid: status $code"; }
json "$sks_work/fill.json" signingResponse.identity > "$sks_work/fill.identity"
verify_identity verify-fill "$sks_work/fill.identity" "$sks_work/sp-main-1.pem"
payload "$sks_work/fill.identity" > "$sks_work/fill.payload"
grep -Eq '"origid":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"' "$sks_work/fill.payload" ||
    fail "no fresh origid filled in: $(cat "$sks_work/fill.payload")"
iat=$(sed 's/.*"iat":\([0-9]*\).*/\1/' "$sks_work/fill.payload")
now=$(date +%s)
[ $((now - iat)) -le 5 ] && [ $((iat - now)) -le 5 ] || fail "iat $iat is not now ($now)"
pass "api_fills_in_iat_and_origid"

code=$(sign div '{"signingRequest":{"dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"},"div":{"tn":"12155551213"},"iat":1443208345}}')
[ "$code" = 200 ] || { cat "$sks_work/div.json"; fail "div request: status $code"; }
json "$sks_work/div.json" signingResponse.identity > "$sks_work/div.identity"
grep -q ';ppt=div$' "$sks_work/div.identity" || fail "the div answer is not ppt=div"
same_claims div '{"dest":{"tn":["12155550131"]},"div":{"tn":"12155551213"},"iat":1443208345,"orig":{"tn":"12155550121"}}'
verify_identity verify-div "$sks_work/div.identity" "$sks_work/sp-main-1.pem" --max-age 1000000000
pass "api_signs_a_div_passport_when_div_is_given"

# Rich Call Data (RFC 9795): rcd canonicalized (apn), crn, and rcdi as the content's author sent it.
RCDI='{"/icn":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}'
code=$(sign rcd "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"orig\":{\"tn\":\"12155550121\"},\"iat\":1443208345,\"origid\":\"123e4567-e89b-12d3-a456-426655440000\",\"crn\":\"Appointment reminder\",\"rcd\":{\"nam\":\"Example Clinic\",\"apn\":\"+1 215 555 0199\",\"icn\":\"https://rcd.example.org/logo.png\"},\"rcdi\":$RCDI}}")
[ "$code" = 200 ] || { cat "$sks_work/rcd.json"; fail "rcd request: status $code"; }
json "$sks_work/rcd.json" signingResponse.identity > "$sks_work/rcd.identity"
same_claims rcd "{\"attest\":\"A\",\"crn\":\"Appointment reminder\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1443208345,\"orig\":{\"tn\":\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-426655440000\",\"rcd\":{\"apn\":\"12155550199\",\"icn\":\"https://rcd.example.org/logo.png\",\"nam\":\"Example Clinic\"},\"rcdi\":$RCDI}"
verify_identity verify-rcd "$sks_work/rcd.identity" "$sks_work/sp-main-1.pem" --max-age 1000000000
assert_grep verify-rcd "rcd-result: unchecked" "$sks_work/verify-rcd.out"
pass "api_signs_rich_call_data_in_the_shaken_passport"

code=$(sign west '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"19995550100"}}}')
[ "$code" = 200 ] || fail "sp-west by prefix: status $code"
json "$sks_work/west.json" signingResponse.identity > "$sks_work/west.identity"
grep -q "info=<$(x5u_of sp-west "$w")>" "$sks_work/west.identity" || fail "orig 1999... did not sign as sp-west"
verify_identity verify-west "$sks_work/west.identity" "$sks_work/sp-west-$w.pem"
code=$(sign named '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}' '?identity=sp-west')
[ "$code" = 200 ] || fail "?identity=sp-west: status $code"
json "$sks_work/named.json" signingResponse.identity > "$sks_work/named.identity"
grep -q "info=<$(x5u_of sp-west "$w")>" "$sks_work/named.identity" || fail "?identity=sp-west did not sign as sp-west"
pass "api_picks_the_identity_by_name_then_tn_prefix_then_default"

curl -sS -D "$sks_work/rid.headers" -o /dev/null -X POST -H 'Content-Type: application/json' \
    -H 'X-RequestID: call-42-abc' --data-binary @"$sks_work/fill.req" \
    "http://127.0.0.1:$sksd_port/stir/v1/signing"
grep -qi '^X-RequestID: call-42-abc' "$sks_work/rid.headers" || fail "X-RequestID was not echoed"
pass "api_echoes_x_requestid"

# ---- refusals ---------------------------------------------------------------

GOOD='"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}'
n=0
# refuse STATUS CODE FIELD BODY [curl options]
refuse() {
    n=$((n + 1))
    r_status=$1 r_code=$2 r_field=$3 r_body=$4
    shift 4
    printf '%s' "$r_body" > "$sks_work/bad$n.req"
    got=$(curl -sS -X POST -H "Content-Type: ${r_ctype:-application/json}" "$@" \
        --data-binary @"$sks_work/bad$n.req" -o "$sks_work/bad$n.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing${r_query:-}")
    [ "$got" = "$r_status" ] || { cat "$sks_work/bad$n.json"; fail "$r_code: status $got, not $r_status"; }
    [ "$(json "$sks_work/bad$n.json" error.code)" = "$r_code" ] ||
        { cat "$sks_work/bad$n.json"; fail "status $r_status without code $r_code"; }
    if [ -n "$r_field" ]; then
        [ "$(json "$sks_work/bad$n.json" error.field)" = "$r_field" ] ||
            { cat "$sks_work/bad$n.json"; fail "$r_code does not name the field $r_field"; }
        json "$sks_work/bad$n.json" error.message | grep -qF "$r_field" ||
            { cat "$sks_work/bad$n.json"; fail "the $r_code message does not name $r_field"; }
    fi
    pass "api_refuses $r_status $r_code ${r_field:+($r_field)}"
}

refuse 400 missing-field attest '{"signingRequest":{"dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
refuse 400 missing-field orig '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]}}}'
refuse 400 missing-field dest.tn '{"signingRequest":{"attest":"A","dest":{},"orig":{"tn":"12155550121"}}}'
refuse 400 missing-field signingRequest '{}'
refuse 400 unknown-field signingRequest "{\"signingRequest\":{$GOOD,\"colour\":\"red\"}}"
refuse 400 unknown-field orig '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121","uri":"sip:a@b"}}}'
refuse 400 unknown-field attest '{"signingRequest":{"attest":"A","dest":{"tn":["1"]},"orig":{"tn":"2"},"div":{"tn":"3"}}}'
refuse 400 wrong-type attest '{"signingRequest":{"attest":1,"dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
refuse 400 wrong-type iat "{\"signingRequest\":{$GOOD,\"iat\":\"1443208345\"}}"
refuse 400 wrong-type iat "{\"signingRequest\":{$GOOD,\"iat\":1443208345.5}}"
refuse 400 wrong-type dest.tn '{"signingRequest":{"attest":"A","dest":{"tn":"12155550131"},"orig":{"tn":"12155550121"}}}'
refuse 400 wrong-type signingRequest '{"signingRequest":[1,2]}'
refuse 400 wrong-type body '[{"signingRequest":{}}]'
refuse 400 invalid-attest attest '{"signingRequest":{"attest":"D","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
refuse 400 invalid-attest attest '{"signingRequest":{"attest":"","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
refuse 400 invalid-tn orig.tn '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"+12155550121"}}}'
refuse 400 invalid-tn 'dest.tn[1]' '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131","1215555O131"]},"orig":{"tn":"12155550121"}}}'
refuse 400 invalid-tn orig.tn '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"1215555012112345"}}}'
refuse 400 malformed-json body '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"1215\u00005550121"}}}'
refuse 400 invalid-dest dest.tn '{"signingRequest":{"attest":"A","dest":{"tn":[]},"orig":{"tn":"12155550121"}}}'
refuse 400 invalid-origid origid "{\"signingRequest\":{$GOOD,\"origid\":\"not-a-uuid\"}}"
refuse 400 invalid-iat iat "{\"signingRequest\":{$GOOD,\"iat\":-1}}"
refuse 400 invalid-rcd rcd.nam "{\"signingRequest\":{$GOOD,\"rcd\":{\"icn\":\"https://rcd.example.org/a.png\"}}}"
refuse 422 invalid-rcd rcd.icn "{\"signingRequest\":{$GOOD,\"rcd\":{\"nam\":\"X\",\"icn\":\"http://rcd.example.org/a.png\"}}}"
refuse 400 unknown-field rcd "{\"signingRequest\":{$GOOD,\"rcd\":{\"nam\":\"X\",\"logo\":\"y\"}}}"
refuse 400 invalid-rcd rcdi "{\"signingRequest\":{$GOOD,\"rcd\":{\"nam\":\"X\",\"icn\":\"https://rcd.example.org/a.png\"},\"rcdi\":{\"/jcl\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}}}"
refuse 400 invalid-rcd rcdi "{\"signingRequest\":{$GOOD,\"rcdi\":{\"/icn\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}}}"
refuse 400 invalid-rcd crn "{\"signingRequest\":{$GOOD,\"crn\":\"\"}}"
refuse 400 malformed-json body '{"signingRequest":'
refuse 400 malformed-json body "{\"signingRequest\":{$GOOD,\"attest\":\"B\"}}"
refuse 400 malformed-json body ''
big=$(head -c 40000 /dev/zero | tr '\0' ' ')
refuse 413 body-too-large body "{\"signingRequest\":{$GOOD}}$big"
refuse 413 body-too-large body "{\"signingRequest\":{$GOOD}}$big" -H 'Transfer-Encoding: chunked'
r_ctype=text/plain
refuse 415 unsupported-media-type Content-Type "{\"signingRequest\":{$GOOD}}"
r_ctype=application/jsonx
refuse 415 unsupported-media-type Content-Type "{\"signingRequest\":{$GOOD}}"
r_ctype=
code=$(curl -sS -X POST -H 'Content-Type: application/json; charset=utf-8' -H 'Accept: application/*' \
    --data-binary "{\"signingRequest\":{$GOOD}}" -o "$sks_work/charset.json" -w '%{http_code}' \
    "http://127.0.0.1:$sksd_port/stir/v1/signing")
[ "$code" = 200 ] || { cat "$sks_work/charset.json"; fail "application/json; charset=utf-8: status $code"; }
pass "api_takes_a_charset_parameter_and_accept_ranges"
refuse 406 not-acceptable Accept "{\"signingRequest\":{$GOOD}}" -H 'Accept: text/html'
refuse 405 method-not-allowed '' '' -X GET
r_query='?identity=sp-nobody' refuse 404 unknown-identity identity "{\"signingRequest\":{$GOOD}}"
r_query='?identity=bad%2Fname' refuse 400 invalid-identity identity "{\"signingRequest\":{$GOOD}}"
r_query=
code=$(curl -sS -o "$sks_work/nf.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/nothing/here")
[ "$code" = 404 ] || fail "an unknown path answers $code, not 404"
code=$(curl -sS -X POST -H 'Content-Type: application/json' --data-binary '{"spc":"1234"}' \
    -o "$sks_work/imp.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/sks/v1/identities/x/generate")
[ "$code" = 404 ] || fail "the import API answers $code on the signing port"
pass "api_serves_no_import_api_on_the_signing_port"
curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics.txt"
if grep -q 'code="500"' "$sks_work/metrics.txt"; then
    cat "$sks_work/metrics.txt"
    fail "some bad input got a 500"
fi
pass "api_never_answers_bad_input_with_500"

# ---- health and metrics -------------------------------------------------------

code=$(curl -sS -o "$sks_work/health.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
[ "$code" = 200 ] || { cat "$sks_work/health.json"; fail "/healthz answers $code"; }
[ "$(json "$sks_work/health.json" status)" = ok ] || fail "/healthz status is not ok"
grep -q '"name":"sp-main"' "$sks_work/health.json" || fail "/healthz does not list sp-main"
pass "healthz_reports_the_token_and_active_identities"
for m in 'sksd_requests_total{api="signing",code="200"}' 'sksd_requests_total{api="signing",code="400"}' \
    'sksd_signing_latency_seconds_bucket{le="+Inf"}' 'sksd_signing_latency_seconds_count' \
    'sksd_hsm_errors_total 0' 'sksd_active_key_version{identity="sp-main"} 1' \
    'sksd_keystore_up 1'; do
    assert_grep "/metrics" "$m" "$sks_work/metrics.txt"
done
days=$(sed -n 's/^sksd_certificate_expiry_days{identity="sp-main",version="1",state="active"} //p' \
    "$sks_work/metrics.txt")
awk -v d="${days:-x}" 'BEGIN { exit !(d + 0 > 29.9 && d + 0 <= 30) }' ||
    fail "the 30-day certificate of sp-main/1 expires in \"$days\" days, says /metrics"
pass "metrics_count_requests_latency_versions_and_expiry"

# ---- the identities listing ---------------------------------------------------

# A second version replaces sp-main/1 (previous: replacedAt, usableUntil)
# and a third waits for its certificate (pending: no notAfter).  sksd's
# GET /sks/v1/identities and sksctl list --json give the same identities
# (sksctl adds unprotectedKeys, the token's administrative warnings).
provision_version sp-main activate > /dev/null
import_ok 201 pending POST /sks/v1/identities/sp-main/generate "{\"spc\":\"$SKSD_SPC\"}"
import_ok 200 identities GET /sks/v1/identities
run_ok list-json "$SKSCTL" list -c "$sks_work/sks.conf" --json
jq -S . "$sks_work/identities.json" > "$sks_work/identities.sorted"
jq -S 'del(.unprotectedKeys)' "$sks_work/list-json.out" > "$sks_work/list-json.sorted"
assert_same_file "GET /sks/v1/identities and sksctl list --json" "$sks_work/list-json.sorted" \
    "$sks_work/identities.sorted"
jq -e '
    def time: type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$");
    [.identities[] | select(.name == "sp-main") | .versions[]] as $v |
    ($v | map(.state)) == ["previous", "active", "pending"] and
    ($v[0] | (.notAfter | time) and (.replacedAt | time) and (.usableUntil | time)) and
    ($v[1] | (.notAfter | time) and (has("replacedAt") | not)) and
    ($v[2] | has("notAfter") | not) and
    ([.identities[].activeVersion] | map(type) | unique) == ["number"]
' "$sks_work/identities.json" > /dev/null ||
    { cat "$sks_work/identities.json"; fail "GET /sks/v1/identities: unexpected members or types"; }
pass "identities_listing_is_the_same_document_as_sksctl_list_json"
