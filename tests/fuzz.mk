# Fuzz targets for every parser of outside input not covered by an area's own
# fragment (tests/formats.mk and tests/profile.mk have theirs), the test of
# faults during import, and the soak test.  `make fuzz` builds the targets and
# `make fuzz-run` runs each from its seed corpus in tests/fuzz/corpus/<name
# without fuzz_> (./configure CC=clang --enable-fuzzing); `make soak` runs
# sksd under load, rotation and faults for SOAK_MINUTES and the crash tests
# at length (never in make check).

FUZZ_CORPORA = tests/fuzz/corpus/uri tests/fuzz/corpus/keyref tests/fuzz/corpus/wrapped \
	tests/fuzz/corpus/pkcs8 tests/fuzz/corpus/sksd_body
EXTRA_DIST += $(FUZZ_CORPORA) tests/fuzz/fuzz_uri.c tests/fuzz/fuzz_keyref.c \
	tests/fuzz/fuzz_wrapped.c tests/fuzz/fuzz_pkcs8.c tests/fuzz/fuzz_sksd_body.c \
	tests/fuzz/fuzz_a1_key.h

if ENABLE_FUZZING
# PKCS#11 URIs as the provider reads them: the provider's objects are linked
# in, since the module itself exports OSSL_provider_init alone.
FUZZ_BINS += tests/fuzz/fuzz_uri
tests_fuzz_fuzz_uri_SOURCES = tests/fuzz/fuzz_uri.c $(provider_sks_la_SOURCES)
# Its own objects: the provider's are libtool objects of a shared module.
tests_fuzz_fuzz_uri_CFLAGS = $(AM_CFLAGS)
tests_fuzz_fuzz_uri_LDADD = $(LIBSKS_P11)
tests_fuzz_fuzz_uri_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

# Key-reference files, DER and PEM.
FUZZ_BINS += tests/fuzz/fuzz_keyref
tests_fuzz_fuzz_keyref_SOURCES = tests/fuzz/fuzz_keyref.c
tests_fuzz_fuzz_keyref_LDADD = $(LIBSKS_COMMON) $(CRYPTO_LIBS)
tests_fuzz_fuzz_keyref_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

# Wrapped-key blobs, unwrapped in software with a fixed test wrapping key.
FUZZ_BINS += tests/fuzz/fuzz_wrapped
tests_fuzz_fuzz_wrapped_SOURCES = tests/fuzz/fuzz_wrapped.c
tests_fuzz_fuzz_wrapped_LDADD = $(LIBSKS_KEYSTORE)
tests_fuzz_fuzz_wrapped_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

# Software keys through sksctl's loader (keystore/input.c) and the key
# store's key checks.
FUZZ_BINS += tests/fuzz/fuzz_pkcs8
tests_fuzz_fuzz_pkcs8_SOURCES = tests/fuzz/fuzz_pkcs8.c
tests_fuzz_fuzz_pkcs8_LDADD = $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE)
tests_fuzz_fuzz_pkcs8_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer

# sksd signing request bodies and the PASSporT claims parser.
FUZZ_BINS += tests/fuzz/fuzz_sksd_body
tests_fuzz_fuzz_sksd_body_SOURCES = tests/fuzz/fuzz_sksd_body.c
tests_fuzz_fuzz_sksd_body_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) -pthread
tests_fuzz_fuzz_sksd_body_LDADD = $(LIBSKS_VERIFY) $(LIBSKSD)
tests_fuzz_fuzz_sksd_body_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# A fault in the middle of sksctl import (PKCS#8 and wrapped) leaves the
# token as it was, at once or after the next sweep; p11fault injects it.
TESTS += tests/integration/fault-import.sh
EXTRA_DIST += tests/integration/fault-import.sh

# sksd under load, key rotation and token faults for SOAK_MINUTES; prints
# FIGURE lines (requests, failures by status, RSS, descriptors, sessions).
# Then the crash tests with SOAK_CRASH_KILLS imports or rounds killed at
# random (make check runs a few dozen: SKS_CRASH_KILLS in the scripts).
SOAK_MINUTES = 30
SOAK_CRASH_KILLS = 200
SOAK_CRASH_TESTS = tests/integration/keystore-crash.sh tests/integration/crash-sksd-activations.sh
# Renewals killed at random: each one takes seconds against the test STI-CA,
# so fewer than the imports (the issue's 50).
SOAK_ACME_CRASH_KILLS = 50
SOAK_ACME_CRASH_TESTS = tests/integration/acme-renew-crash.sh
soak: sksd/sksd$(EXEEXT) sksctl$(EXEEXT) tests/interop/sksd_client$(EXEEXT) \
		tests/p11fault/libp11fault.la $(modules_LTLIBRARIES)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	SOFTHSM_MODULE='$(SOFTHSM_MODULE)' OPENSSL_MODULES='$(abs_top_builddir)/provider/.libs' \
	SOAK_MINUTES='$(SOAK_MINUTES)' $(SHELL) $(abs_top_srcdir)/tests/soak/soak.sh
	SKS_CRASH_KILLS='$(SOAK_CRASH_KILLS)' $(MAKE) $(AM_MAKEFLAGS) check TESTS='$(SOAK_CRASH_TESTS)'
	SKS_CRASH_KILLS='$(SOAK_ACME_CRASH_KILLS)' $(MAKE) $(AM_MAKEFLAGS) check \
		TESTS='$(SOAK_ACME_CRASH_TESTS)'
EXTRA_DIST += tests/soak/soak.sh
.PHONY: soak
