#!/bin/sh
# sksd as a drop-in for vesper (Comcast's STI-AS) clients: the claims object
# alone as the body, the request as vesper's documentation shows it, with
# Trace-Id echoed; an iat written with an exponent; and error_body = vesper,
# under which the signing API's errors come as
# {"signingResponse":{"code":...,"message":...}} while the import API keeps
# its own.  The ATIS-1000082 shapes stay the default (sksd-api.sh).
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
sksd_start
v=$(provision_version sp-main activate)

# post NAME BODY [HEADER...]: BODY to the signing API; the answer's headers
# and body land in $sks_work/NAME.headers and NAME.json; prints the status.
post() {
    p_name=$1
    printf '%s' "$2" > "$sks_work/$p_name.req"
    shift 2
    curl -sS -X POST -H 'Content-Type: application/json' "$@" --data-binary "@$sks_work/$p_name.req" \
        -D "$sks_work/$p_name.headers" -o "$sks_work/$p_name.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing"
}
# claims_of NAME: the decoded claims of the Identity header in NAME.json.
claims_of() {
    json "$sks_work/$1.json" signingResponse.identity > "$sks_work/$1.identity"
    cut -d. -f2 "$sks_work/$1.identity" | tr '_-' '/+' |
        awk '{ n = length($0) % 4; if (n == 2) $0 = $0 "=="; else if (n == 3) $0 = $0 "="; print }' |
        base64 -d
}

# The signing request of vesper's documentation (APIs.md: the claims of its
# verification example), as a vesper client sends it.
VESPER='{"attest":"A","dest":{"tn":["1215345567"]},"iat":1504282247,"orig":{"tn":"12154567894"},"origid":"1db966a6-8f30-11e7-bc77-fa163e70349d"}'
code=$(post vesper "$VESPER" -H 'Trace-Id: vesper-trace-7')
[ "$code" = 200 ] || { cat "$sks_work/vesper.json"; fail "vesper's request: status $code"; }
[ "$(claims_of vesper)" = "$VESPER" ] || fail "the claims signed are not vesper's request byte for byte"
verify_identity verify-vesper "$sks_work/vesper.identity" "$sks_work/sp-main-$v.pem" --max-age 1000000000
pass "the_claims_object_alone_is_signed_as_vesper_clients_send_it"

grep -qi '^Trace-Id: vesper-trace-7' "$sks_work/vesper.headers" ||
    { cat "$sks_work/vesper.headers"; fail "Trace-Id is not echoed"; }
code=$(post both "$VESPER" -H 'Trace-Id: t-1' -H 'X-RequestID: r-1')
[ "$code" = 200 ] || fail "both request IDs: status $code"
grep -qi '^Trace-Id: t-1' "$sks_work/both.headers" && grep -qi '^X-RequestID: r-1' "$sks_work/both.headers" ||
    { cat "$sks_work/both.headers"; fail "Trace-Id and X-RequestID are not both echoed"; }
pass "trace-id_and_x-requestid_are_echoed"

code=$(post exponent '{"attest":"A","dest":{"tn":["1215345567"]},"iat":1.504282247e9,"orig":{"tn":"12154567894"}}')
[ "$code" = 200 ] || { cat "$sks_work/exponent.json"; fail "iat 1.504282247e9: status $code"; }
case "$(claims_of exponent)" in
*'"iat":1504282247,'*) ;;
*) fail "iat 1.504282247e9 is not signed as the integer 1504282247: $(claims_of exponent)" ;;
esac
code=$(post exponent-wrapped '{"signingRequest":{"attest":"A","dest":{"tn":["1215345567"]},"iat":15042822.47e2,"orig":{"tn":"12154567894"}}}')
[ "$code" = 200 ] || { cat "$sks_work/exponent-wrapped.json"; fail "iat 15042822.47e2: status $code"; }
pass "an_integral_iat_written_with_an_exponent_is_taken"

# Bad input in vesper's shape gets the same stable codes.
code=$(post fraction '{"attest":"A","dest":{"tn":["1215345567"]},"iat":1.5042822475e9,"orig":{"tn":"12154567894"}}')
[ "$code" = 400 ] && [ "$(json "$sks_work/fraction.json" error.code)" = wrong-type ] &&
    [ "$(json "$sks_work/fraction.json" error.field)" = iat ] ||
    { cat "$sks_work/fraction.json"; fail "an iat with a fraction: status $code"; }
code=$(post huge '{"attest":"A","dest":{"tn":["1215345567"]},"iat":1e300,"orig":{"tn":"12154567894"}}')
[ "$code" = 400 ] && [ "$(json "$sks_work/huge.json" error.field)" = iat ] ||
    { cat "$sks_work/huge.json"; fail "iat 1e300: status $code"; }
code=$(post typo '{"attest":"A","dest":{"tn":["1215345567"]},"orig":{"tn":"12154567894"},"colour":"red"}')
[ "$code" = 400 ] && [ "$(json "$sks_work/typo.json" error.code)" = unknown-field ] ||
    { cat "$sks_work/typo.json"; fail "an unknown member in vesper's shape: status $code"; }
json "$sks_work/typo.json" error.message | grep -qF '"colour"' ||
    { cat "$sks_work/typo.json"; fail "the message does not name the unknown member"; }
code=$(post mixed '{"signingRequest":{"attest":"A","dest":{"tn":["1"]},"orig":{"tn":"2"}},"attest":"A"}')
[ "$code" = 400 ] && [ "$(json "$sks_work/mixed.json" error.code)" = unknown-field ] ||
    { cat "$sks_work/mixed.json"; fail "both shapes at once: status $code"; }
pass "bad_input_in_vesper's_shape_gets_the_stable_codes"

# error_body = vesper: the signing API's errors in vesper's shape.
sksd_kill
sed -i 's/^limits = sksd_limits$/limits = sksd_limits\nerror_body = vesper/' "$sks_work/sks.conf"
sksd_start
code=$(post vbad '{"attest":"A","dest":{"tn":["1215345567"]},"orig":{"tn":"12154567894"' -H 'Trace-Id: t-2')
[ "$code" = 400 ] || { cat "$sks_work/vbad.json"; fail "malformed JSON under error_body = vesper: status $code"; }
[ "$(json "$sks_work/vbad.json" signingResponse.code)" = malformed-json ] ||
    { cat "$sks_work/vbad.json"; fail "no signingResponse.code malformed-json"; }
json "$sks_work/vbad.json" signingResponse.message | grep -q 'not JSON' ||
    { cat "$sks_work/vbad.json"; fail "no signingResponse.message"; }
if grep -q '"error"' "$sks_work/vbad.json"; then
    cat "$sks_work/vbad.json"; fail "error_body = vesper still answers an error member"
fi
grep -qi '^Trace-Id: t-2' "$sks_work/vbad.headers" || fail "Trace-Id is not echoed on an error"
code=$(post vbusy "$VESPER" -X GET)
[ "$code" = 405 ] && [ "$(json "$sks_work/vbusy.json" signingResponse.code)" = method-not-allowed ] ||
    { cat "$sks_work/vbusy.json"; fail "GET under error_body = vesper: status $code"; }
code=$(post vgood "$VESPER")
[ "$code" = 200 ] || { cat "$sks_work/vgood.json"; fail "a good request under error_body = vesper: $code"; }
pass "error_body_vesper_answers_signing_errors_as_vesper_does"

code=$(import_api vimport POST /sks/v1/identities/no-such-identity/versions/1/activate)
[ "$code" = 404 ] && [ -n "$(json "$sks_work/vimport.json" error.code)" ] ||
    { cat "$sks_work/vimport.json"; fail "the import API under error_body = vesper: status $code"; }
pass "error_body_vesper_leaves_the_import_api_as_it_is"
