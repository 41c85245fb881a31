# SHAKEN certificate profile checks and the test STI-PA/STI-CA PKI.
sks_libsks_la_SOURCES += sks/profile.c sks/profile.h \
	sks/tnauthlist.c sks/tnauthlist.h \
	sks/testpki.c sks/testpki.h
