# Fault tests: the PKCS#11 layer's recovery, driven by p11fault, a module
# that forwards to SoftHSM and fails on demand (tests/p11fault/p11fault.c).

# Built for the tests only (check_): -rpath makes libtool build the shared
# object that p11-kit loads; only C_GetFunctionList is exported.  The layer's
# own table names the CKR_ codes, so directives and messages agree.
check_LTLIBRARIES = tests/p11fault/libp11fault.la
tests_p11fault_libp11fault_la_SOURCES = tests/p11fault/p11fault.c
tests_p11fault_libp11fault_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -rpath /nowhere \
	-export-symbols-regex '^C_GetFunctionList$$'
tests_p11fault_libp11fault_la_LIBADD = $(LIBSKS_P11)

check_PROGRAMS += tests/interop/fault_sign
tests_interop_fault_sign_SOURCES = tests/interop/fault_sign.c $(INTEROP_COMMON)
tests_interop_fault_sign_CFLAGS = $(AM_CFLAGS) -pthread
tests_interop_fault_sign_LDADD = $(CRYPTO_LIBS) -lpthread

FAULT_TESTS = \
	tests/integration/fault-sign-survives-session-faults.sh \
	tests/integration/fault-token-removed.sh \
	tests/integration/fault-persistent-faults.sh \
	tests/integration/fault-wrong-pin.sh \
	tests/integration/fault-reset-spares-other-threads.sh \
	tests/integration/fault-valgrind-leaks.sh \
	tests/integration/fault-recovery-path-faults.sh \
	tests/integration/fault-slow-token.sh
TESTS += $(FAULT_TESTS)
EXTRA_DIST += $(FAULT_TESTS) tests/integration/fault-common.sh tests/p11fault/valgrind.supp
