# keystore: SHAKEN identities and their key versions held in a PKCS#11 token
# (generate, wrapped and PKCS#8 import, rotation, the signing cache), the
# decoding of the keys and certificates handed to it, and the configuration
# file sksctl and sksd share.
noinst_LTLIBRARIES += keystore/libskskeystore.la
keystore_libskskeystore_la_SOURCES = keystore/keystore.h keystore/internal.h \
	keystore/keystore.c keystore/map.c keystore/record.c keystore/active.c \
	keystore/import.c keystore/wrap.c keystore/generate.c keystore/rotate.c keystore/crl.c \
	keystore/slots.c keystore/protect.c keystore/json.c \
	keystore/input.c keystore/input.h keystore/keyload.c keystore/conf.c keystore/conf.h \
	keystore/renewal.c keystore/renewal.h
keystore_libskskeystore_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS) $(P11KIT_LIBS)
LIBSKS_KEYSTORE = keystore/libskskeystore.la $(LIBSKS_PROFILE) $(LIBSKS_P11)

# Tests
# sksctl's key store commands, unit tests against a real SoftHSM2 token,
# integration tests of every way in, bad input, rotation and crashes, and the
# key store benchmark.

# Issues SP certificates that break one rule each, for the bad-input tests.
check_PROGRAMS += tests/keystore/keystore_mkcert
tests_keystore_keystore_mkcert_SOURCES = tests/keystore/mkcert.c
tests_keystore_keystore_mkcert_LDADD = $(LIBSKS_TESTPKI)

KEYSTORE_TESTS = \
	tests/integration/keystore-ways-in.sh \
	tests/integration/keystore-bad-input.sh \
	tests/integration/keystore-rotation.sh \
	tests/integration/keystore-crash.sh \
	tests/integration/keystore-full-token.sh \
	tests/integration/keystore-torn-record.sh \
	tests/integration/keystore-usage.sh \
	tests/integration/keystore-key-attributes.sh \
	tests/integration/fifo-inputs.sh
TESTS += $(KEYSTORE_TESTS)
EXTRA_DIST += $(KEYSTORE_TESTS) tests/integration/keystore-common.sh

# Unit tests: records, configuration and the map without a token; the ways
# in and the signing cache against a throwaway SoftHSM2 token.
check_PROGRAMS += tests/unit/check_keystore
tests_unit_check_keystore_SOURCES = tests/unit/check_keystore.c
tests_unit_check_keystore_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_keystore_LDADD = $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE) $(CHECK_LIBS)
TESTS += tests/unit/check_keystore

# Imports per second for each way in and the signing rate through the
# key store's cache with 1, 100 and 10,000 identities (make bench).
BENCH_BINS += tests/bench/bench_keystore
tests_bench_bench_keystore_SOURCES = tests/bench/bench_keystore.c
tests_bench_bench_keystore_LDADD = $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE)

# Reads and tries to change every key attribute straight through PKCS#11,
# independently of the project's PKCS#11 layer.
check_PROGRAMS += tests/keystore/p11attrs
tests_keystore_p11attrs_SOURCES = tests/keystore/p11attrs.c
tests_keystore_p11attrs_CFLAGS = $(AM_CFLAGS) $(P11KIT_CFLAGS)
tests_keystore_p11attrs_LDADD = $(CRYPTO_LIBS) -ldl
