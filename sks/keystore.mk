# The key store: SHAKEN identities and their key versions in a PKCS#11 token,
# and the configuration file sksctl and sksd share.
sks_libsks_la_SOURCES += sks/keystore.h sks/keystore_internal.h \
	sks/keystore.c sks/keystore_map.c sks/keystore_record.c sks/keystore_active.c \
	sks/keystore_import.c sks/keystore_wrap.c sks/keystore_generate.c \
	sks/keystore_rotate.c sks/keystore_slots.c sks/keystore_protect.c sks/keystore_json.c \
	sks/keystore_input.c sks/keystore_input.h \
	sks/conf.c sks/conf.h
