# Tests for the profile area.

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
