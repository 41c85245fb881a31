# Tests: Check unit tests (tests/unit) and integration tests against a real
# SoftHSM2 token, the openssl CLI and other real clients (tests/integration).
# Each module's local.mk lists its own tests (under "# Tests", at its end);
# the fragments below hold the ones that span modules.
CHECK_CFLAGS_ALL = $(AM_CFLAGS) $(CHECK_CFLAGS)
CHECK_LIBS_ALL = $(CHECK_LIBS)

EXTRA_DIST += tests/integration/common.sh tests/bench-run.sh tests/vectors

include tests/fault.mk
include tests/fuzz.mk
include tests/install.mk

# The modules' includes point the way their dependencies do (README.md,
# "What is here"); `make check-layering` runs it alone.
TESTS += tests/check-layering.sh
EXTRA_DIST += tests/check-layering.sh
check-layering:
	$(AM_V_at)top_srcdir='$(abs_top_srcdir)' $(SHELL) $(abs_top_srcdir)/tests/check-layering.sh

# Scratch tokens of interrupted runs.
clean-local: clean-test-tmp
clean-test-tmp:
	-rm -rf tests/tmp
.PHONY: check-layering clean-test-tmp
