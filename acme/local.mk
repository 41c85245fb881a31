# acme: the certificate lifecycle's ACME client (RFC 8555) and its SHAKEN
# parts: the TNAuthList identifier and the SPC token (RFC 9447, RFC 9448,
# ATIS-1000080).  Depends on profile/, shaken/, fetch/ and common/.
noinst_LTLIBRARIES += acme/libsksacme.la
acme_libsksacme_la_SOURCES = acme/spc.c acme/spc.h acme/stipa.c acme/stipa.h
acme_libsksacme_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_ACME = acme/libsksacme.la $(LIBSKS_PROFILE) $(LIBSKS_FETCH)

# Tests
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
ACME_FIXTURE_TESTS = tests/integration/acme-sti-fixture.sh tests/integration/acme-spc-token.sh
TESTS += $(ACME_FIXTURE_TESTS)
EXTRA_DIST += $(ACME_FIXTURE_TESTS) tests/acme/sti-fixture.py tests/acme/acme-probe.py \
	tests/acme/fixture.sh
