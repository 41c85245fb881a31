#!/bin/sh
# The modules' dependencies point one way, and this test reads every
# #include "dir/file.h" in the tree to hold them to it:
#
#   common <- p11 <- provider
#   common <- shaken <- profile <- verify, testpki, keystore <- sksd, tools
#   common <- fetch (the HTTPS client) <- verify (x5u chains), sksd, tools
#   acme (the ACME client and its SHAKEN parts) uses common shaken profile
#   fetch keystore p11; tools use acme
#   keystore also uses p11 but not fetch: the CRLs an activation checks come
#   from a source that sksd and sksctl hand it (fetch through verify's CRL
#   cache), so that the token code holds no network code and fetches nothing
#   under its locks; sksd never links testpki (test certificates are
#   made by sksctl and the tests); tools use every module but sksd and the
#   provider (they load it through OpenSSL); tests use any.
#
# A module's internal.h is its own (and its tests'): no other module
# includes it.  Nothing includes a .c file: code is shared by linking the
# module that owns it.  Prints TAP: one "ok" per module whose includes all
# point the right way, one "not ok" per include that does not; exits 1 if
# any include is wrong.  Run by make check and `make check-layering`.
set -eu

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$srcdir"

# Every *.c and *.h of the tree, build directories (a config.status marks
# them), the demo and version control left out.
files=$(
    for d in */; do
        d=${d%/}
        case $d in demo | autom4te.cache | build-aux | m4) continue ;; esac
        [ ! -f "$d/config.status" ] || continue
        find "$d" \( -name .git -o -name .deps -o -name .libs \) -prune -o \
            \( -name '*.c' -o -name '*.h' \) -type f -print
    done | LC_ALL=C sort
)
[ -n "$files" ] || { echo "Bail out! no C sources under $srcdir"; exit 1; }

# shellcheck disable=SC2086
awk '
BEGIN {
    # What each module may include besides itself and config.h.
    allowed["common"] = ""
    allowed["p11"] = "common"
    allowed["provider"] = "common p11"
    allowed["shaken"] = "common"
    allowed["profile"] = "common shaken"
    allowed["verify"] = "common shaken profile fetch"
    allowed["testpki"] = "common shaken profile"
    allowed["keystore"] = "common shaken profile p11"
    allowed["fetch"] = "common"
    allowed["acme"] = "common shaken profile fetch keystore p11"
    allowed["sksd"] = "common shaken profile verify fetch keystore p11"
    allowed["tools"] = "common shaken profile verify fetch testpki keystore p11 acme"
    allowed["tests"] = "*"
    order = "common p11 provider shaken profile verify fetch testpki keystore acme sksd tools tests"
    n = nbad = 0
}
function module_of(path) { sub("/.*", "", path); return path }
function may_use(from, to,    list, i, k) {
    if (from == to || allowed[from] == "*")
        return 1
    k = split(allowed[from], list, " ")
    for (i = 1; i <= k; i++)
        if (list[i] == to)
            return 1
    return 0
}
function wrong(msg) {
    n++
    printf "not ok %d - %s:%d: #include \"%s\": %s\n", n, FILENAME, FNR, target, msg
    if (!(from in bad))
        nbad++
    bad[from] = 1
}
FNR == 1 {
    from = module_of(FILENAME)
    seen[from] = 1
}
/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    target = $0
    sub("^[ \t]*#[ \t]*include[ \t]*[<\"]", "", target)
    sub("[>\"].*", "", target)
    if (target ~ /\.c$/) {
        wrong("a .c file is never included; link the module that owns it")
        next
    }
    if ($0 !~ /include[ \t]*"/ || target !~ /\//)
        next
    to = module_of(target)
    if (!(from in allowed))
        wrong("file outside every known module (add its folder to tests/check-layering.sh)")
    else if (!(to in allowed))
        wrong("\"" to "\" is not a module")
    else if (!may_use(from, to))
        wrong(from " may include only " (allowed[from] == "" ? "itself" : allowed[from]))
    else if (target ~ /(^|\/)internal\.h$/ && from != to && from != "tests")
        wrong(to "/internal.h is internal to " to " (and its tests)")
}
END {
    k = split(order, mods, " ")
    for (i = 1; i <= k; i++) {
        m = mods[i]
        if ((m in seen) && !(m in bad)) {
            n++
            if (allowed[m] == "*")
                printf "ok %d - %s may include any module\n", n, m
            else
                printf "ok %d - %s includes only %s\n", n, m,
                    (allowed[m] == "" ? "itself" : allowed[m] " and itself")
        }
    }
    printf "1..%d\n", n
    exit nbad > 0
}' $files
