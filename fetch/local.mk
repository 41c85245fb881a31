# fetch: the project's one HTTPS client (libcurl): https only, TLS verified,
# bounded in bytes and time, and no connection to a non-public address.
noinst_LTLIBRARIES += fetch/libsksfetch.la
fetch_libsksfetch_la_SOURCES = fetch/fetch.c fetch/fetch.h fetch/cache.c fetch/cache.h
fetch_libsksfetch_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
fetch_libsksfetch_la_LIBADD = $(CURL_LIBS)
LIBSKS_FETCH = fetch/libsksfetch.la $(LIBSKS_COMMON) $(CURL_LIBS) $(CRYPTO_LIBS)

# Tests
# The address guard and the general request against https-server.py (Check);
# fetches for real in verify-fetch.sh (tools/local.mk).
check_PROGRAMS += tests/unit/check_fetch
tests_unit_check_fetch_SOURCES = tests/unit/check_fetch.c
tests_unit_check_fetch_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_fetch_LDADD = $(LIBSKS_FETCH) $(CHECK_LIBS)
TESTS += tests/unit/check_fetch

# The cache, driven by fetch_probe against a loopback HTTPS server.
check_PROGRAMS += tests/interop/fetch_probe
tests_interop_fetch_probe_SOURCES = tests/interop/fetch_probe.c
tests_interop_fetch_probe_CFLAGS = $(AM_CFLAGS) -pthread
tests_interop_fetch_probe_LDADD = $(LIBSKS_FETCH)
FETCH_TESTS = tests/integration/fetch-cache.sh
TESTS += $(FETCH_TESTS)
EXTRA_DIST += $(FETCH_TESTS)

# The x5u chain cache's figures: warm lookups of 1 URL against 1,000, a cold
# burst, and the heap its entries take against the cost it counts (make bench).
BENCH_BINS += tests/bench/bench_fetch_cache
tests_bench_bench_fetch_cache_SOURCES = tests/bench/bench_fetch_cache.c \
	tests/interop/interop.c tests/interop/interop.h
tests_bench_bench_fetch_cache_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_fetch_cache_LDADD = $(LIBSKS_VERIFY) $(LIBSKS_KEYSTORE)
EXTRA_DIST += tests/bench/bench_fetch_cache.sh
