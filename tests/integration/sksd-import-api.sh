#!/bin/sh
# The import API's operations as the SP-KMS uses them: the wrapping key, a
# wrapped import (sksctl wrap) followed by signing, the identity list, a
# rotation and the retirement of the replaced version; bad input refused by
# name (never 500), audited, and the token left as it was.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
# Replaced versions may be retired at once.
sed -i 's|^trust_anchors = .*|&\ngrace_period = 0|' "$sks_work/sks.conf"
sksd_start

import_ok 200 wk GET /sks/v1/wrapping-key
json "$sks_work/wk.json" wrappingKey > "$sks_work/wrapping.pem"
run_ok wk-parse sw_openssl pkey -pubin -in "$sks_work/wrapping.pem" -noout -text
assert_grep wrapping-key "3072 bit" "$sks_work/wk-parse.out"
pass "import_api_gives_the_wrapping_key"

run_ok wrap "$SKSCTL" wrap --wrapping-key "$sks_work/wrapping.pem" \
    --key "$sks_work/pki/sp-$SKSD_SPC.key" --out "$sks_work/blob"
"$SKSD_CLIENT" attach-body "$sks_work/pki/sp-$SKSD_SPC.pem" "$sks_work/pki/chain.pem" \
    "$(x5u_of sp-main 1)" "$sks_work/blob" > "$sks_work/import.body"
import_ok 201 import POST /sks/v1/identities/sp-main/import "$(cat "$sks_work/import.body")"
v=$(json "$sks_work/import.json" version)
import_ok 200 activate1 POST "/sks/v1/identities/sp-main/versions/$v/activate"
code=$(sign s1 '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}')
[ "$code" = 200 ] || { cat "$sks_work/s1.json"; fail "signing after the wrapped import: status $code"; }
json "$sks_work/s1.json" signingResponse.identity > "$sks_work/s1.identity"
verify_identity verify-s1 "$sks_work/s1.identity" "$sks_work/pki/sp-$SKSD_SPC.pem"
assert_grep audit "what=import identity=\"sp-main\" version=$v result=ok" "$sks_work/sksd.log"
pass "wrapped_import_then_signing_verifies_with_the_imported_certificate"

import_ok 200 list GET /sks/v1/identities
[ "$(json "$sks_work/list.json" identities.0.name)" = sp-main ] || fail "list: no sp-main"
[ "$(json "$sks_work/list.json" identities.0.activeVersion)" = "$v" ] || fail "list: wrong active version"
[ "$(json "$sks_work/list.json" identities.0.versions.0.x5u)" = "$(x5u_of sp-main 1)" ] || fail "list: wrong x5u"
pass "import_api_lists_identities_and_versions"

# ---- bad input: refused by name, nothing written --------------------------------
import_ok 200 before GET /sks/v1/identities
# bad NAME STATUS CODE METHOD PATH [BODY]
bad() {
    b_name=$1 b_status=$2 b_code=$3
    shift 3
    got=$(import_api "$b_name" "$@")
    [ "$got" = "$b_status" ] || { cat "$sks_work/$b_name.json"; fail "$b_name: status $got, not $b_status"; }
    [ "$(json "$sks_work/$b_name.json" error.code)" = "$b_code" ] ||
        { cat "$sks_work/$b_name.json"; fail "$b_name: code is not $b_code"; }
    pass "import_refuses_$b_name ($b_status $b_code)"
}
bad not-base64 400 invalid-wrapped-key POST /sks/v1/identities/sp-main/import \
    '{"wrappedKey":"***","certificate":"x","x5u":"https://a.example/c.pem"}'
bad missing-certificate 400 missing-field POST /sks/v1/identities/sp-main/import \
    '{"wrappedKey":"AAAA","x5u":"https://a.example/c.pem"}'
bad unknown-member 400 unknown-field POST /sks/v1/identities/sp-main/generate '{"spc":"1234","rsa":true}'
bad spc-not-a-string 400 wrong-type POST /sks/v1/identities/sp-main/generate '{"spc":1234}'
bad not-json 400 malformed-json POST /sks/v1/identities/sp-main/generate '{"spc":'
bad bad-identity 400 invalid-identity POST /sks/v1/identities/-x/generate '{"spc":"1234"}'
bad bad-version 400 invalid-version POST /sks/v1/identities/sp-main/versions/0/activate
bad no-such-path 404 not-found POST /sks/v1/identities/sp-main/explode
bad get-on-generate 405 method-not-allowed GET /sks/v1/identities/sp-main/generate
# A blob that is base64 but not a wrapped key, and a certificate for another key.
head -c 600 /dev/urandom > "$sks_work/junk"
"$SKSD_CLIENT" attach-body "$sks_work/pki/sp-$SKSD_SPC.pem" "$sks_work/pki/chain.pem" \
    "$(x5u_of sp-main 9)" "$sks_work/junk" > "$sks_work/junk.body"
code=$(import_api junk POST /sks/v1/identities/sp-main/import "$(cat "$sks_work/junk.body")")
case "$code" in 4[0-9][0-9]) ;; *) cat "$sks_work/junk.json"; fail "a junk blob got $code, not 4xx" ;; esac
pass "import_refuses_a_blob_that_is_no_wrapped_key ($code $(json "$sks_work/junk.json" error.code))"
# An x5u that signing would refuse is refused at import, naming the fault.
"$SKSD_CLIENT" attach-body "$sks_work/pki/sp-$SKSD_SPC.pem" "$sks_work/pki/chain.pem" \
    'https://cert.example.org/a>b.pem' "$sks_work/blob" > "$sks_work/bad-x5u.body"
code=$(import_api bad-x5u POST /sks/v1/identities/sp-main/import "$(cat "$sks_work/bad-x5u.body")")
case "$code" in 4[0-9][0-9]) ;; *) cat "$sks_work/bad-x5u.json"; fail "a bad x5u got $code, not 4xx" ;; esac
assert_grep bad-x5u "x5u: byte 0x3e at position 27" "$sks_work/bad-x5u.json"
pass "import_refuses_an_x5u_that_signing_would_refuse ($code $(json "$sks_work/bad-x5u.json" error.code))"
import_ok 200 after GET /sks/v1/identities
assert_same_file "refused imports change nothing" "$sks_work/before.json" "$sks_work/after.json"
assert_grep audit 'what=import identity="sp-main" result=refused' "$sks_work/sksd.log"
pass "import_refusals_leave_the_token_unchanged"

# ---- rotation and retirement --------------------------------------------------
v2=$(provision_version sp-main activate)
import_ok 200 list2 GET /sks/v1/identities
[ "$(json "$sks_work/list2.json" identities.0.activeVersion)" = "$v2" ] || fail "v$v2 is not active"
import_ok 200 retire POST /sks/v1/identities/sp-main/retire
import_ok 200 list3 GET /sks/v1/identities
grep -q "\"version\":$v," "$sks_work/list3.json" && fail "retire left the replaced v$v in the token"
grep -q "\"version\":$v2," "$sks_work/list3.json" || fail "retire removed the active v$v2"
assert_grep audit 'what=retire identity="sp-main" result=ok' "$sks_work/sksd.log"
pass "retire_drops_the_replaced_version_after_its_grace_period"
