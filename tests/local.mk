# Tests: Check unit tests (tests/unit) and integration tests against a real
# SoftHSM2 token, the openssl CLI and other real clients (tests/integration).
# Each area keeps its tests in its own fragment.
CHECK_CFLAGS_ALL = $(AM_CFLAGS) $(CHECK_CFLAGS)
CHECK_LIBS_ALL = $(CHECK_LIBS)

EXTRA_DIST += tests/integration/common.sh tests/bench-run.sh tests/vectors

include tests/formats.mk
include tests/profile.mk
include tests/provider.mk
include tests/keystore.mk
include tests/fault.mk
include tests/sksd.mk
include tests/fuzz.mk
include tests/install.mk
