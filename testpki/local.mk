# testpki: a test STI-PA / STI-CA PKI for tests and demos.  Linked by sksctl
# and the tests only, never by sksd.
noinst_LTLIBRARIES += testpki/libskstestpki.la
testpki_libskstestpki_la_SOURCES = testpki/testpki.c testpki/testpki.h
testpki_libskstestpki_la_LIBADD = $(CRYPTO_LIBS)
LIBSKS_TESTPKI = testpki/libskstestpki.la $(LIBSKS_PROFILE)

# Tests
# The PKI it issues is checked against the certificate profile by
# tests/unit/check_profile and tests/integration/profile-pki.sh (profile/local.mk).
