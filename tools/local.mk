# sksctl, for HSM administrators and SP-KMS scripts: the token, the SHAKEN
# formats (sign, verify), the test PKI and certificate checks, key
# references and the key store's commands.
bin_PROGRAMS += sksctl
sksctl_SOURCES = tools/sksctl.c tools/sksctl.h tools/opts.c tools/opts.h tools/store.c \
	tools/cmd_token.c tools/cmd_pki.c tools/cmd_formats.c tools/cmd_import.c \
	tools/cmd_wrap.c tools/cmd_list.c tools/cmd_lifecycle.c tools/cmd_acme.c \
	tools/acme_shaken.c tools/acme_shaken.h
sksctl_LDADD = $(LIBSKS_ACME) $(LIBSKS_VERIFY) $(LIBSKS_FETCH) $(LIBSKS_TESTPKI) $(LIBSKS_KEYSTORE)
man_MANS += tools/sksctl.1
SUBST_FILES += tools/sksctl.1
tools/sksctl.1: $(srcdir)/tools/sksctl.1.in
# The renewal run (sksctl acme renew --all) and the timer that starts it twice a day.
systemdsystemunit_DATA += tools/sksctl-acme-renew.service tools/sksctl-acme-renew.timer
SUBST_FILES += tools/sksctl-acme-renew.service
tools/sksctl-acme-renew.service: $(srcdir)/tools/sksctl-acme-renew.service.in
EXTRA_DIST += tools/sksctl-acme-renew.timer

# Tests
# sksctl sign and verify with PEM keys and a test PKI, and with a token key
# through the sks provider; sksctl's key store commands are tested in
# keystore/local.mk.
TOOLS_TESTS = tests/integration/formats-sksctl.sh tests/integration/formats-token.sh \
	tests/integration/verify-fetch.sh tests/integration/rcd-sksctl.sh \
	tests/integration/div-sksctl.sh
TESTS += $(TOOLS_TESTS)
EXTRA_DIST += $(TOOLS_TESTS) tests/integration/https-server.py
