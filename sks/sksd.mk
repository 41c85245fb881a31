# sksd, the STI-AS signing daemon (sks/sksd/): signing API, SP-KMS import API,
# health and metrics over libmicrohttpd.
sbin_PROGRAMS += sksd
sksd_SOURCES = sks/sksd/sksd.h sks/sksd/main.c sks/sksd/conf.c sks/sksd/http.c \
	sks/sksd/signing.c sks/sksd/import.c sks/sksd/auth.c sks/sksd/metrics.c \
	sks/sksd/audit.c
sksd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
# The import API reads the client certificate from libmicrohttpd's GnuTLS
# session: sksd calls gnutls_certificate_get_peers() itself.
sksd_LDADD = sks/libsks.la p11/libsksp11.la common/libskscommon.la \
	$(MHD_LIBS) $(GNUTLS_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS) $(P11KIT_LIBS) -lpthread

# What a system install of sksd needs besides the binary: its man page, the
# unit, an example configuration (never over an existing sks.conf: make
# install writes sks.conf.example only) and the sksd user and directories.
man_MANS += sks/sksd/sksd.8
systemdsystemunit_DATA = sks/sksd/sksd.service
shakensksconfdir = $(sysconfdir)/shaken-sks
shakensksconf_DATA = sks/sksd/sks.conf.example
dist_sysusers_DATA = sks/sksd/sysusers.d/sksd.conf
tmpfiles_DATA = sks/sksd/tmpfiles.d/sksd.conf
SUBST_FILES += sks/sksd/sksd.8 sks/sksd/sksd.service sks/sksd/sks.conf.example \
	sks/sksd/tmpfiles.d/sksd.conf
sks/sksd/sksd.8: $(srcdir)/sks/sksd/sksd.8.in
sks/sksd/sksd.service: $(srcdir)/sks/sksd/sksd.service.in
sks/sksd/sks.conf.example: $(srcdir)/sks/sksd/sks.conf.example.in
sks/sksd/tmpfiles.d/sksd.conf: $(srcdir)/sks/sksd/tmpfiles.d/sksd.conf.in
