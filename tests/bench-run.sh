#!/bin/sh
# Runs one benchmark program against a throwaway SoftHSM2 token.
set -eu
bench=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/sks-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
SKSCTL=$top_builddir/sksctl "$top_srcdir/softhsm-conf/mktoken.sh" "$work/token" sks-bench
. "$work/token/env"
export SKS_BENCH_DIR=$work
"$bench"
