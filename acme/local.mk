# acme: the ACME client (RFC 8555) of the certificate lifecycle: JWS signed
# in the token, the account (its key generated there, its record beside the
# key store's), orders, issuance into the key store, revocation; and its
# SHAKEN parts: the TNAuthList identifier and the SPC token (RFC 9447, RFC
# 9448, ATIS-1000080) from a file, a command or the STI-PA's token API.
noinst_LTLIBRARIES += acme/libsksacme.la
acme_libsksacme_la_SOURCES = acme/acme.h acme/internal.h acme/store.h acme/issue.h \
	acme/jws.c acme/client.c acme/account.c acme/order.c acme/store.c acme/issue.c \
	acme/spc.c acme/spc.h acme/stipa.c acme/stipa.h acme/renew.c acme/renew.h acme/ari.c \
	acme/publish.h acme/publish.c
acme_libsksacme_la_CFLAGS = $(AM_CFLAGS)
acme_libsksacme_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_ACME = acme/libsksacme.la $(LIBSKS_FETCH) $(LIBSKS_KEYSTORE)

# Tests
# What needs no server and no token: the EAB JWS, TNAuthList identifiers, reasons (Check).
check_PROGRAMS += tests/unit/check_acme
tests_unit_check_acme_SOURCES = tests/unit/check_acme.c
tests_unit_check_acme_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_acme_LDADD = $(LIBSKS_ACME) $(CHECK_LIBS)
TESTS += tests/unit/check_acme

# sksctl acme against pebble (the RFC 8555 test server) on loopback, and
# against a server that misbehaves.
ACME_TESTS = tests/integration/acme-pebble.sh tests/integration/acme-bad-server.sh
TESTS += $(ACME_TESTS)
EXTRA_DIST += $(ACME_TESTS) tests/integration/acme-bad-server.py
EXTRA_DIST += tests/integration/acme-common.sh

# Issuance end to end against pebble and the token's share of it (make bench).
BENCH_BINS += tests/bench/bench_acme
tests_bench_bench_acme_SOURCES = tests/bench/bench_acme.c tests/interop/interop.c \
	tests/interop/interop.h
tests_bench_bench_acme_LDADD = $(LIBSKS_ACME)
EXTRA_DIST += tests/bench/bench_acme.sh

# The identifier, the fingerprint, the SPC token's check and its sources (Check).
check_PROGRAMS += tests/unit/check_acme_spc
tests_unit_check_acme_spc_SOURCES = tests/unit/check_acme_spc.c
tests_unit_check_acme_spc_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_acme_spc_LDADD = $(LIBSKS_ACME) $(CHECK_LIBS)
TESTS += tests/unit/check_acme_spc

# The test STI-PA and STI-CA and its self-check; SPC tokens got from it, a
# file and a command by spc_token_probe, and checked before they are sent.
check_PROGRAMS += tests/interop/spc_token_probe
tests_interop_spc_token_probe_SOURCES = tests/interop/spc_token_probe.c
tests_interop_spc_token_probe_LDADD = $(LIBSKS_ACME)
ACME_FIXTURE_TESTS = tests/integration/acme-sti-fixture.sh tests/integration/acme-spc-token.sh \
	tests/integration/acme-renew.sh tests/integration/acme-renew-load.sh \
	tests/integration/acme-shaken.sh tests/integration/acme-publish.sh \
	tests/integration/acme-renew-crash.sh
TESTS += $(ACME_FIXTURE_TESTS)
EXTRA_DIST += $(ACME_FIXTURE_TESTS) tests/acme/sti-fixture.py tests/acme/acme-probe.py \
	tests/acme/fixture.sh

# The [publish] section: templates, paths that escape, misspelt keys (Check).
check_PROGRAMS += tests/unit/check_acme_publish
tests_unit_check_acme_publish_SOURCES = tests/unit/check_acme_publish.c
tests_unit_check_acme_publish_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_acme_publish_LDADD = $(LIBSKS_ACME) $(CHECK_LIBS)
TESTS += tests/unit/check_acme_publish
