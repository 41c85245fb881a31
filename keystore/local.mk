# keystore: SHAKEN identities and their key versions held in a PKCS#11 token
# (generate, wrapped and PKCS#8 import, rotation, the signing cache), the
# decoding of the keys and certificates handed to it, and the configuration
# file sksctl and sksd share.
noinst_LTLIBRARIES += keystore/libskskeystore.la
keystore_libskskeystore_la_SOURCES = keystore/keystore.h keystore/internal.h \
	keystore/keystore.c keystore/map.c keystore/record.c keystore/active.c \
	keystore/import.c keystore/wrap.c keystore/generate.c keystore/rotate.c \
	keystore/slots.c keystore/protect.c keystore/json.c \
	keystore/input.c keystore/input.h keystore/keyload.c keystore/conf.c keystore/conf.h
keystore_libskskeystore_la_LIBADD = $(JANSSON_LIBS) $(CRYPTO_LIBS) $(P11KIT_LIBS)
LIBSKS_KEYSTORE = keystore/libskskeystore.la $(LIBSKS_PROFILE) $(LIBSKS_P11)
