# provider: sks, the OpenSSL 3 provider: pkcs11: URIs and key-reference PEM
# files load token-held P-256 keys, and ECDSA runs in the token.
modulesdir = @modulesdir@
modules_LTLIBRARIES += provider/sks.la
provider_sks_la_SOURCES = provider/prov.c provider/prov.h provider/store.c \
	provider/decoder.c provider/keymgmt.c provider/signature.c
provider_sks_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-export-symbols-regex '^OSSL_provider_init$$'
provider_sks_la_LIBADD = $(LIBSKS_P11)
dist_man_MANS += doc/provider-sks.7

# Tests
# The openssl CLI, key-reference PEM files,
# libjwt, pkcs11-tool and libp11 interop, concurrency and bad input, each
# against a SoftHSM2 token the test makes itself (tests/integration/common.sh).

# Test drivers that do what applications do with a token key.
INTEROP_COMMON = tests/interop/interop.c tests/interop/interop.h

check_PROGRAMS += tests/interop/keyref_sign tests/interop/key_params \
	tests/interop/sign_threads tests/interop/sign_fork
tests_interop_keyref_sign_SOURCES = tests/interop/keyref_sign.c $(INTEROP_COMMON)
tests_interop_keyref_sign_LDADD = $(CRYPTO_LIBS)
tests_interop_key_params_SOURCES = tests/interop/key_params.c $(INTEROP_COMMON)
tests_interop_key_params_LDADD = $(CRYPTO_LIBS)
tests_interop_sign_threads_SOURCES = tests/interop/sign_threads.c $(INTEROP_COMMON)
tests_interop_sign_threads_CFLAGS = $(AM_CFLAGS) -pthread
tests_interop_sign_threads_LDADD = $(CRYPTO_LIBS) -lpthread
tests_interop_sign_fork_SOURCES = tests/interop/sign_fork.c $(INTEROP_COMMON)
tests_interop_sign_fork_LDADD = $(CRYPTO_LIBS)

if HAVE_LIBJWT
check_PROGRAMS += tests/interop/jwt_passport
tests_interop_jwt_passport_SOURCES = tests/interop/jwt_passport.c $(INTEROP_COMMON) \
	shaken/b64url.c shaken/b64url.h
tests_interop_jwt_passport_CFLAGS = $(AM_CFLAGS) $(LIBJWT_CFLAGS)
tests_interop_jwt_passport_LDADD = $(LIBJWT_LIBS) $(CRYPTO_LIBS)
endif

PROVIDER_TESTS = \
	tests/integration/provider-openssl-cli.sh \
	tests/integration/provider-keyref-pem.sh \
	tests/integration/provider-libjwt-passport.sh \
	tests/integration/provider-interop-pkcs11-tool-libp11.sh \
	tests/integration/provider-concurrent-signing.sh \
	tests/integration/provider-bad-input-errors.sh \
	tests/integration/provider-p11kit-proxy.sh \
	tests/integration/provider-keyref-errors.sh \
	tests/integration/provider-p11kit-remote.sh
TESTS += $(PROVIDER_TESTS)
EXTRA_DIST += $(PROVIDER_TESTS)

# ES256 signing throughput: raw PKCS#11, the sks provider, OpenSSL's default
# provider and libp11's engine (make bench).
BENCH_BINS += tests/bench/bench_sign
tests_bench_bench_sign_SOURCES = tests/bench/bench_sign.c
tests_bench_bench_sign_CFLAGS = $(AM_CFLAGS) -pthread
tests_bench_bench_sign_LDADD = $(LIBSKS_P11) -lpthread
