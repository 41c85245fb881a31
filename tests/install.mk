# Tests of what a user gets from the tree: the installed layout (make install
# into a DESTDIR), the man pages as troff renders them, and the README's
# commands run as written on a copy of the tree.
INSTALL_TESTS = \
	tests/integration/install-destdir-layout.sh \
	tests/integration/man-pages-render-without-warnings.sh \
	tests/integration/readme-walk.sh
TESTS += $(INSTALL_TESTS)
EXTRA_DIST += $(INSTALL_TESTS)
AM_TESTS_ENVIRONMENT += \
	MAKE='$(MAKE)'; export MAKE; \
	SKS_MAN_PAGES='$(man_MANS) $(dist_man_MANS)'; export SKS_MAN_PAGES;
