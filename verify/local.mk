# verify: verification of an Identity header: the PASSporT, its signature and the
# credential against the certificate profile and trust roots; the x5u chain cache.
noinst_LTLIBRARIES += verify/libsksverify.la
verify_libsksverify_la_SOURCES = verify/verify.c verify/verify.h verify/divert.c verify/x5u.c verify/x5u.h \
	verify/rcd.c verify/rcd.h
verify_libsksverify_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_VERIFY = verify/libsksverify.la $(LIBSKS_PROFILE) $(LIBSKS_FETCH)

# Tests
# Identity header verification (Check) and the Identity header fuzzer.
check_PROGRAMS += tests/unit/check_verify
tests_unit_check_verify_SOURCES = tests/unit/check_verify.c
tests_unit_check_verify_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_verify_LDADD = $(LIBSKS_VERIFY) $(LIBSKS_TESTPKI) $(CHECK_LIBS)
TESTS += tests/unit/check_verify
EXTRA_DIST += tests/fuzz/corpus/identity

if ENABLE_FUZZING
FUZZ_BINS += tests/fuzz/fuzz_identity
tests_fuzz_fuzz_identity_SOURCES = tests/fuzz/fuzz_identity.c
tests_fuzz_fuzz_identity_LDADD = $(LIBSKS_VERIFY)
tests_fuzz_fuzz_identity_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif
