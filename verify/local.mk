# verify: verification of an Identity header: the PASSporT, its signature
# and the credential against the certificate profile and trust roots.
noinst_LTLIBRARIES += verify/libsksverify.la
verify_libsksverify_la_SOURCES = verify/verify.c verify/verify.h
verify_libsksverify_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_VERIFY = verify/libsksverify.la $(LIBSKS_PROFILE)
