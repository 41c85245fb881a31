# acme: the certificate lifecycle's ACME client (RFC 8555) and its SHAKEN
# parts: the TNAuthList identifier and the SPC token (RFC 9447, RFC 9448,
# ATIS-1000080).  Depends on profile/, shaken/, fetch/ and common/.
noinst_LTLIBRARIES += acme/libsksacme.la
acme_libsksacme_la_SOURCES = acme/spc.c acme/spc.h
acme_libsksacme_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_ACME = acme/libsksacme.la $(LIBSKS_PROFILE) $(LIBSKS_FETCH)

# Tests
# The identifier, the fingerprint, the SPC token's check and its sources (Check).
check_PROGRAMS += tests/unit/check_acme_spc
tests_unit_check_acme_spc_SOURCES = tests/unit/check_acme_spc.c
tests_unit_check_acme_spc_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_acme_spc_LDADD = $(LIBSKS_ACME) $(CHECK_LIBS)
TESTS += tests/unit/check_acme_spc

# The test STI-PA and STI-CA and its self-check.
ACME_FIXTURE_TESTS = tests/integration/acme-sti-fixture.sh
TESTS += $(ACME_FIXTURE_TESTS)
EXTRA_DIST += $(ACME_FIXTURE_TESTS) tests/acme/sti-fixture.py tests/acme/acme-probe.py \
	tests/acme/fixture.sh
