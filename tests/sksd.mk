# Tests for sksd: API conformance, volume, rotation under load, import API
# authentication, hostile clients, request framing (smuggling), SIGTERM
# drain and SIGHUP reload, imports and activations through sksd and sksctl
# killed by SIGKILL, each against a SoftHSM2 token and a test PKI the test
# makes itself (tests/integration/sksd-common.sh), with curl and sksd_client
# as clients.

SKSD_LOAD = tests/interop/sksd_load.c tests/interop/sksd_load.h
SKSD_LOAD_LIBS = $(LIBSKS_VERIFY) -lpthread

check_PROGRAMS += tests/interop/sksd_client
tests_interop_sksd_client_SOURCES = tests/interop/sksd_client.c $(SKSD_LOAD) \
	tests/interop/interop.c tests/interop/interop.h
tests_interop_sksd_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_interop_sksd_client_LDADD = $(SKSD_LOAD_LIBS)

SKSD_TESTS = \
	tests/integration/sksd-api.sh \
	tests/integration/sksd-volume.sh \
	tests/integration/sksd-rotation.sh \
	tests/integration/sksd-import-auth.sh \
	tests/integration/sksd-hostile.sh \
	tests/integration/sksd-request-framing.sh \
	tests/integration/sksd-signals.sh \
	tests/integration/sksd-hsm-unavailable.sh \
	tests/integration/sksd-import-api.sh \
	tests/integration/sksd-config.sh \
	tests/integration/sksd-config-token.sh \
	tests/integration/crash-sksd-activations.sh
TESTS += $(SKSD_TESTS)
EXTRA_DIST += $(SKSD_TESTS) tests/integration/sksd-common.sh tests/bench/bench_sksd.sh

# Requests per second, latency at half that rate, the ratio to raw PKCS#11
# signing and RSS growth (make bench).
BENCH_BINS += tests/bench/bench_sksd
tests_bench_bench_sksd_SOURCES = tests/bench/bench_sksd.c $(SKSD_LOAD) \
	tests/interop/interop.c tests/interop/interop.h
tests_bench_bench_sksd_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_sksd_LDADD = $(SKSD_LOAD_LIBS) $(LIBSKS_P11)

# sksd and the provider on a token that answers C_Sign in 1-5 ms (through
# p11fault), 2 replicas behind HAProxy, p11-kit remoting, and /metrics with
# 10,000 identities against 10 (make bench).
BENCH_BINS += tests/bench/bench_hsm_latency
tests_bench_bench_hsm_latency_SOURCES = tests/bench/bench_hsm_latency.c $(SKSD_LOAD) \
	tests/interop/interop.c tests/interop/interop.h
tests_bench_bench_hsm_latency_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_hsm_latency_LDADD = $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE) $(SKSD_LOAD_LIBS)
# The bench runs sksd through p11fault, which only make check builds otherwise.
bench: tests/p11fault/libp11fault.la
EXTRA_DIST += tests/bench/bench_hsm_latency.sh

# Two sksd on one token behind HAProxy: health checks, rotation, a replica
# killed under load, a token outage.
TESTS += tests/integration/sksd-replicas.sh
EXTRA_DIST += tests/integration/sksd-replicas.sh doc/haproxy-sksd.cfg
