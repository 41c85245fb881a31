modulesdir = @modulesdir@
modules_LTLIBRARIES += provider/sks.la
provider_sks_la_SOURCES = provider/prov.c provider/prov.h provider/store.c \
	provider/decoder.c provider/keymgmt.c provider/signature.c
provider_sks_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-export-symbols-regex '^OSSL_provider_init$$'
provider_sks_la_LIBADD = $(LIBSKS_P11)
dist_man_MANS += doc/provider-sks.7
