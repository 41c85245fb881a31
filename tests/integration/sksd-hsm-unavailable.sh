#!/bin/sh
# When the token cannot sign, the signing API answers 503 with Retry-After
# and the code hsm-unavailable (never a 500), counts the HSM errors, reports
# it in /healthz, and signs again once the token is back.  The token's module
# is p11fault (tests/p11fault) in front of SoftHSM2.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
P11FAULT_SO=$top_builddir/tests/p11fault/.libs/libp11fault.so
[ -f "$P11FAULT_SO" ] || skip "p11fault is not built at $P11FAULT_SO (make check builds it)"
sksd_setup
P11FAULT_MODULE=$SOFTHSM_MODULE
P11FAULT_CONTROL=$sks_work/control
export P11FAULT_MODULE P11FAULT_CONTROL
: > "$sks_work/control"
sed -i "s|^pkcs11_module = .*|pkcs11_module = $P11FAULT_SO|" "$sks_work/sks.conf"
sksd_start
v=$(provision_version sp-main activate)
REQ='{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
code=$(sign ok1 "$REQ")
[ "$code" = 200 ] || fail "signing through p11fault without faults: status $code"

control() {
    printf '%s\n' "$@" > "$sks_work/control.tmp"
    mv -f "$sks_work/control.tmp" "$sks_work/control"
    sleep 0.1
}

# unavailable NAME: the answer is 503 hsm-unavailable with Retry-After.
unavailable() {
    printf '%s' "$REQ" > "$sks_work/$1.req"
    code=$(curl -sS -D "$sks_work/$1.headers" -X POST -H 'Content-Type: application/json' \
        --data-binary "@$sks_work/$1.req" -o "$sks_work/$1.json" -w '%{http_code}' \
        "http://127.0.0.1:$sksd_port/stir/v1/signing")
    [ "$code" = 503 ] || { cat "$sks_work/$1.json"; fail "$1: status $code, not 503"; }
    [ "$(json "$sks_work/$1.json" error.code)" = hsm-unavailable ] || fail "$1: code is not hsm-unavailable"
    grep -qi '^Retry-After: [0-9]' "$sks_work/$1.headers" || fail "$1: 503 without Retry-After"
}

control "fail C_Sign CKR_DEVICE_ERROR every"
unavailable device-error
pass "hsm_device_error_answers_503_with_retry_after"
control
code=$(sign ok2 "$REQ")
[ "$code" = 200 ] || { cat "$sks_work/ok2.json"; fail "no recovery after the device error: status $code"; }
json "$sks_work/ok2.json" signingResponse.identity > "$sks_work/ok2.identity"
verify_identity verify-ok2 "$sks_work/ok2.identity" "$sks_work/sp-main-$v.pem"
pass "signing_recovers_when_the_token_does"

control "remove 3"
unavailable removed
code=$(curl -sS -o "$sks_work/health.json" -w '%{http_code}' "http://127.0.0.1:$sksd_port/healthz")
[ "$code" = 503 ] || fail "/healthz answers $code while the token is removed"
pass "token_removed_answers_503_and_healthz_says_so"
sleep 3.5
ok=
for i in 1 2 3 4 5 6 7 8 9 10; do
    code=$(sign back "$REQ")
    if [ "$code" = 200 ]; then ok=1; break; fi
    sleep 0.5
done
[ -n "$ok" ] || { cat "$sks_work/back.json"; fail "no signature after the token came back"; }
json "$sks_work/back.json" signingResponse.identity > "$sks_work/back.identity"
verify_identity verify-back "$sks_work/back.identity" "$sks_work/sp-main-$v.pem"
pass "signing_resumes_after_the_token_comes_back"
curl -sS "http://127.0.0.1:$sksd_port/metrics" > "$sks_work/metrics.txt"
grep -q '^sksd_hsm_errors_total [1-9]' "$sks_work/metrics.txt" || fail "HSM errors not counted"
grep -q 'code="500"' "$sks_work/metrics.txt" && fail "a token failure answered 500"
pass "metrics_count_hsm_errors"
