# fetch: the project's one HTTPS client (libcurl): https only, TLS verified,
# bounded in bytes and time, and no connection to a non-public address.
noinst_LTLIBRARIES += fetch/libsksfetch.la
fetch_libsksfetch_la_SOURCES = fetch/fetch.c fetch/fetch.h
fetch_libsksfetch_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
fetch_libsksfetch_la_LIBADD = $(LIBSKS_COMMON) $(CURL_LIBS)
LIBSKS_FETCH = fetch/libsksfetch.la
