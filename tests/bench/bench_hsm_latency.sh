#!/bin/sh
# sksd and the provider on a token as slow as a network HSM (make bench,
# through bench_hsm_latency).  tests/p11fault in front of SoftHSM2 delays
# every C_Sign; all figures come from one run, in alternating rounds, each
# the median of its rounds:
#
#   1. sksd, default configuration, C_Sign delayed 0, 1, 2 and 5 ms:
#      requests/s with 64 keep-alive connections, p50/p99 at half that rate,
#      and the ratio to min(rate at no delay, sessions / delay), sessions
#      being the hsm_sessions sksd reports in /metrics, and the ratio to
#      min(that rate, sessions / the token's mean C_Sign as sksd timed it:
#      the delay plus the signature itself and the wake-up); with
#      SKS_BENCH_BASELINE_SKSD (an sksd built from an earlier commit) also
#      the no-delay rate of the current sksd against that one;
#   2. the sks provider, 8 threads, C_Sign delayed 2 ms, against 8 / delay;
#   3. 2 sksd replicas behind HAProxy against 1 sksd, C_Sign delayed 2 ms,
#      4 token sessions each;
#   4. sksd through p11-kit remoting (p11-kit server + p11-kit-client.so)
#      against sksd on the token directly, no delay, once for each entry of
#      SKS_BENCH_REMOTE_SESSIONS (default "default 32": the hsm_sessions
#      sksd chooses for p11-kit-client.so, then 32 configured);
#   5. /metrics scrapes per second with SKS_BENCH_IDENTITIES identities
#      against 10.
#
# SKS_BENCH_SECONDS (default 3) sets the length of one measurement,
# SKS_BENCH_ROUNDS (default 3) the number of rounds,
# SKS_BENCH_IDENTITIES (default 300) the large key store of 5: above the
# 100 identities /metrics lists one by one, so the scrape is the same summary
# at any size.  The default is what SoftHSM2 can make in minutes: its file
# object store reads every object file again on each C_FindObjectsInit,
# C_CreateObject and C_SetAttributeValue, so making n identities costs n^2
# (200 took 50 s here; 10,000 would take about a day and a half), and
# Debian's SoftHSM2 has no other store.  On a real HSM, set 10000.
#
# SKS_BENCH_CASES (default "1 1b 2 3 4 5") selects the cases.
. "$top_srcdir/tests/integration/sksd-common.sh"
: "${BENCH_HSM:?run through bench_hsm_latency}"
BENCH_SKSD=$top_builddir/tests/bench/bench_sksd
# The scripts' JSON and attach-body needs, from a program make bench builds.
SKSD_CLIENT=$BENCH_SKSD
[ -x "$BENCH_SKSD" ] || fail "bench_sksd is not built"
require_sksd
secs=${SKS_BENCH_SECONDS:-3}
rounds=${SKS_BENCH_ROUNDS:-3}
big=${SKS_BENCH_IDENTITIES:-300}
conns=64
cases=${SKS_BENCH_CASES:-1 1b 2 3 4 5}
figure() { echo "FIGURE: hsm $*"; }
# wanted N: whether case N is among $cases.
wanted() { case " $cases " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

sksd_setup
direct_conf=$(replica_conf "$sks_work/sks.conf" direct)
sksd_use_p11fault
sksd_start
provision_version sp-main activate > /dev/null
# direct_sksd: a second sksd on the token without p11fault in between,
# started once; sets $direct_port.
direct_port=
direct_sksd() {
    [ -z "$direct_port" ] || return 0
    replica_start direct "$direct_conf"
    direct_port=$replica_port
}
# hsm_time: the sum (s) and count of sksd's sksd_hsm_sign_latency_seconds.
hsm_time() {
    curl -sS "http://127.0.0.1:$sksd_port/metrics" | awk '
        /^sksd_hsm_sign_latency_seconds_sum / { s = $2 }
        /^sksd_hsm_sign_latency_seconds_count / { n = $2 }
        END { print s + 0, n + 0 }'
}
# delay MS: every C_Sign of every process on the token waits MS ms (0: none).
delay() {
    if [ "$1" = 0 ]; then p11fault_control; else p11fault_control "delay C_Sign ${1}ms"; fi
    sleep 0.1
}
# alternate A B: $rounds rounds of measurement A, then B (shell functions
# taking the round number and printing a rate); sets $med_a and $med_b.
alternate() {
    : > "$sks_work/$1"
    : > "$sks_work/$2"
    r=1
    while [ "$r" -le "$rounds" ]; do
        "$1" "$r" >> "$sks_work/$1"
        "$2" "$r" >> "$sks_work/$2"
        r=$((r + 1))
    done
    med_a=$(median < "$sks_work/$1")
    med_b=$(median < "$sks_work/$2")
}
# load NAME PORT REQUESTS [RATE]: signing requests; prints the rate.
load() {
    "$BENCH_SKSD" load 127.0.0.1 "$2" "$3" "$conns" ${4:-} > "$sks_work/$1.out" ||
        { cat "$sks_work/$1.out"; fail "$1 failed"; }
    field rate "$sks_work/$1.out"
}
# timed NAME PORT RATE-GUESS: a load of about $secs seconds at RATE-GUESS.
timed() {
    load "$1" "$2" $(( $3 * secs > 200 ? $3 * secs : 200 ))
}

# ---- 1. sksd with C_Sign delayed 0, 1, 2, 5 ms ----------------------------
case1() {
    delays="0 1 2 5"
    for d in $delays; do
        delay "$d"
        eval "guess_$d=\$(load probe$d $sksd_port 400)"
        : > "$sks_work/rate$d"
        : > "$sks_work/hsm$d"
    done
    r=1
    while [ "$r" -le "$rounds" ]; do
        for d in $delays; do
            delay "$d"
            eval "g=\$guess_$d"
            b=$(hsm_time)
            timed "d$d-$r" "$sksd_port" "$g" >> "$sks_work/rate$d"
            echo "$b $(hsm_time)" >> "$sks_work/hsm$d"
        done
        r=$((r + 1))
    done
    rate0=$(median < "$sks_work/rate0")
    sessions=$(curl -sS "http://127.0.0.1:$sksd_port/metrics" | sed -n 's/^sksd_hsm_sessions //p')
    [ -n "$sessions" ] || fail "/metrics does not say sksd_hsm_sessions"
    threads=$(nproc 2>/dev/null || echo 2)
    for d in $delays; do
        delay "$d"
        rate=$(median < "$sks_work/rate$d")
        # The token's own C_Sign as sksd timed it over the rounds: the delay
        # plus SoftHSM's signature and the wake-up of the thread that slept.
        c_sign=$(awk '{ s += $3 - $1; n += $4 - $2 } END { if (n > 0) printf "%.3f", s * 1000 / n }' \
            "$sks_work/hsm$d")
        half=$((rate / 2))
        load "half$d" "$sksd_port" $((half * secs > 100 ? half * secs : 100)) "$half" > /dev/null
        lat="p50 $(field sent_p50_us "$sks_work/half$d.out") us, p99 $(field sent_p99_us "$sks_work/half$d.out") us"
        if [ "$d" = 0 ]; then
            figure "sksd, C_Sign not delayed: $rate requests/s (median of $rounds); at $half/s: $lat"
        else
            target=$(awk -v a="$rate0" -v s="$sessions" -v d="$d" 'BEGIN { t = s * 1000 / d; printf "%d", t < a ? t : a }')
            bound=$(awk -v a="$rate0" -v s="$sessions" -v c="$c_sign" 'BEGIN { t = s * 1000 / c; printf "%d", t < a ? t : a }')
            figure "sksd, C_Sign delayed $d ms: $rate requests/s (median of $rounds); at $half/s: $lat;" \
                "ratio to min($rate0, $sessions sessions / $d ms) = $target: $(ratio "$rate" "$target")" \
                "(its $threads HTTP workers signing alone: $((threads * 1000 / d)));" \
                "the token's mean C_Sign $c_sign ms, min($rate0, $sessions / that) = $bound: $(ratio "$rate" "$bound")"
        fi
    done

}
if wanted 1; then case1; fi

# ---- 1b. the no-delay rate against an earlier sksd -------------------------
case1b() {
    if [ -n "${SKS_BENCH_BASELINE_SKSD:-}" ]; then
        delay 0
        [ -n "${guess_0:-}" ] || guess_0=$(load probe0 "$sksd_port" 400)
        cur_sksd=$SKSD
        SKSD=$SKS_BENCH_BASELINE_SKSD
        replica_start baseline "$(replica_conf "$sks_work/sks.conf" baseline)"
        SKSD=$cur_sksd
        base_port=$replica_port
        current() { timed "cur$1" "$sksd_port" "$guess_0"; }
        baseline() { timed "base$1" "$base_port" "$guess_0"; }
        alternate current baseline
        figure "sksd, C_Sign not delayed: $med_a requests/s against $med_b of $SKS_BENCH_BASELINE_SKSD" \
            "(median of $rounds alternating rounds): $(ratio "$med_a" "$med_b")"
        kill "$replica_pid" 2>/dev/null || true
    fi
}
if wanted 1b; then case1b; fi

# ---- 2. the provider, 8 threads, C_Sign delayed 2 ms ------------------------
case2() {
    prov_uri=$(keygen bench-provider 0c)
    write_openssl_cnf "$sks_work/provider.cnf"
    sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $P11FAULT_SO|" "$sks_work/provider.cnf"
    delay 2
    : > "$sks_work/provider"
    r=1
    while [ "$r" -le "$rounds" ]; do
        OPENSSL_CONF=$sks_work/provider.cnf "$BENCH_HSM" provider "$prov_uri" 8 "$secs" \
            > "$sks_work/provider$r.out" 2>&1 || { cat "$sks_work/provider$r.out"; fail "provider round $r"; }
        sed -n 's/^provider_rate=\([0-9]*\).*/\1/p' "$sks_work/provider$r.out" >> "$sks_work/provider"
        r=$((r + 1))
    done
    prov=$(median < "$sks_work/provider")
    figure "sks provider, 8 threads, C_Sign delayed 2 ms: $prov signatures/s (median of $rounds);" \
        "ratio to 8 / 2 ms = 4000: $(ratio "$prov" 4000)"

}
if wanted 2; then case2; fi

# ---- 3. 2 replicas behind HAProxy against 1 sksd, C_Sign delayed 2 ms --------
case3() {
    # Replicas add token sessions, not cores: each gets hsm_sessions = 4, so that
    # one is bound by the token (4 / 2 ms = 2000/s), not by the CPUs it shares
    # with the other, HAProxy and the load generator.
    delay 2
    sed "s|^\[sksd_limits\]\$|[sksd_limits]\\
hsm_sessions = 4|" "$sks_work/sks.conf" > "$sks_work/replica.in"
    replica_start replica1 "$(replica_conf "$sks_work/replica.in" replica1)"
    one_port=$replica_port
    replica_start replica2 "$(replica_conf "$sks_work/replica.in" replica2)"
    haproxy_start "$one_port" "$replica_port"
    for port in "$one_port" "$replica_port"; do
        curl -sS "http://127.0.0.1:$port/metrics" | grep -q '^sksd_hsm_sessions 4$' ||
            fail "the replica on port $port does not sign on 4 token sessions"
    done
    g=2000
    one() { timed "one$1" "$one_port" "$g"; }
    two() { timed "two$1" "$haproxy_port" $((g * 2)); }
    alternate one two
    figure "C_Sign delayed 2 ms, hsm_sessions = 4 each: 1 sksd $med_a requests/s, 2 replicas" \
        "behind HAProxy $med_b requests/s (medians of $rounds): ratio $(ratio "$med_b" "$med_a")"
    delay 0

}
if wanted 3; then case3; fi

# ---- 4. p11-kit remoting against the token directly, no delay ---------------
case4() {
    direct_sksd
    if find_p11kit_client; then
        p11kit_server_start p11kit "pkcs11:token=$SKS_TOKEN_LABEL"
        sed "s|^pkcs11_module = .*|pkcs11_module = $P11KIT_CLIENT|" "$direct_conf" > "$sks_work/remote.in"
        dg=$(load probe-direct "$direct_port" 400)
        direct() { timed "direct$1" "$direct_port" "$dg"; }
        remote() { timed "remote$1" "$remote_port" "$dg"; }
        for n in ${SKS_BENCH_REMOTE_SESSIONS:-default 32}; do
            if [ "$n" = default ]; then
                cp "$sks_work/remote.in" "$sks_work/remote-$n.in"
            else
                sed "s|^\\[sksd_limits\\]\$|[sksd_limits]\\
hsm_sessions = $n|" "$sks_work/remote.in" > "$sks_work/remote-$n.in"
            fi
            replica_start "remote-$n" "$(replica_conf "$sks_work/remote-$n.in" "remote-$n")"
            remote_port=$replica_port
            sessions=$(curl -sS "http://127.0.0.1:$remote_port/metrics" | sed -n 's/^sksd_hsm_sessions //p')
            alternate direct remote
            figure "no delay: sksd on the token $med_a requests/s, through p11-kit remoting with" \
                "$sessions token sessions $med_b requests/s (medians of $rounds): ratio $(ratio "$med_b" "$med_a")"
            kill "$replica_pid" 2>/dev/null || true
        done
    else
        figure "p11-kit remoting not measured: p11-kit or p11-kit-client.so is not installed"
    fi

}
if wanted 4; then case4; fi

# ---- 5. /metrics with $big identities against 10 -----------------------------
case5() {
    # The large key store is a second token of its own (SOFTHSM2_CONF), so that
    # both sizes are there at once and the rounds can alternate.
    SKSCTL=$SKSCTL "$top_srcdir/softhsm-conf/mktoken.sh" "$sks_work/big" sks-big > /dev/null ||
        fail "mktoken.sh could not create the large token"
    t0=$(date +%s)
    "$BENCH_HSM" populate 9 > "$sks_work/populate-small.out" ||
        { cat "$sks_work/populate-small.out"; fail "populate 9"; }
    (. "$sks_work/big/env" && "$BENCH_HSM" populate "$big") > "$sks_work/populate-big.out" ||
        { cat "$sks_work/populate-big.out"; fail "populate $big"; }
    figure "made $big identities in $(( $(date +%s) - t0 )) s"
    big_pin=$(. "$sks_work/big/env" && echo "$SKS_PIN_FILE")
    sed -e "s|^token = .*|token = sks-big|" -e "s|^pin_file = .*|pin_file = $big_pin|" \
        "$direct_conf" > "$sks_work/big.in"
    (. "$sks_work/big/env" && replica_start bigsksd "$(replica_conf "$sks_work/big.in" bigsksd)" &&
        echo "$replica_port" > "$sks_work/big.port" && echo "$replica_pid" > "$sks_work/big.pid")
    big_port=$(cat "$sks_work/big.port")
    replica_pids="$replica_pids $(cat "$sks_work/big.pid")"
    scrape() {
        "$BENCH_HSM" get 127.0.0.1 "$2" /metrics "$3" 4 > "$sks_work/$1.out" ||
            { cat "$sks_work/$1.out"; fail "$1 failed"; }
        field rate "$sks_work/$1.out"
    }
    curl -sS "http://127.0.0.1:$big_port/metrics" > "$sks_work/big.metrics"
    grep -q "^sksd_identities $big\$" "$sks_work/big.metrics" ||
        fail "/metrics does not count $big identities"
    direct_sksd
    curl -sS "http://127.0.0.1:$direct_port/metrics" > "$sks_work/small.metrics"
    grep -q '^sksd_identities 10$' "$sks_work/small.metrics" || fail "/metrics does not count 10 identities"
    sg=$(scrape probe-small "$direct_port" 500)
    small() { scrape "small$1" "$direct_port" $((sg * secs)); }
    large() { scrape "large$1" "$big_port" $((sg * secs)); }
    alternate small large
    figure "/metrics: 10 identities $med_a scrapes/s, $big identities $med_b scrapes/s" \
        "(medians of $rounds): ratio $(ratio "$med_b" "$med_a")"
}
if wanted 5; then case5; fi
