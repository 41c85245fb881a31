#!/bin/sh
# make fuzz-run: every fuzz target given as an argument for FUZZ_SECONDS
# from its seed corpus in $top_srcdir/tests/fuzz/corpus/<name without
# fuzz_>, FUZZ_JOBS of them at once.  New inputs go to scratch directories,
# crashes to fuzz-crashes/.  Each target's figures are printed when it ends;
# the run fails if any target crashed or could not run.
set -eu
: "${top_srcdir:?}" "${FUZZ_SECONDS:?}" "${FUZZ_JOBS:=1}"
mkdir -p fuzz-crashes
export top_srcdir FUZZ_SECONDS

# One target, its output held back until it ends so that targets running
# together do not interleave.
one() {
    name=$(basename "$1")
    work=$(mktemp -d)
    st=0
    "./$1" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        -artifact_prefix="fuzz-crashes/$name-" "$work" \
        "$top_srcdir/tests/fuzz/corpus/${name#fuzz_}" > "$work.log" 2>&1 || st=$?
    echo "== $name for $FUZZ_SECONDS s"
    tail -n 12 "$work.log"
    rm -rf "$work" "$work.log"
    [ "$st" -eq 0 ] || { echo "$name failed (exit status $st)"; return 1; }
}

if [ "${1:-}" = --one ]; then
    one "$2"
    exit
fi
[ "$#" -gt 0 ] || { echo "no fuzz targets: configure with --enable-fuzzing CC=clang" >&2; exit 1; }
st=0
printf '%s\n' "$@" | xargs -P "$FUZZ_JOBS" -n 1 sh "$0" --one || st=$?
if ls fuzz-crashes/* >/dev/null 2>&1; then
    echo "crashes in fuzz-crashes/:" >&2
    ls fuzz-crashes >&2
    exit 1
fi
exit "$st"
