bin_PROGRAMS += sksctl
sksctl_SOURCES = tools/sksctl.c tools/sksctl.h tools/cli.c \
	tools/cmd_token.c tools/cmd_keyref.c
sksctl_LDADD = sks/libsks.la p11/libsksp11.la common/libskscommon.la \
	$(JANSSON_LIBS) $(CRYPTO_LIBS) $(P11KIT_LIBS)
man_MANS += tools/sksctl.1
SUBST_FILES += tools/sksctl.1
tools/sksctl.1: $(srcdir)/tools/sksctl.1.in
