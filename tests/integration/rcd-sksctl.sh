#!/bin/sh
# Rich Call Data (RFC 9795) with sksctl: sign puts rcd, crn and rcdi in a
# SHAKEN PASSporT or a PASSporT of type rcd, computing rcdi over what a
# real TLS server on loopback serves; verify --fetch checks every digest
# against that server and reports the verdict apart from TN validation.
# Bad Rich Call Data is refused before anything is signed.
. "$top_srcdir/tests/integration/common.sh"

sksctl_fetch_work
run_ok pki "$SKSCTL" pki --out pki --spc 1234 --days 30 --crl-url "$base/crl.pem"
cp pki/sp-1234-fullchain.pem www/chain.pem
cp pki/crl.pem www/crl.pem
head -c 3000 /dev/urandom > www/logo.png
head -c 5000 /dev/urandom > www/photo.jpg
cat > card.json <<JCARD
["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Bank"],
           ["photo", {}, "uri", "$base/photo.jpg"]]]
JCARD
fetch="--fetch-ca $https_ca --fetch-private"

# sign NAME ARGS...: a PASSporT with the test SP key and x5u $base/chain.pem, in NAME.
sign() {
    sg_name=$1
    shift
    run_ok "sign-$sg_name" "$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 \
        --dest 12155550131 --x5u "$base/chain.pem" "$@"
    cp "sign-$sg_name.out" "$sg_name"
}
# verified NAME: verify --fetch of NAME passes TN validation; its output in NAME.out.
verified() {
    # shellcheck disable=SC2086
    run_ok "$1" "$SKSCTL" verify --fetch --trust pki/root.pem $fetch "$(cat "$1")"
    assert_grep "$1" "verified: 200 OK" "$1.out"
}

# shellcheck disable=SC2086
sign full --attest A --nam "Example Bank" --apn "+1 215 555 0199" --icn "$base/logo.png" \
    --jcd card.json --crn "Your appointment reminder" --rcdi $fetch
verified full
assert_grep full "rcd-result: verified" full.out
assert_grep full "crn: Your appointment reminder" full.out
assert_grep full '"apn":"12155550199"' full.out
assert_grep full '"nam":"Example Bank"' full.out
pass "rcd_with_rcdi_over_an_icon_and_a_jcard_photo_verifies"

# The icon server now serves another logo: the caller's number still verifies, its branding not.
cp www/logo.png logo.saved
head -c 3000 /dev/urandom > www/logo.png
verified full
assert_grep swapped "rcd-result: failed (rcdi: the content at /icn no longer matches its digest" \
    full.out
cp logo.saved www/logo.png
cp www/photo.jpg photo.saved
rm www/photo.jpg
verified full
assert_grep gone "rcd-result: failed (rcdi: /jcd/1/2/3: $base/photo.jpg: HTTP status 404" full.out
pass "swapped_or_missing_content_fails_rcd_but_not_tn_validation"
cp photo.saved www/photo.jpg

sign unprotected --attest B --nam "Example Bank" --icn "$base/logo.png"
verified unprotected
assert_grep unprotected "rcd-result: unprotected (rcd points at /icn ($base/logo.png) without rcdi" \
    unprotected.out
pass "rcd_pointing_at_content_without_rcdi_is_unprotected"

sign alone --ppt rcd --nam "Example Bank" --crn "Fraud alert"
assert_grep alone ";ppt=rcd" alone
verified alone
assert_grep alone "ppt: rcd" alone.out
assert_grep alone "rcd-result: verified" alone.out
run_ok alone-pubkey "$SKSCTL" verify --cert pki/sp-1234-fullchain.pem --trust pki/root.pem "$(cat alone)"
assert_grep alone-pubkey "rcd-result: unchecked" alone-pubkey.out
pass "rcd_passport_signs_and_verifies_on_its_own"

# ---- bad Rich Call Data: refused, named, nothing printed ---------------------------

# refused NAME STATUS TEXT ARGS...: sign exits STATUS, says TEXT and prints no header.
refused() {
    rf_name=$1
    rf_status=$2
    rf_text=$3
    shift 3
    if "$SKSCTL" sign --key pki/sp-1234.key --orig 12155550121 --dest 12155550131 \
        --x5u "$base/chain.pem" "$@" > "$rf_name.out" 2>&1; then
        rf_got=0
    else
        rf_got=$?
    fi
    [ "$rf_got" = "$rf_status" ] || { cat "$rf_name.out"; fail "$rf_name: exit $rf_got, not $rf_status"; }
    assert_grep "$rf_name" "$rf_text" "$rf_name.out"
    if grep -q ';info=<' "$rf_name.out"; then
        cat "$rf_name.out"; fail "$rf_name: signed regardless"
    fi
}
printf '["vcard", [["fn", {}, "text"]]]' > short-prop.json
printf '{"nam": "Example Bank", "icon": "%s"}' "$base/logo.png" > typo.json
printf '["vcard", [' > truncated.json
sed 's/photo.jpg/missing.jpg/' card.json > card-missing.json
refused http-icon 7 "rcd.icn: \"http://example.org/a.png\" is not an https:// URL" --attest A \
    --nam X --icn http://example.org/a.png
refused bad-apn 2 "rcd.apn" --attest A --nam X --apn 12ab
refused control-nam 2 "rcd.nam: has the control character 0x0a" --attest A --nam "$(printf 'a\nb')"
refused jcd-and-jcl 2 "has both jcd and jcl" --attest A --nam X --jcd card.json --jcl "$base/c.json"
refused bad-jcard 2 "rcd.jcd[1][0]: is not a jCard property" --attest A --nam X --jcd short-prop.json
refused truncated-jcard 2 "--jcd truncated.json is not JSON" --attest A --nam X --jcd truncated.json
refused typo-rcd 2 'rcd has an unknown member "icon"' --attest A --rcd typo.json
# shellcheck disable=SC2086
refused rcdi-404 3 "rcdi: /jcd/1/2/3: $base/missing.jpg: HTTP status 404" --attest A --nam X \
    --jcd card-missing.json \
    --rcdi $fetch
refused rcdi-no-content 2 "rcdi: rcd points at nothing a digest could cover" --attest A --nam X \
    --rcdi $fetch
refused long-crn 2 "crn: is 300 bytes; it must have 1 to 256" --attest A \
    --crn "$(head -c 300 /dev/zero | tr '\0' c)"
refused rcd-attest 1 "a PASSporT of type rcd (RFC 9795) has no attest" --ppt rcd --nam X --attest A
refused rcd-without-rcd 1 "--ppt rcd needs the Rich Call Data" --ppt rcd
refused icn-without-nam 1 "need --nam" --attest A --icn "$base/logo.png"
refused ppt-other 1 "--ppt takes only rcd" --ppt shaken --attest A
pass "bad_rich_call_data_is_refused_naming_the_member"
