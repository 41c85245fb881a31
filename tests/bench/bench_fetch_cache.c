/*
 * bench_fetch_cache: figures of the x5u chain cache (verify/x5u.h over
 * fetch/cache.h), against a loopback HTTPS server (make bench).
 *
 * With no arguments (as tests/bench-run.sh starts it) it runs
 * tests/bench/bench_fetch_cache.sh, which serves the test PKI's chain at
 * 1,000 URLs and calls back:
 *
 *   bench_fetch_cache run CA BASE N SECONDS
 *
 * BASE/uI.pem for I in 1..N are the URLs.  It prints FIGURE lines:
 *   - warm lookups per second (2 threads) of 1 URL, and of the N URLs in
 *     rotation, and their ratio, medians of 3 alternating rounds;
 *   - a cold burst: N threads look up one URL not yet cached at once, and
 *     the fetches that made;
 *   - the heap the N cached chains take (mallinfo2) against the cost the
 *     cache counted for them.
 */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "tests/interop/interop.h"
#include "verify/x5u.h"

#define ROUNDS 3

struct run {
    struct sks_fetch_cache *cache;
    char **urls;
    size_t nurls, first;
    double seconds;
    unsigned long long lookups;
    pthread_barrier_t *start;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lookup(struct sks_fetch_cache *cache, const char *url)
{
    struct sks_cached *e;
    struct sks_error err;

    if (sks_fetch_cache_get(cache, url, &e, &err) != SKS_OK)
        interop_die("%s: %s", url, err.msg);
    sks_fetch_cache_put(cache, e);
}

static void *warm_thread(void *arg)
{
    struct run *r = arg;
    double end = now_s() + r->seconds;
    size_t i = r->first;

    while (now_s() < end) {
        int k;

        for (k = 0; k < 256; k++) {
            lookup(r->cache, r->urls[i]);
            i = i + 1 < r->nurls ? i + 1 : 0;
        }
        r->lookups += 256;
    }
    return NULL;
}

/* Lookups per second of |nurls| URLs from 2 threads, for |seconds|. */
static double warm(struct sks_fetch_cache *cache, char **urls, size_t nurls, double seconds)
{
    struct run r[2];
    pthread_t t[2];
    double t0 = now_s();
    int i;

    for (i = 0; i < 2; i++) {
        /* Both walk all N URLs, half-way apart. */
        r[i] = (struct run){cache, urls, nurls, (size_t)i * nurls / 2, seconds, 0, NULL};
        pthread_create(&t[i], NULL, warm_thread, &r[i]);
    }
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return (double)(r[0].lookups + r[1].lookups) / (now_s() - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void *burst_thread(void *arg)
{
    struct run *r = arg;

    pthread_barrier_wait(r->start);
    lookup(r->cache, r->urls[0]);
    return NULL;
}

static unsigned long long burst(const struct sks_fetch_opts *fo, const char *url, size_t n)
{
    struct sks_fetch_cache_opts co;
    struct sks_fetch_cache_stats s;
    struct sks_fetch_cache *cache;
    pthread_barrier_t start;
    pthread_attr_t attr;
    pthread_t *t = calloc(n, sizeof(*t));
    struct run r;
    char *u = (char *)url;
    size_t i;

    sks_fetch_cache_opts_init(&co);
    if (t == NULL || (cache = sks_x5u_cache_new(&co, fo)) == NULL)
        interop_die("out of memory");
    r = (struct run){cache, &u, 1, 0, 0, 0, &start};
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (i = 0; i < n; i++) {
        if (pthread_create(&t[i], &attr, burst_thread, &r) != 0)
            interop_die("cannot start burst thread %zu", i);
    }
    for (i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&start);
    sks_fetch_cache_stats(cache, &s);
    sks_fetch_cache_free(cache);
    free(t);
    return s.fetches;
}

static int run(int argc, char **argv)
{
    struct sks_fetch_cache_opts co;
    struct sks_fetch_cache_stats s;
    struct sks_fetch_opts fo;
    struct sks_fetch_cache *cache;
    double one[ROUNDS], many[ROUNDS], raw[ROUNDS], seconds, with1, with_n;
    struct mallinfo2 m0, m1;
    char **urls, *cold;
    size_t n, i;

    if (argc != 5)
        interop_die("usage: bench_fetch_cache run CA BASE N SECONDS");
    n = (size_t)interop_parse_count(argv[3], 100000, "N");
    seconds = (double)interop_parse_count(argv[4], 60, "SECONDS");
    sks_fetch_opts_init(&fo);
    fo.ca_file = argv[1];
    fo.allow_private = true; /* the server is on loopback */
    sks_fetch_cache_opts_init(&co);
    co.max_entries = n + 1;
    co.max_bytes = (size_t)1 << 30;
    urls = calloc(n, sizeof(*urls));
    if (urls == NULL || (cache = sks_x5u_cache_new(&co, &fo)) == NULL)
        interop_die("out of memory");
    for (i = 0; i < n; i++) {
        if (asprintf(&urls[i], "%s/u%zu.pem", argv[2], i + 1) < 0)
            interop_die("out of memory");
    }
    /* Fill: the heap N chains take against the cost the cache counted. */
    m0 = mallinfo2();
    for (i = 0; i < n; i++)
        lookup(cache, urls[i]);
    m1 = mallinfo2();
    sks_fetch_cache_stats(cache, &s);
    printf("FIGURE: fetch cache: %zu chains cached: heap +%zu bytes, counted cost %zu bytes: "
           "heap / counted %.2f\n",
           n, m1.uordblks - m0.uordblks, s.bytes,
           (double)(m1.uordblks - m0.uordblks) / (double)s.bytes);
    for (i = 0; i < ROUNDS; i++) {
        one[i] = warm(cache, urls, 1, seconds);
        many[i] = warm(cache, urls, n, seconds);
        raw[i] = interop_raw_verify_rate(2, seconds);
    }
    qsort(one, ROUNDS, sizeof(double), cmp_double);
    qsort(many, ROUNDS, sizeof(double), cmp_double);
    qsort(raw, ROUNDS, sizeof(double), cmp_double);
    printf("FIGURE: fetch cache, warm, 2 threads: 1 URL %.0f lookups/s, %zu URLs in rotation "
           "%.0f lookups/s (medians of %d): ratio %.2f\n",
           one[ROUNDS / 2], n, many[ROUNDS / 2], ROUNDS, many[ROUNDS / 2] / one[ROUNDS / 2]);
    /* A verification is at least one lookup and one ECDSA verify: their times add. */
    with1 = 1.0 / (1.0 / raw[ROUNDS / 2] + 1.0 / one[ROUNDS / 2]);
    with_n = 1.0 / (1.0 / raw[ROUNDS / 2] + 1.0 / many[ROUNDS / 2]);
    printf("FIGURE: fetch cache: raw OpenSSL ECDSA P-256 verify %.0f/s (2 threads, median); "
           "a lookup and a verify: %.0f/s with 1 URL, %.0f/s with %zu: ratio %.3f\n",
           raw[ROUNDS / 2], with1, with_n, n, with_n / with1);
    sks_fetch_cache_free(cache);
    if (asprintf(&cold, "%s/cold.pem", argv[2]) < 0)
        interop_die("out of memory");
    printf("FIGURE: fetch cache, cold burst: %zu threads looked up one uncached URL at once: "
           "%llu fetch(es)\n",
           n, burst(&fo, cold, n));
    free(cold);
    for (i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    return 0;
}

int main(int argc, char **argv)
{
    interop_prog = "bench_fetch_cache";
    if (argc == 1)
        interop_run_script(argv[0], "tests/bench/bench_fetch_cache.sh", "BENCH_FETCH");
    if (strcmp(argv[1], "run") == 0)
        return run(argc - 1, argv + 1);
    interop_die("usage: bench_fetch_cache [run CA BASE N SECONDS]");
}
