#!/bin/sh
# The import API lets in only whom the configuration names: over TLS a
# client certificate from the configured CA with an allowed subject, on the
# Unix socket an allowed uid.  Every other attempt gets 401/403, is audited,
# and leaves the token as it was.  An authenticated import (generate, attach,
# activate over TLS) is followed by signing that verifies.
. "$top_srcdir/tests/integration/sksd-common.sh"
require_sksd
sksd_setup
tls=$sks_work/tls
mkdir -p "$tls"

# req_cert NAME SUBJECT CA [EXT]: an EC key and a certificate issued by CA
# (self-signed when CA is "self").
req_cert() {
    printf '%s\n' "[ext]" "${4:-basicConstraints = critical,CA:FALSE}" \
        "keyUsage = critical,digitalSignature${5:-}" > "$tls/$1.ext"
    if [ "$3" = self ]; then
        run_ok "cert-$1" sw_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$tls/$1.key" -out "$tls/$1.pem" -subj "$2" -days 2 \
            -addext "$(sed -n 2p "$tls/$1.ext")" -addext "$(sed -n 3p "$tls/$1.ext")"
    else
        run_ok "csr-$1" sw_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$tls/$1.key" -out "$tls/$1.csr" -subj "$2"
        run_ok "cert-$1" sw_openssl x509 -req -in "$tls/$1.csr" -CA "$tls/$3.pem" \
            -CAkey "$tls/$3.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
            -days 2 -extfile "$tls/$1.ext" -extensions ext -out "$tls/$1.pem"
    fi
}
CA_EXT='basicConstraints = critical,CA:TRUE'
req_cert client-ca "/CN=SP-KMS Client CA" self "$CA_EXT" ",keyCertSign"
req_cert other-ca "/CN=Somebody Else CA" self "$CA_EXT" ",keyCertSign"
req_cert server "/CN=127.0.0.1" self "subjectAltName = IP:127.0.0.1"
req_cert kms "/O=Example/CN=sp-kms" client-ca "extendedKeyUsage = clientAuth"
req_cert intruder "/O=Example/CN=intruder" client-ca "extendedKeyUsage = clientAuth"
req_cert foreign "/O=Example/CN=sp-kms" other-ca "extendedKeyUsage = clientAuth"

cat >> "$sks_work/sks.conf" <<EOF

[sksd_import_tls]
listen = 127.0.0.1:0
cert = $tls/server.pem
key = $tls/server.key
client_ca = $tls/client-ca.pem
subject.1 = CN=sp-kms,O=Example
EOF
sed -i 's/^import_unix = sksd_import_unix$/import_unix = sksd_import_unix\nimport_tls = sksd_import_tls/' \
    "$sks_work/sks.conf"
# The uid case connects as uid 65534, which must reach the socket wherever
# the checkout is.
if ! command -v setpriv >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    uid_case="needs root and setpriv(1) to connect as another uid"
elif ! sksd_share_socket; then
    uid_case="no directory for the socket could be made under /tmp"
elif ! setpriv --reuid 65534 --regid 65534 --clear-groups test -x "$sksd_shared"; then
    uid_case="uid 65534 cannot reach $sksd_shared"
else
    uid_case=run
fi
sksd_start
tls_port=$(sed -n 's/.*import API (TLS) listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$sks_work/sksd.log")
[ -n "$tls_port" ] || fail "sksd did not log the TLS import port"

# tls_api NAME CLIENT METHOD PATH [BODY]: CLIENT is a certificate name or "none".
tls_api() {
    ta_name=$1 ta_client=$2 ta_method=$3 ta_path=$4
    printf '%s' "${5:-}" > "$sks_work/$ta_name.req"
    if [ "$ta_client" = none ]; then
        set --
    else
        set -- --cert "$tls/$ta_client.pem" --key "$tls/$ta_client.key"
    fi
    curl -sS --cacert "$tls/server.pem" "$@" -X "$ta_method" -H 'Content-Type: application/json' \
        --data-binary "@$sks_work/$ta_name.req" -o "$sks_work/$ta_name.json" -w '%{http_code}' \
        "https://127.0.0.1:$tls_port$ta_path"
}

# A first version through the Unix socket, so that the token has something to lose.
v1=$(provision_version sp-main activate)

# The token's objects, as pkcs11-tool lists them: what must not change.
token_objects() {
    if command -v pkcs11-tool >/dev/null 2>&1; then
        p11tool_login --list-objects 2>/dev/null | grep -E '^(Private Key|Public Key|Certificate|Data) Object|label:' | sort
    fi
    import_api list GET /sks/v1/identities > /dev/null
    cat "$sks_work/list.json"
}
token_objects > "$sks_work/objects.before"

GEN='{"spc":"1234"}'
# denied NAME STATUS CLIENT: a generate attempt that must be refused.
denied() {
    code=$(tls_api "$1" "$3" POST /sks/v1/identities/sp-main/generate "$GEN") ||
        code="curl-failed"
    [ "$code" = "$2" ] || { cat "$sks_work/$1.json" 2>/dev/null; fail "$1: status $code, not $2"; }
    pass "import_refuses_$1 with $2"
}
denied no-client-certificate 401 none
denied client-certificate-from-another-ca 403 foreign
denied subject-not-on-the-allow-list 403 intruder
assert_grep audit 'who="tls:(no certificate)" what=authenticate identity="-" result=denied' "$sks_work/sksd.log"
assert_grep audit 'who="tls:CN=intruder,O=Example" what=authenticate' "$sks_work/sksd.log"
assert_grep audit 'does not verify against the import client CA' "$sks_work/sksd.log"

# On the TLS listener too (sksd-request-framing.sh covers the others), an
# ambiguous body length is refused and the connection closed: the request
# after it on the connection is not answered.  s_client -quiet reads until
# the server closes; 8 s is below the connection timeout.
{
    printf 'GET /sks/v1/identities HTTP/1.1\r\nHost: sksd\r\n'
    printf 'Content-Length: 0\r\nContent-Length: 0\r\n\r\n'
    printf 'GET /sks/v1/identities HTTP/1.1\r\nHost: sksd\r\n\r\n'
} > "$sks_work/framing.req"
rc=0
timeout 8 env OPENSSL_CONF="$sks_work/plain.cnf" "$OPENSSL" s_client -quiet \
    -connect "127.0.0.1:$tls_port" -CAfile "$tls/server.pem" \
    -cert "$tls/kms.pem" -key "$tls/kms.key" \
    < "$sks_work/framing.req" > "$sks_work/framing.out" 2> "$sks_work/framing.err" || rc=$?
[ "$rc" != 124 ] || fail "TLS: the connection stayed open after an ambiguous request"
assert_grep framing "HTTP/1.1 400 " "$sks_work/framing.out"
assert_grep framing "Connection: close" "$sks_work/framing.out"
assert_grep framing '"code":"invalid-framing","message":"repeated Content-Length header' \
    "$sks_work/framing.out"
[ "$(grep -c '^HTTP/1' "$sks_work/framing.out")" = 1 ] ||
    fail "TLS: the request after an ambiguous one was answered"
pass "import_over_tls_refuses_repeated_content_length_and_closes"

if [ "$uid_case" = run ]; then
    # The body comes on stdin: the work directory may be closed to uid 65534.
    printf '%s' "$GEN" > "$sks_work/uid.req"
    code=$(setpriv --reuid 65534 --regid 65534 --clear-groups env -u LD_PRELOAD curl -sS \
        --unix-socket "$sksd_sock" -X POST -H 'Content-Type: application/json' \
        --data-binary @- -o /dev/null -w '%{http_code}' \
        http://sksd/sks/v1/identities/sp-main/generate < "$sks_work/uid.req") || code=curl-failed
    [ "$code" = 403 ] || fail "uid 65534 on the import socket: status $code, not 403"
    assert_grep audit 'who="uid:65534' "$sks_work/sksd.log"
    assert_grep audit 'uid 65534 is not on the import allow-list' "$sks_work/sksd.log"
    pass "import_refuses_a_uid_not_on_the_allow_list with 403"
else
    echo "# uid case not run: $uid_case"
fi

token_objects > "$sks_work/objects.after"
assert_same_file "refused imports change nothing" "$sks_work/objects.before" "$sks_work/objects.after"
[ "$(grep -c 'what=generate' "$sks_work/sksd.log")" = 1 ] || fail "a refused caller reached generate"
pass "import_refusals_leave_the_token_unchanged"

# ---- an authenticated import over TLS, then signing ------------------------------
code=$(tls_api gen kms POST /sks/v1/identities/sp-main/generate "$GEN")
[ "$code" = 201 ] || { cat "$sks_work/gen.json"; fail "generate over TLS: status $code"; }
v=$(json "$sks_work/gen.json" version)
json "$sks_work/gen.json" csr > "$sks_work/sp-main-$v.csr"
issue_cert "$sks_work/sp-main-$v.csr" "$sks_work/sp-main-$v.pem"
"$SKSD_CLIENT" attach-body "$sks_work/sp-main-$v.pem" "$sks_work/pki/chain.pem" \
    "$(x5u_of sp-main "$v")" > "$sks_work/attach.body"
code=$(tls_api attach kms POST "/sks/v1/identities/sp-main/versions/$v/attach" "$(cat "$sks_work/attach.body")")
[ "$code" = 200 ] || { cat "$sks_work/attach.json"; fail "attach over TLS: status $code"; }
code=$(tls_api activate kms POST "/sks/v1/identities/sp-main/versions/$v/activate")
[ "$code" = 200 ] || { cat "$sks_work/activate.json"; fail "activate over TLS: status $code"; }
assert_grep audit "who=\"tls:CN=sp-kms,O=Example\" what=generate identity=\"sp-main\" version=$v result=ok" "$sks_work/sksd.log"
assert_grep audit "what=attach identity=\"sp-main\" version=$v result=ok" "$sks_work/sksd.log"
assert_grep audit "what=activate identity=\"sp-main\" version=$v result=ok" "$sks_work/sksd.log"
pass "import_over_tls_with_an_allowed_client_certificate_is_audited"

# The new version signs within the cache's second.
i=0
while :; do
    code=$(sign after '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}')
    [ "$code" = 200 ] || { cat "$sks_work/after.json"; fail "signing after the import: status $code"; }
    json "$sks_work/after.json" signingResponse.identity > "$sks_work/after.identity"
    grep -q "info=<$(x5u_of sp-main "$v")>" "$sks_work/after.identity" && break
    i=$((i + 1))
    [ "$i" -lt 30 ] || fail "version $v does not sign 3 s after its activation"
    sleep 0.1
done
verify_identity verify-after "$sks_work/after.identity" "$sks_work/sp-main-$v.pem"
pass "signing_works_after_an_authenticated_import"

# Bad input to an authenticated caller: refused by name, audited, nothing written.
code=$(tls_api badattach kms POST "/sks/v1/identities/sp-main/versions/$v/attach" '{"certificate":"not a PEM","x5u":"https://x.example/c.pem"}')
[ "$code" = 400 ] || fail "attach with a bad certificate: status $code, not 400"
[ "$(json "$sks_work/badattach.json" error.code)" = invalid-certificate ] || fail "bad certificate: wrong code"
assert_grep audit "what=attach identity=\"sp-main\" version=$v result=refused" "$sks_work/sksd.log"
code=$(tls_api badactivate kms POST "/sks/v1/identities/sp-main/versions/99/activate")
[ "$code" = 404 ] || { cat "$sks_work/badactivate.json"; fail "activate of a missing version: status $code, not 404"; }
assert_grep audit 'what=activate identity="sp-main" version=99 result=failed' "$sks_work/sksd.log"
pass "import_refuses_bad_input_by_name_and_audits_it"
if grep -E 'BEGIN (EC |ENCRYPTED )?PRIVATE KEY' "$sks_work/sksd.log" ||
    grep -F "$(cat "$SKS_PIN_FILE")" "$sks_work/sksd.log"; then
    fail "the log holds key material or a PIN"
fi
pass "audit_log_holds_no_key_material"
