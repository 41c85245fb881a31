# sksd, the STI-AS signing daemon: the signing API (ATIS-1000082), the SP-KMS
# import API, health and metrics over libmicrohttpd.  libsksd.la holds all of
# it but main(), so that tests and fuzzers link the daemon's own code.
noinst_LTLIBRARIES += sksd/libsksd.la
sksd_libsksd_la_SOURCES = sksd/sksd.h sksd/conf.c sksd/reply.c sksd/negotiate.c \
	sksd/body.c sksd/route.c sksd/listen.c sksd/tls.c sksd/signing.c \
	sksd/import.c sksd/auth.c sksd/metrics.c sksd/audit.c
sksd_libsksd_la_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
# The import API reads the client certificate from libmicrohttpd's GnuTLS
# session: sksd calls gnutls_certificate_get_peers() itself.
LIBSKSD = sksd/libsksd.la $(LIBSKS_KEYSTORE) $(MHD_LIBS) $(GNUTLS_LIBS) -lpthread

sbin_PROGRAMS += sksd/sksd
sksd_sksd_SOURCES = sksd/main.c
sksd_sksd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(GNUTLS_CFLAGS) -pthread
sksd_sksd_LDADD = $(LIBSKSD)

# What a system install of sksd needs besides the binary: its man page, the
# unit, an example configuration (never over an existing sks.conf: make
# install writes sks.conf.example only) and the sksd user and directories.
man_MANS += sksd/sksd.8
systemdsystemunit_DATA = sksd/sksd.service
shakensksconfdir = $(sysconfdir)/shaken-sks
shakensksconf_DATA = sksd/sks.conf.example
dist_sysusers_DATA = sksd/sysusers.d/sksd.conf
tmpfiles_DATA = sksd/tmpfiles.d/sksd.conf
SUBST_FILES += sksd/sksd.8 sksd/sksd.service sksd/sks.conf.example \
	sksd/tmpfiles.d/sksd.conf
sksd/sksd.8: $(srcdir)/sksd/sksd.8.in
sksd/sksd.service: $(srcdir)/sksd/sksd.service.in
sksd/sks.conf.example: $(srcdir)/sksd/sks.conf.example.in
sksd/tmpfiles.d/sksd.conf: $(srcdir)/sksd/tmpfiles.d/sksd.conf.in
