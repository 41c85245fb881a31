# common: what every module shares: struct sks_error (a cause, the input at fault and a
# stable code), guarded reads of the files users name, key-reference files, P-256 constants.
noinst_LTLIBRARIES += common/libskscommon.la
LIBSKS_COMMON = common/libskscommon.la
common_libskscommon_la_SOURCES = common/error.c common/error.h common/file.c common/file.h \
	common/keyref.c common/keyref.h common/p256.h

# Tests
# Key-reference files are read by the provider's tests
# (tests/integration/provider-keyref-*.sh) and fuzzed by fuzz_keyref
# (tests/fuzz.mk); errors are checked where each module reports them.
