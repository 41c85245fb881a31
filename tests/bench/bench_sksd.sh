#!/bin/sh
# sksd's figures (make bench, through bench_sksd): signing requests/s with
# keep-alive from a second process on loopback, p50/p99 latency at half that
# rate, the ratio to raw PKCS#11 signing on the same token, and RSS after
# 1M requests against RSS after 10k.  When wrk is installed it measures too,
# in each of the same alternating rounds (bench_sksd's client runs a thread
# per connection and is the slower load generator on two cores); nothing
# depends on it.
#
# SKS_BENCH_SKSD_REQUESTS (default 1000000) sets the long run's length,
# SKS_BENCH_SECONDS (default 5) the length of one rate measurement and
# SKS_BENCH_ROUNDS (default 3) the number of API/raw rounds.
# SKS_BENCH_SKSD_ONLY=verification measures the verification API alone: no
# signing figures, no RSS run and no signing beside verification.
. "$top_srcdir/tests/integration/sksd-common.sh"
: "${BENCH_SKSD:?run through bench_sksd}"
# bench_sksd does what the scripts ask of sksd_client, which make bench does not build.
SKSD_CLIENT=$BENCH_SKSD
require_sksd
sksd_setup
sksd_start
only=${SKS_BENCH_SKSD_ONLY:-}
secs=${SKS_BENCH_SECONDS:-5}
rounds=${SKS_BENCH_ROUNDS:-3}
long=${SKS_BENCH_SKSD_REQUESTS:-1000000}
cores=$(nproc 2>/dev/null || echo 2)
conns=$((cores * 4))
figure() { echo "FIGURE: sksd $*"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$sksd_pid/status"; }

signing_figures() {
    v=$(provision_version sp-main activate)
    # Warm-up, then the RSS baseline after 10k requests.
    "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" 10000 "$conns" > "$sks_work/warm.out" ||
        { cat "$sks_work/warm.out"; fail "warm-up failed"; }
    rss_10k=$(rss)

    # Throughput against the raw PKCS#11 baseline (same token and key, one thread
    # per core), in alternating rounds so that a busy machine slows both alike;
    # each figure is the median of the rounds.
    probe=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/warm.out")
    n=$((probe * secs))
    done_requests=0
    : > "$sks_work/rounds"
    have_wrk=
    if command -v wrk >/dev/null 2>&1; then
        have_wrk=1
        cat > "$sks_work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}'
LUA
    fi
    # wrk_rate: requests/s from a wrk run of $secs seconds (0 when any answer was not 2xx).
    wrk_rate() {
        wrk -t "$cores" -c "$conns" -d "${secs}s" --latency -s "$sks_work/post.lua" \
            "http://127.0.0.1:$sksd_port/stir/v1/signing" > "$sks_work/wrk.out" 2>&1 || true
        if grep -q 'Non-2xx' "$sks_work/wrk.out"; then
            echo 0
        else
            sed -n 's/^Requests\/sec: *\([0-9]*\).*/\1/p' "$sks_work/wrk.out"
        fi
    }
    r=1
    while [ "$r" -le "$rounds" ]; do
        "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" "$n" "$conns" > "$sks_work/max$r.out" ||
            { cat "$sks_work/max$r.out"; fail "throughput round $r failed"; }
        "$BENCH_SKSD" raw "sp-main/$v" "$cores" "$secs" > "$sks_work/raw$r.out" ||
            { cat "$sks_work/raw$r.out"; fail "raw PKCS#11 round $r failed"; }
        api=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/max$r.out")
        raw=$(sed -n 's/^raw_rate=\([0-9]*\).*/\1/p' "$sks_work/raw$r.out")
        wrk=0
        [ -z "$have_wrk" ] || wrk=$(wrk_rate)
        echo "$api $raw $(awk -v a="$api" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')" \
            "$wrk $(awk -v a="$wrk" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')" >> "$sks_work/rounds"
        figure "round $r: API $api requests/s, raw PKCS#11 $raw signatures/s, ratio $(tail -n 1 "$sks_work/rounds" | cut -d' ' -f3)$([ -z "$have_wrk" ] || echo "; wrk $wrk requests/s, ratio $(tail -n 1 "$sks_work/rounds" | cut -d' ' -f5)")"
        done_requests=$((done_requests + n))
        r=$((r + 1))
    done
    median() { cut -d' ' -f"$1" "$sks_work/rounds" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    max=$(median 1)
    figure "keep-alive throughput ($conns connections, $cores cores shared with the client): $max requests/s (median)"
    figure "raw PKCS#11 ES256 on the same token ($cores threads): $(median 2) signatures/s (median)"
    figure "API / raw PKCS#11: $(median 3) (median of the rounds)"

    if [ -n "$have_wrk" ]; then
        figure "wrk ($cores threads, $conns connections): $(median 4) requests/s (median); API (wrk) / raw PKCS#11: $(median 5)"
        figure "wrk latency in the last round: p50 $(sed -n 's/^ *50% *//p' "$sks_work/wrk.out"), p99 $(sed -n 's/^ *99% *//p' "$sks_work/wrk.out")$(grep 'Non-2xx' "$sks_work/wrk.out" | sed 's/^/, /')"
    else
        figure "wrk not installed: throughput from bench_sksd's own load generator only"
    fi
    # Latency at half the throughput, paced.
    half=$((max / 2))
    "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" $((half * secs)) "$conns" "$half" > "$sks_work/half.out" ||
        { cat "$sks_work/half.out"; fail "the half-rate run failed"; }
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; }
    figure "latency at $half requests/s, from each request's send: p50 $(field sent_p50_us "$sks_work/half.out") us, p99 $(field sent_p99_us "$sks_work/half.out") us"
    figure "latency at $half requests/s, from when each was due (a client that falls behind counts): p50 $(field p50_us "$sks_work/half.out") us, p99 $(field p99_us "$sks_work/half.out") us"

    # RSS: after 10k requests, then after $long in all.
    "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" $((long - 10000 - done_requests - half * secs)) "$conns" \
        > "$sks_work/long.out" || { cat "$sks_work/long.out"; fail "the long run failed"; }
    rss_long=$(rss)
    figure "RSS after 10k requests: $rss_10k kB; after $long: $rss_long kB ($(awk -v a="$rss_long" -v b="$rss_10k" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }'))"
    [ $((rss_long * 100)) -le $((rss_10k * 110)) ] || fail "RSS grew more than 10% over $long requests"
}

[ "$only" = verification ] || signing_figures

# ---- verification (POST /stir/v1/verification) ---------------------------------

# sksd again with [verify], the x5u on a loopback STI-CR; an identity whose
# x5u is there signs one PASSporT, which every verification request carries
# (warm cache: one fetch, then lookups).  max_age 3600 keeps it fresh for the
# whole run.
sksd_kill
sksd_verify_on "max_age = 3600"
sksd_start
vv=$(provision_version sp-verify activate)
publish sp-verify "$vv"
code=$(sign verify-pp '{"signingRequest":{"attest":"A","dest":{"tn":["12155550131"]},"orig":{"tn":"12155550121"}}}' '?identity=sp-verify')
[ "$code" = 200 ] || { cat "$sks_work/verify-pp.json"; fail "signing the verification PASSporT: $code"; }
printf '{"verificationRequest":{"from":{"tn":"12155550121"},"to":{"tn":["12155550131"]},"identity":"%s"}}' \
    "$(json "$sks_work/verify-pp.json" signingResponse.identity)" > "$sks_work/verify.body"
"$BENCH_SKSD" verify-load 127.0.0.1 "$sksd_port" 2000 "$conns" "$sks_work/verify.body" \
    > "$sks_work/vwarm.out" || { cat "$sks_work/vwarm.out"; fail "verification warm-up failed"; }
vprobe=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/vwarm.out")
: > "$sks_work/vrounds"
r=1
while [ "$r" -le "$rounds" ]; do
    "$BENCH_SKSD" verify-load 127.0.0.1 "$sksd_port" $((vprobe * secs)) "$conns" "$sks_work/verify.body" \
        > "$sks_work/vmax$r.out" || { cat "$sks_work/vmax$r.out"; fail "verification round $r failed"; }
    "$BENCH_SKSD" raw-verify "$cores" "$secs" > "$sks_work/rawv$r.out" || fail "raw verify round $r"
    api=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/vmax$r.out")
    raw=$(sed -n 's/^raw_verify_rate=\([0-9]*\).*/\1/p' "$sks_work/rawv$r.out")
    echo "$api $raw $(awk -v a="$api" -v b="$raw" 'BEGIN { printf "%.2f", a / b }')" >> "$sks_work/vrounds"
    figure "verification round $r: API $api requests/s, raw OpenSSL ES256 verify $raw/s, ratio $(tail -n 1 "$sks_work/vrounds" | cut -d' ' -f3)"
    r=$((r + 1))
done
vmedian() { cut -d' ' -f"$1" "$sks_work/vrounds" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
figure "verification, warm cache ($conns connections, $cores cores shared with the client): $(vmedian 1) requests/s; raw OpenSSL ES256 verify ($cores threads): $(vmedian 2)/s; API / raw: $(vmedian 3) (medians)"
fetched=$(grep -c "GET /sp-verify-$vv.pem" "$sks_work/https-server.log")
figure "verification: $fetched fetch(es) of the x5u for all the rounds"

mixed_figures() {
    # Signing with and without a verification load beside it: alternating
    # rounds, the verification load at half its rate for the signing round's
    # length.
    : > "$sks_work/mixed"
    vhalf=$(($(vmedian 1) / 2))
    r=1
    while [ "$r" -le "$rounds" ]; do
        "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" $((max * secs)) "$conns" > "$sks_work/alone$r.out" ||
            { cat "$sks_work/alone$r.out"; fail "signing alone, round $r"; }
        "$BENCH_SKSD" verify-load 127.0.0.1 "$sksd_port" $((vhalf * secs)) "$conns" "$sks_work/verify.body" "$vhalf" \
            > "$sks_work/beside$r.out" 2>&1 &
        vpid=$!
        "$BENCH_SKSD" load 127.0.0.1 "$sksd_port" $((max * secs)) "$conns" > "$sks_work/mixed$r.out" ||
            { cat "$sks_work/mixed$r.out"; fail "signing beside verification, round $r"; }
        wait "$vpid" || { cat "$sks_work/beside$r.out"; fail "the verification load beside signing, round $r"; }
        alone=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/alone$r.out")
        mixed=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/mixed$r.out")
        beside=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$sks_work/beside$r.out")
        echo "$alone $mixed $(awk -v a="$mixed" -v b="$alone" 'BEGIN { printf "%.2f", a / b }') $beside" >> "$sks_work/mixed"
        r=$((r + 1))
    done
    mmedian() { cut -d' ' -f"$1" "$sks_work/mixed" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    figure "signing alone $(mmedian 1) requests/s; beside a verification load paced at $vhalf/s (it reached $(mmedian 4)/s): $(mmedian 2) requests/s; ratio $(mmedian 3) (medians; the two share $cores cores and the load generators)"
}

[ "$only" = verification ] || mixed_figures
