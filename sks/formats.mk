# PASSporT, Identity header and verification (sks/passport.c and friends).
sks_libsks_la_SOURCES += sks/tn.c sks/tn.h \
	sks/passport.c sks/passport.h sks/passport_claims.c sks/passport_es256.c \
	sks/verify.c sks/verify.h sks/verify_identity.c
