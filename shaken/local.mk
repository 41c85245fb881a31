# shaken: the SHAKEN formats: TNs, base64url, PASSporT claims and their ES256
# signature, and the SIP Identity header.  Depends on common/ only.
noinst_LTLIBRARIES += shaken/libsksshaken.la
shaken_libsksshaken_la_SOURCES = shaken/b64url.c shaken/b64url.h shaken/tn.c shaken/tn.h \
	shaken/passport.c shaken/passport.h shaken/passport_claims.c shaken/passport_es256.c \
	shaken/identity.c shaken/identity.h shaken/rules.c shaken/rules.h
shaken_libsksshaken_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS)
LIBSKS_SHAKEN = shaken/libsksshaken.la $(LIBSKS_COMMON) $(JANSSON_LIBS) $(CRYPTO_LIBS)
