# libsks: the SHAKEN formats, the key store and what sksd and sksctl share.
# Each area of sks/ adds its sources in its own fragment.
noinst_LTLIBRARIES += sks/libsks.la
sks_libsks_la_SOURCES = sks/b64url.c sks/b64url.h sks/certs.c sks/certs.h
sks_libsks_la_LIBADD = \
	$(JANSSON_LIBS) $(CRYPTO_LIBS) $(P11KIT_LIBS)

include sks/formats.mk
include sks/profile.mk
include sks/keystore.mk
include sks/sksd.mk
