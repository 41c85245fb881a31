noinst_LTLIBRARIES += common/libskscommon.la
LIBSKS_COMMON = common/libskscommon.la
common_libskscommon_la_SOURCES = common/error.c common/error.h common/keyref.c common/keyref.h common/p256.h
