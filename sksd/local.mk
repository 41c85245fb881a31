# sksd, the STI-AS signing daemon: the signing API (ATIS-1000082), the SP-KMS
# import API, health and metrics over libmicrohttpd.  libsksd.la holds all of
# it but main(), so that tests and fuzzers link the daemon's own code.
noinst_LTLIBRARIES += sksd/libsksd.la
sksd_libsksd_la_SOURCES = sksd/sksd.h sksd/conf.c sksd/reply.c sksd/negotiate.c \
	sksd/body.c sksd/route.c sksd/listen.c sksd/tls.c sksd/signing.c \
	sksd/import.c sksd/auth.c sksd/metrics.c sksd/audit.c sksd/pool.c sksd/verification.c \
	sksd/crlwatch.c
sksd_libsksd_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
# The import API reads the client certificate from libmicrohttpd's GnuTLS
# session: sksd calls gnutls_certificate_get_peers() itself.
LIBSKSD = sksd/libsksd.la $(LIBSKS_VERIFY) $(LIBSKS_KEYSTORE) $(MHD_LIBS) $(GNUTLS_LIBS) -lpthread

sbin_PROGRAMS += sksd/sksd
sksd_sksd_SOURCES = sksd/main.c
sksd_sksd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
sksd_sksd_LDADD = $(LIBSKSD)

# What a system install of sksd needs besides the binary: its man page, the
# unit, an example configuration (never over an existing sks.conf: make
# install writes sks.conf.example only) and the sksd user and directories.
man_MANS += sksd/sksd.8
systemdsystemunit_DATA = sksd/sksd.service
shakensksconfdir = $(sysconfdir)/shaken-sks
shakensksconf_DATA = sksd/sks.conf.example
dist_sysusers_DATA = sksd/sysusers.d/sksd.conf
tmpfiles_DATA = sksd/tmpfiles.d/sksd.conf
SUBST_FILES += sksd/sksd.8 sksd/sksd.service sksd/sks.conf.example \
	sksd/tmpfiles.d/sksd.conf
sksd/sksd.8: $(srcdir)/sksd/sksd.8.in
sksd/sksd.service: $(srcdir)/sksd/sksd.service.in
sksd/sks.conf.example: $(srcdir)/sksd/sks.conf.example.in
sksd/tmpfiles.d/sksd.conf: $(srcdir)/sksd/tmpfiles.d/sksd.conf.in

# Tests
# API conformance, volume, rotation under load, import API
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
	tests/integration/sksd-sign-deadline.sh \
	tests/integration/sksd-import-api.sh \
	tests/integration/sksd-config.sh \
	tests/integration/sksd-config-token.sh \
	tests/integration/sksd-replicas.sh \
	tests/integration/sksd-p11kit-remote.sh \
	tests/integration/sksd-vesper-compat.sh \
	tests/integration/sksd-verification.sh \
	tests/integration/sksd-crl.sh \
	tests/integration/crash-sksd-activations.sh
TESTS += $(SKSD_TESTS)
EXTRA_DIST += $(SKSD_TESTS) tests/integration/sksd-common.sh tests/bench/bench_sksd.sh \
	doc/haproxy-sksd.cfg

# Requests per second, latency at half that rate, the ratio to raw PKCS#11
# signing and RSS growth (make bench).
BENCH_BINS += tests/bench/bench_sksd
tests_bench_bench_sksd_SOURCES = tests/bench/bench_sksd.c $(SKSD_LOAD) \
	tests/interop/interop.c tests/interop/interop.h
tests_bench_bench_sksd_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_sksd_LDADD = $(SKSD_LOAD_LIBS) $(LIBSKS_P11)

# sksd and the provider on a token that answers C_Sign in 1-5 ms (through
# p11fault), 2 replicas behind HAProxy, p11-kit remoting, and /metrics with
# many identities against 10 (make bench).
BENCH_BINS += tests/bench/bench_hsm_latency
tests_bench_bench_hsm_latency_SOURCES = tests/bench/bench_hsm_latency.c $(SKSD_LOAD) \
	tests/interop/interop.c tests/interop/interop.h
tests_bench_bench_hsm_latency_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_hsm_latency_LDADD = $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE) $(SKSD_LOAD_LIBS)
# The bench runs sksd through p11fault, which only make check builds otherwise.
bench: tests/p11fault/libp11fault.la
EXTRA_DIST += tests/bench/bench_hsm_latency.sh
