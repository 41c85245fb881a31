#!/bin/sh
# Every man page make installs renders without a troff warning ("cannot
# adjust line", unknown macros, ...) at the default width and at a narrow and
# a wide terminal's, and names no unsubstituted @dir@.
. "$top_srcdir/tests/integration/common.sh"

: "${SKS_MAN_PAGES:?SKS_MAN_PAGES is not set: run through make check}"
command -v groff >/dev/null 2>&1 || skip "groff is not installed (Debian: groff-base)"

for page in $SKS_MAN_PAGES; do
    file=$top_builddir/$page
    [ -f "$file" ] || file=$top_srcdir/$page
    [ -f "$file" ] || fail "$page is neither built nor in the source tree"
    if grep -n '@[a-z_]*@' "$file"; then
        fail "$page names a directory configure did not substitute"
    fi
    for width in "" -rLL=65n -rLL=100n; do
        # groff is not built for a sanitizer run's preloaded ASan runtime.
        # shellcheck disable=SC2086
        warnings=$(env -u LD_PRELOAD groff -man -Tutf8 -ww -z $width "$file" 2>&1)
        [ -z "$warnings" ] || fail "$page${width:+ ($width)}: $warnings"
    done
    pass "$page renders without warnings"
done
