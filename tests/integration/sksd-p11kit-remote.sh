#!/bin/sh
# sksd on a token it reaches through p11-kit's client module and a
# `p11-kit server`, the way it reaches an HSM on another machine: it chooses
# a few token sessions (the client carries one call at a time) and says so,
# the import API generates and activates a key there, and the signing API
# signs with it.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
require_p11kit_client
sksd_setup
p11kit_server_start p11kit "pkcs11:token=$SKS_TOKEN_LABEL"
sed -i "s|^pkcs11_module = .*|pkcs11_module = $P11KIT_CLIENT|" "$sks_work/sks.conf"
sksd_start
assert_grep sessions-log "$P11KIT_CLIENT forwards one call at a time to its p11-kit server: 4 token sessions" \
    "$sks_work/sksd.log"
curl -sS -o "$sks_work/metrics.txt" "http://127.0.0.1:$sksd_port/metrics" ||
    fail "/metrics does not answer"
assert_grep sessions-metrics "sksd_hsm_sessions 4" "$sks_work/metrics.txt"
pass "sksd_chooses_4_token_sessions_for_p11-kit-client"

v=$(provision_version sp-main activate)
code=$(sign remote '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}')
[ "$code" = 200 ] || { cat "$sks_work/remote.json"; fail "signing through p11-kit remoting: status $code"; }
json "$sks_work/remote.json" signingResponse.identity > "$sks_work/remote.identity"
verify_identity verify-remote "$sks_work/remote.identity" "$sks_work/sp-main-$v.pem"
pass "sksd_generates_activates_and_signs_through_p11-kit-client"
