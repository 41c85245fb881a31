#!/bin/sh
# The x5u chain cache's figures (make bench, through bench_fetch_cache):
# the test PKI's chain at SKS_BENCH_URLS (default 1000) URLs of a loopback
# HTTPS server (tests/integration/https-server.py); SKS_BENCH_SECONDS
# (default 2) is the length of one warm measurement.  The server's own log
# counts the fetches of the cold burst.
. "$top_srcdir/tests/integration/common.sh"
: "${BENCH_FETCH:?run through bench_fetch_cache}"
n=${SKS_BENCH_URLS:-1000}
sks_mkwork
cd "$sks_work"
run_ok pki "$SKSCTL" pki --out pki --spc 1234 --days 30
mkdir www
cp pki/sp-1234-fullchain.pem www/cold.pem
i=1
while [ "$i" -le "$n" ]; do
    ln www/cold.pem "www/u$i.pem"
    i=$((i + 1))
done
https_server_start www
"$BENCH_FETCH" run "$https_ca" "https://localhost:$https_port" "$n" "${SKS_BENCH_SECONDS:-2}" ||
    fail "bench_fetch_cache run failed"
echo "FIGURE: fetch cache, cold burst: the server saw $(grep -c '"GET /cold.pem ' https-server.log)" \
    "request(s) for its URL"
