/*
 * fetch_probe: drives the fetch cache (fetch/cache.h) for fetch-cache.sh,
 * which counts on the server's side what it fetched.
 *
 *   fetch_probe [options] STEP...
 *
 * Options (before the steps) set the cache and the fetcher:
 *   --ca FILE            TLS roots of the test server
 *   --min-ttl S, --max-ttl S, --default-ttl S, --negative-ttl S, --stale-ttl S
 *   --max-entries N, --max-bytes N
 *
 * Steps, run in order on one cache:
 *   get:URL              one lookup; prints "get URL ok LEN" or "get URL error CODE: MESSAGE"
 *   burst:N:URL          N threads look URL up at the same moment; prints
 *                        "burst URL ok=A failed=B"
 *   sleep:MS
 *   stats                prints "stats entries=... bytes=... fetches=... hits=...
 *                        stale_hits=... negative_hits=... waits=... evictions=..."
 *
 * What the cache keeps is a copy of the body; its cost is its length.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch/cache.h"

struct copy {
    size_t len;
    unsigned char data[];
};

static void *copy_body(const char *url, const struct sks_fetched *body, size_t *cost, long *ttl,
                       struct sks_error *err)
{
    (void)url;
    (void)ttl;
    struct copy *c = malloc(sizeof(*c) + body->len);

    if (c == NULL) {
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    c->len = body->len;
    memcpy(c->data, body->data, body->len);
    *cost = body->len;
    return c;
}

static void get(struct sks_fetch_cache *cache, const char *url)
{
    struct sks_cached *e;
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_fetch_cache_get(cache, url, &e, &err) == SKS_OK) {
        printf("get %s ok %zu\n", url, ((struct copy *)sks_cached_value(e))->len);
        sks_fetch_cache_put(cache, e);
    } else {
        printf("get %s error %s: %s\n", url, sks_error_code(&err), err.msg);
    }
}

struct burst {
    struct sks_fetch_cache *cache;
    const char *url;
    pthread_barrier_t *start;
    int ok;
};

static void *burst_one(void *arg)
{
    struct burst *b = arg;
    struct sks_cached *e;
    struct sks_error err;

    pthread_barrier_wait(b->start);
    if (sks_fetch_cache_get(b->cache, b->url, &e, &err) == SKS_OK) {
        b->ok = 1;
        sks_fetch_cache_put(b->cache, e);
    }
    return NULL;
}

static int burst(struct sks_fetch_cache *cache, unsigned int n, const char *url)
{
    pthread_t *t = calloc(n, sizeof(*t));
    struct burst *b = calloc(n, sizeof(*b));
    pthread_barrier_t start;
    unsigned int i, ok = 0;

    if (t == NULL || b == NULL || n == 0)
        return 1;
    pthread_barrier_init(&start, NULL, n);
    for (i = 0; i < n; i++) {
        b[i] = (struct burst){cache, url, &start, 0};
        if (pthread_create(&t[i], NULL, burst_one, &b[i]) != 0) {
            fprintf(stderr, "fetch_probe: cannot start thread %u\n", i);
            exit(1);
        }
    }
    for (i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        ok += (unsigned int)b[i].ok;
    }
    pthread_barrier_destroy(&start);
    printf("burst %s ok=%u failed=%u\n", url, ok, n - ok);
    free(t);
    free(b);
    return 0;
}

static void stats(struct sks_fetch_cache *cache)
{
    struct sks_fetch_cache_stats s;

    sks_fetch_cache_stats(cache, &s);
    printf("stats entries=%zu bytes=%zu fetches=%llu hits=%llu stale_hits=%llu "
           "negative_hits=%llu waits=%llu evictions=%llu\n",
           s.entries, s.bytes, s.fetches, s.hits, s.stale_hits, s.negative_hits, s.waits,
           s.evictions);
}

static int step(struct sks_fetch_cache *cache, const char *s)
{
    if (strncmp(s, "get:", 4) == 0) {
        get(cache, s + 4);
    } else if (strncmp(s, "burst:", 6) == 0) {
        char *url;
        unsigned long n = strtoul(s + 6, &url, 10);

        if (*url != ':')
            return 1;
        return burst(cache, (unsigned int)n, url + 1);
    } else if (strncmp(s, "sleep:", 6) == 0) {
        long ms = strtol(s + 6, NULL, 10);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    } else if (strcmp(s, "stats") == 0) {
        stats(cache);
    } else {
        return 1;
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    struct sks_fetch_cache_opts co;
    struct sks_fetch_opts fo;
    struct sks_fetch_cache *cache;
    int i = 1, rc = 0;

    sks_fetch_cache_opts_init(&co);
    sks_fetch_opts_init(&fo);
    fo.allow_private = true; /* the test server is on loopback */
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *o = argv[i] + 2, *v = argv[i + 1];

        if (strcmp(o, "ca") == 0)
            fo.ca_file = v;
        else if (strcmp(o, "min-ttl") == 0)
            co.min_ttl = atol(v);
        else if (strcmp(o, "max-ttl") == 0)
            co.max_ttl = atol(v);
        else if (strcmp(o, "default-ttl") == 0)
            co.default_ttl = atol(v);
        else if (strcmp(o, "negative-ttl") == 0)
            co.negative_ttl = atol(v);
        else if (strcmp(o, "stale-ttl") == 0)
            co.stale_ttl = atol(v);
        else if (strcmp(o, "max-entries") == 0)
            co.max_entries = strtoul(v, NULL, 10);
        else if (strcmp(o, "max-bytes") == 0)
            co.max_bytes = strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "fetch_probe: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    cache = sks_fetch_cache_new(&co, &fo, copy_body, free);
    if (cache == NULL)
        return 1;
    for (; i < argc && rc == 0; i++) {
        if (step(cache, argv[i]) != 0) {
            fprintf(stderr, "fetch_probe: bad step %s\n", argv[i]);
            rc = 2;
        }
    }
    sks_fetch_cache_free(cache);
    return rc;
}
