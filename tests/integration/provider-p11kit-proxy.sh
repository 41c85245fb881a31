#!/bin/sh
# With no pkcs11-module-path, the provider uses p11-kit's proxy module, so a
# module registered with p11-kit (Debian's softhsm2 package registers
# SoftHSM2) is reachable with no path in the configuration at all.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
sks_mkwork
registered=
for f in /usr/share/p11-kit/modules/softhsm2.module /etc/pkcs11/modules/softhsm2.module; do
    if [ -f "$f" ]; then registered=$f; fi
done
[ -n "$registered" ] || skip "SoftHSM2 is not registered with p11-kit on this machine"
make_token sks-proxy
cd "$sks_work"

priv_uri=$(keygen sp-proxy 0a)
write_openssl_cnf openssl.cnf
# The same configuration without pkcs11-module-path.
grep -v '^pkcs11-module-path' openssl.cnf > proxy.cnf
grep -q 'pkcs11-module-path' proxy.cnf && fail "proxy.cnf still names a module"
printf 'INVITE sip:+12155550131@example.net SIP/2.0\r\n' > msg

run_ok pub env OPENSSL_CONF=openssl.cnf "$OPENSSL" pkey -pubin \
    -in "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-proxy;type=public" -pubout -out pub.pem
run_ok proxy-sign env OPENSSL_CONF=proxy.cnf "$OPENSSL" dgst -sha256 -sign "$priv_uri" \
    -out msg.sig msg
run_ok proxy-verify sw_openssl dgst -sha256 -verify pub.pem -signature msg.sig msg
pass "signing through p11-kit's proxy (no module path configured) verifies"
