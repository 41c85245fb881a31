# shaken: the SHAKEN formats: TNs, base64url, PASSporT claims and their ES256
# signature, and the SIP Identity header.  Depends on common/ only.
noinst_LTLIBRARIES += shaken/libsksshaken.la
shaken_libsksshaken_la_SOURCES = shaken/b64url.c shaken/b64url.h shaken/tn.c shaken/tn.h \
	shaken/passport.c shaken/passport.h shaken/passport_claims.c shaken/passport_es256.c \
	shaken/identity.c shaken/identity.h shaken/rules.c shaken/rules.h \
	shaken/rcd.c shaken/rcd.h
shaken_libsksshaken_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_SHAKEN = shaken/libsksshaken.la $(LIBSKS_COMMON) $(JANSSON_LIBS) $(CRYPTO_LIBS)

# Tests
# TNs and PASSporT encoding.  check_passport links the key store's key loader so that
# SKS_TEST_KEY=pkcs11:... signs with a token key (tests/integration/formats-token.sh).
check_PROGRAMS += tests/unit/check_tn tests/unit/check_passport
tests_unit_check_tn_SOURCES = tests/unit/check_tn.c
tests_unit_check_tn_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_tn_LDADD = $(LIBSKS_VERIFY) $(LIBSKS_TESTPKI) $(CHECK_LIBS)
tests_unit_check_passport_SOURCES = tests/unit/check_passport.c
tests_unit_check_passport_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_passport_LDADD = $(LIBSKS_VERIFY) $(LIBSKS_TESTPKI) $(CHECK_LIBS) $(LIBSKS_KEYSTORE)
TESTS += tests/unit/check_tn tests/unit/check_passport
# Rich Call Data; links the verifier for a PASSporT of type rcd signed and verified.
check_PROGRAMS += tests/unit/check_rcd
tests_unit_check_rcd_SOURCES = tests/unit/check_rcd.c
tests_unit_check_rcd_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_rcd_LDADD = $(LIBSKS_VERIFY) $(CHECK_LIBS)
TESTS += tests/unit/check_rcd
