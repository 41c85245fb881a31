#!/bin/sh
# One token key signs from 8 threads x 10,000 signatures at once, and across
# fork(): a parent that loaded the key (and signed) has 4 children sign at the
# same time, then signs again.  Every signature verifies in software.
# SKS_TEST_THREADS / SKS_TEST_SIGNATURES shrink the run for a quick look.
. "$top_srcdir/tests/integration/common.sh"

require_softhsm
require_provider
sks_mkwork
make_token sks-concurrency
cd "$sks_work"

priv_uri=$(keygen sp-busy 04)
write_openssl_cnf openssl.cnf
run_ok pubout env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$OPENSSL" pkey -pubin -in "pkcs11:token=$SKS_TOKEN_LABEL;object=sp-busy;type=public" -pubout \
    -out pub.pem

threads=${SKS_TEST_THREADS:-8}
signatures=${SKS_TEST_SIGNATURES:-10000}
run_ok threads env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$top_builddir/tests/interop/sign_threads" "$priv_uri" pub.pem "$threads" "$signatures"
pass_each threads.out

run_ok fork env OPENSSL_CONF="$sks_work/openssl.cnf" \
    "$top_builddir/tests/interop/sign_fork" "$priv_uri" pub.pem 4 200
pass_each fork.out
