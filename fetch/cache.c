/*
 * The fetch cache: a hash table of entries on an LRU list, one lock, and
 * one condition variable that the callers waiting for a fetch sleep on.
 * Fetches and parses run outside the lock.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch/cache.h"

enum entry_state { ENTRY_FETCHING, ENTRY_READY, ENTRY_FAILED };

struct sks_cached {
    struct sks_cached *newer, *older; /* the LRU list, while listed */
    struct sks_cached *chain;         /* the hash bucket, while listed */
    char *url;
    uint64_t hash;
    unsigned int refs; /* one for the table while listed, one per caller */
    bool listed;
    bool refreshing; /* READY and stale: a caller is fetching its successor */
    enum entry_state state;
    void *value;
    size_t cost;
    struct sks_error err; /* FAILED: why */
    double fresh_until;   /* monotonic seconds */
    double stale_until;   /* READY: served while refreshed until then */
};

struct sks_fetch_cache {
    pthread_mutex_t lock;
    pthread_cond_t fetched;
    struct sks_fetch_cache_opts opts;
    struct sks_fetch_opts fetch;
    sks_fetch_parse_fn parse;
    sks_fetch_release_fn release;
    struct sks_cached **buckets;
    size_t nbuckets; /* a power of two */
    struct sks_cached *newest, *oldest;
    struct sks_fetch_cache_stats stats;
};

void sks_fetch_cache_opts_init(struct sks_fetch_cache_opts *opts)
{
    opts->max_entries = 1000;
    opts->max_bytes = 16 * 1024 * 1024;
    opts->min_ttl = 60;
    opts->max_ttl = 24 * 3600;
    opts->default_ttl = 3600;
    opts->negative_ttl = 30;
    opts->stale_ttl = 300;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a */
static uint64_t hash_of(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct sks_fetch_cache *sks_fetch_cache_new(const struct sks_fetch_cache_opts *opts,
                                            const struct sks_fetch_opts *fetch,
                                            sks_fetch_parse_fn parse, sks_fetch_release_fn release)
{
    struct sks_fetch_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->opts = *opts;
    c->fetch = *fetch;
    c->parse = parse;
    c->release = release;
    c->nbuckets = 16;
    while (c->nbuckets < 2 * opts->max_entries && c->nbuckets < ((size_t)1 << 20))
        c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->fetched, NULL);
    return c;
}

static void entry_free(struct sks_fetch_cache *c, struct sks_cached *e)
{
    if (e->value != NULL)
        c->release(e->value);
    free(e->url);
    free(e);
}

/* Drops a reference; the last frees.  Under the lock. */
static void unref(struct sks_fetch_cache *c, struct sks_cached *e)
{
    if (--e->refs == 0)
        entry_free(c, e);
}

static struct sks_cached *find(struct sks_fetch_cache *c, const char *url, uint64_t h)
{
    struct sks_cached *e;

    for (e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->chain) {
        if (e->hash == h && strcmp(e->url, url) == 0)
            return e;
    }
    return NULL;
}

static void lru_unlink(struct sks_fetch_cache *c, struct sks_cached *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct sks_fetch_cache *c, struct sks_cached *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest != NULL)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

static void list_entry(struct sks_fetch_cache *c, struct sks_cached *e)
{
    struct sks_cached **b = &c->buckets[e->hash & (c->nbuckets - 1)];

    e->chain = *b;
    *b = e;
    lru_push(c, e);
    e->listed = true;
    e->refs++;
    c->stats.entries++;
    c->stats.bytes += e->cost;
}

static void unlist_entry(struct sks_fetch_cache *c, struct sks_cached *e)
{
    struct sks_cached **p = &c->buckets[e->hash & (c->nbuckets - 1)];

    if (!e->listed)
        return;
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    e->chain = NULL;
    lru_unlink(c, e);
    e->listed = false;
    c->stats.entries--;
    c->stats.bytes -= e->cost;
    unref(c, e);
}

/* The least recently used go until the bounds hold; entries being fetched stay. */
static void evict(struct sks_fetch_cache *c, const struct sks_cached *keep)
{
    struct sks_cached *e = c->oldest;

    while (e != NULL &&
           (c->stats.entries > c->opts.max_entries || c->stats.bytes > c->opts.max_bytes)) {
        struct sks_cached *newer = e->newer;

        if (e != keep && e->state != ENTRY_FETCHING) {
            unlist_entry(c, e);
            c->stats.evictions++;
        }
        e = newer;
    }
}

/* How long a body may be kept, from what the server said, within the bounds. */
static long ttl_of(const struct sks_fetch_cache_opts *o, const struct sks_fetched *f)
{
    long ttl = o->default_ttl;

    if (f->no_store)
        ttl = 0;
    else if (f->max_age >= 0)
        ttl = f->max_age;
    else if (f->expires >= 0)
        ttl = f->expires - (long)time(NULL);
    if (ttl < o->min_ttl)
        ttl = o->min_ttl;
    if (ttl > o->max_ttl)
        ttl = o->max_ttl;
    return ttl;
}

static struct sks_cached *entry_new(const char *url, uint64_t h)
{
    struct sks_cached *e = calloc(1, sizeof(*e));

    if (e == NULL || (e->url = strdup(url)) == NULL) {
        free(e);
        return NULL;
    }
    e->hash = h;
    e->state = ENTRY_FETCHING;
    return e;
}

/* Fetches and parses into |e| (not listed, or listed FETCHING), outside the lock. */
static void fill(struct sks_fetch_cache *c, struct sks_cached *e)
{
    struct sks_fetched body;
    long ttl = 0;
    double now;

    sks_error_clear(&e->err);
    if (sks_fetch(&c->fetch, e->url, &body, &e->err) == SKS_OK) {
        ttl = ttl_of(&c->opts, &body);
        e->value = c->parse(e->url, &body, &e->cost, &ttl, &e->err);
        sks_fetched_clear(&body);
    }
    now = now_s();
    if (e->value != NULL) {
        e->cost += sizeof(*e) + strlen(e->url) + 1;
        e->fresh_until = now + (double)ttl;
        e->stale_until = e->fresh_until + (double)c->opts.stale_ttl;
    } else {
        e->cost = sizeof(*e) + strlen(e->url) + 1;
        e->fresh_until = now + (double)c->opts.negative_ttl;
        e->stale_until = e->fresh_until;
    }
}

/* Under the lock: |e| was filled; it becomes READY or FAILED, listed if it fits. */
static void publish(struct sks_fetch_cache *c, struct sks_cached *e)
{
    e->state = e->value != NULL ? ENTRY_READY : ENTRY_FAILED;
    if (e->listed) {
        c->stats.bytes += e->cost;
        if (e->cost > c->opts.max_bytes)
            unlist_entry(c, e);
    } else if (e->cost <= c->opts.max_bytes) {
        list_entry(c, e);
    }
    evict(c, e);
    pthread_cond_broadcast(&c->fetched);
}

/* The caller's answer from its reference to |e|, READY or FAILED. */
static sks_status answer(struct sks_fetch_cache *c, struct sks_cached *e, struct sks_cached **out,
                         struct sks_error *err)
{
    sks_status st = e->err.status != SKS_OK ? e->err.status : SKS_ERR_INTERNAL;

    if (e->state == ENTRY_READY) {
        *out = e;
        return SKS_OK;
    }
    if (err != NULL)
        *err = e->err;
    unref(c, e);
    return st;
}

/*
 * A miss: a new entry, listed while it is fetched so that others wait for
 * it.  Called and returns with the lock held, dropped for the fetch.
 */
static sks_status fetch_new(struct sks_fetch_cache *c, const char *url, uint64_t h,
                            struct sks_cached **out, struct sks_error *err)
{
    struct sks_cached *e = entry_new(url, h);

    if (e == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory caching %s", url);
    e->refs = 1;
    list_entry(c, e);
    c->stats.fetches++;
    pthread_mutex_unlock(&c->lock);
    fill(c, e);
    pthread_mutex_lock(&c->lock);
    publish(c, e);
    return answer(c, e, out, err);
}

/*
 * A stale entry and nobody refreshing it: this caller does, the others get
 * |old|.  Called and returns with the lock held, as fetch_new().
 */
static sks_status refresh(struct sks_fetch_cache *c, struct sks_cached *old,
                          struct sks_cached **out, struct sks_error *err)
{
    struct sks_cached *e = entry_new(old->url, old->hash), *other;

    if (e == NULL) {
        old->refs++;
        c->stats.stale_hits++;
        return answer(c, old, out, err);
    }
    old->refreshing = true;
    old->refs++;
    e->refs = 1;
    c->stats.fetches++;
    pthread_mutex_unlock(&c->lock);
    fill(c, e);
    pthread_mutex_lock(&c->lock);
    old->refreshing = false;
    if (e->value == NULL) {
        /* Within stale_ttl the old entry stands in for a failed refresh. */
        entry_free(c, e);
        c->stats.stale_hits++;
        return answer(c, old, out, err);
    }
    unlist_entry(c, old);
    unref(c, old);
    other = find(c, e->url, e->hash);
    if (other != NULL && other->state == ENTRY_FETCHING) {
        /* Another caller found |old| past stale_ttl and fetches anew: that one is listed. */
        e->state = ENTRY_READY;
        return answer(c, e, out, err);
    }
    if (other != NULL)
        unlist_entry(c, other);
    publish(c, e);
    return answer(c, e, out, err);
}

/*
 * Under the lock: the answer |e| gives at once, without a fetch or a wait
 * -- fresh, a kept failure, or stale while another caller refreshes it --
 * in |*st|; false when there is none.
 */
static bool at_once(struct sks_fetch_cache *c, struct sks_cached *e, double now,
                    struct sks_cached **out, struct sks_error *err, sks_status *st)
{
    if (e == NULL || e->state == ENTRY_FETCHING)
        return false;
    if (now < e->fresh_until) {
        e->refs++;
        lru_unlink(c, e);
        lru_push(c, e);
        if (e->state == ENTRY_READY)
            c->stats.hits++;
        else
            c->stats.negative_hits++;
    } else if (e->state == ENTRY_READY && now < e->stale_until && e->refreshing) {
        e->refs++;
        c->stats.stale_hits++;
    } else {
        return false;
    }
    *st = answer(c, e, out, err);
    return true;
}

sks_status sks_fetch_cache_get(struct sks_fetch_cache *c, const char *url, struct sks_cached **out,
                               struct sks_error *err)
{
    uint64_t h = hash_of(url);
    struct sks_cached *e;
    sks_status st;
    double now = now_s();

    *out = NULL;
    pthread_mutex_lock(&c->lock);
    e = find(c, url, h);
    if (e != NULL && e->state == ENTRY_FETCHING) {
        e->refs++;
        c->stats.waits++;
        while (e->state == ENTRY_FETCHING)
            pthread_cond_wait(&c->fetched, &c->lock);
        st = answer(c, e, out, err);
    } else if (at_once(c, e, now, out, err, &st)) {
        /* answered */
    } else if (e != NULL && e->state == ENTRY_READY && now < e->stale_until) {
        st = refresh(c, e, out, err);
    } else {
        if (e != NULL)
            unlist_entry(c, e);
        st = fetch_new(c, url, h, out, err);
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

bool sks_fetch_cache_try(struct sks_fetch_cache *c, const char *url, struct sks_cached **out,
                         struct sks_error *err, sks_status *st)
{
    bool answered;

    *out = NULL;
    pthread_mutex_lock(&c->lock);
    answered = at_once(c, find(c, url, hash_of(url)), now_s(), out, err, st);
    pthread_mutex_unlock(&c->lock);
    return answered;
}

void *sks_cached_value(const struct sks_cached *entry)
{
    return entry->value;
}

void sks_fetch_cache_put(struct sks_fetch_cache *c, struct sks_cached *entry)
{
    if (entry == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    unref(c, entry);
    pthread_mutex_unlock(&c->lock);
}

void sks_fetch_cache_stats(struct sks_fetch_cache *c, struct sks_fetch_cache_stats *stats)
{
    pthread_mutex_lock(&c->lock);
    *stats = c->stats;
    pthread_mutex_unlock(&c->lock);
}

void sks_fetch_cache_free(struct sks_fetch_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    while (c->oldest != NULL)
        unlist_entry(c, c->oldest);
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&c->fetched);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}

sks_status sks_fetch_cache_lookup(struct sks_fetch_cache *cache, bool wait, const char *url,
                                  struct sks_cached **out, struct sks_error *err)
{
    sks_status st;

    if (wait)
        return sks_fetch_cache_get(cache, url, out, err);
    if (!sks_fetch_cache_try(cache, url, out, err, &st)) {
        *out = NULL;
        return SKS_OK;
    }
    return st;
}
