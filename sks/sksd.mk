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
dist_man_MANS += sks/sksd/sksd.8
EXTRA_DIST += sks/sksd/sksd.service sks/sksd/sksd.conf.example
