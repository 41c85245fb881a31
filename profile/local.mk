# profile: the SHAKEN certificate profile (ATIS-1000080), the TNAuthList
# extension (RFC 8226) and certificate bundles.  Depends on shaken/ and common/.
noinst_LTLIBRARIES += profile/libsksprofile.la
profile_libsksprofile_la_SOURCES = profile/profile.c profile/profile.h \
	profile/tnauthlist.c profile/tnauthlist.h profile/certs.c profile/certs.h
profile_libsksprofile_la_LIBADD = $(CRYPTO_LIBS)
LIBSKS_PROFILE = profile/libsksprofile.la $(LIBSKS_SHAKEN)

# Tests
# The certificate profile (Check) against the test PKI, and its fuzzer.
check_PROGRAMS += tests/unit/check_profile
TESTS += tests/unit/check_profile tests/integration/profile-pki.sh
tests_unit_check_profile_SOURCES = tests/unit/check_profile.c
tests_unit_check_profile_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_profile_LDADD = $(LIBSKS_TESTPKI) $(CHECK_LIBS)
EXTRA_DIST += tests/integration/profile-pki.sh tests/fuzz/corpus/profile

if ENABLE_FUZZING
FUZZ_BINS += tests/fuzz/fuzz_profile
tests_fuzz_fuzz_profile_SOURCES = tests/fuzz/fuzz_profile.c
tests_fuzz_fuzz_profile_LDADD = $(LIBSKS_TESTPKI)
tests_fuzz_fuzz_profile_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif
