# profile: the SHAKEN certificate profile (ATIS-1000080), the TNAuthList
# extension (RFC 8226) and certificate bundles.  Depends on shaken/ and common/.
noinst_LTLIBRARIES += profile/libsksprofile.la
profile_libsksprofile_la_SOURCES = profile/profile.c profile/profile.h \
	profile/tnauthlist.c profile/tnauthlist.h profile/certs.c profile/certs.h
profile_libsksprofile_la_LIBADD = $(CRYPTO_LIBS)
LIBSKS_PROFILE = profile/libsksprofile.la $(LIBSKS_SHAKEN)
