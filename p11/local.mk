# p11: the one PKCS#11 layer: modules through p11-kit, tokens, sessions, one
# call runner for recovery, and the typed templates of every object stored.
# Convenience libraries do not embed each other: programs list each one they use.
noinst_LTLIBRARIES += p11/libsksp11.la
p11_libsksp11_la_SOURCES = p11/p11.h p11/internal.h p11/module.c p11/ckr.c p11/call.c \
	p11/token.c p11/session.c p11/object.c p11/key.c p11/generate.c \
	p11/store.c p11/template.c p11/durable.c
p11_libsksp11_la_LIBADD = $(P11KIT_LIBS) $(CRYPTO_LIBS)
# What a program that uses the layer links, in link order.
LIBSKS_P11 = p11/libsksp11.la $(LIBSKS_COMMON) $(P11KIT_LIBS) $(CRYPTO_LIBS)

# Tests
# Every integration test goes through this layer against a SoftHSM2 token;
# its recovery from session loss, token removal and slow or failing calls is
# tested through p11fault, a module that fails on demand (tests/fault.mk).
