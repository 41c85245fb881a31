# Tests for the formats area: TNs, PASSporT encoding, Identity header
# verification, sksctl sign/verify and the Identity header fuzzer.

FORMATS_TEST_LDADD = $(LIBSKS_VERIFY) $(LIBSKS_TESTPKI) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_tn tests/unit/check_passport tests/unit/check_verify
tests_unit_check_tn_SOURCES = tests/unit/check_tn.c
tests_unit_check_tn_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_tn_LDADD = $(FORMATS_TEST_LDADD)
# Links the key store's key loader so that SKS_TEST_KEY=pkcs11:... signs with a token key.
tests_unit_check_passport_SOURCES = tests/unit/check_passport.c
tests_unit_check_passport_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_passport_LDADD = $(FORMATS_TEST_LDADD) $(LIBSKS_KEYSTORE)
tests_unit_check_verify_SOURCES = tests/unit/check_verify.c
tests_unit_check_verify_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_verify_LDADD = $(FORMATS_TEST_LDADD)

FORMATS_TESTS = tests/integration/formats-sksctl.sh tests/integration/formats-token.sh
TESTS += tests/unit/check_tn tests/unit/check_passport tests/unit/check_verify $(FORMATS_TESTS)
EXTRA_DIST += $(FORMATS_TESTS) tests/fuzz/corpus/identity

if ENABLE_FUZZING
FUZZ_BINS += tests/fuzz/fuzz_identity
tests_fuzz_fuzz_identity_SOURCES = tests/fuzz/fuzz_identity.c
tests_fuzz_fuzz_identity_LDADD = $(LIBSKS_VERIFY)
tests_fuzz_fuzz_identity_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif
