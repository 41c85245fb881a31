/*
 * A cache of what sks_fetch() brings, for a verifier that sees the same
 * x5u (or CRL) on call after call:
 *
 *   - one fetch per URL however many threads ask for it at once
 *     (single flight): the others wait for that fetch and share its result;
 *   - kept as long as the server's Cache-Control (max-age, s-maxage,
 *     no-store, no-cache) or Expires says, within [min_ttl, max_ttl], or
 *     default_ttl when it says nothing;
 *   - a failure (of the fetch or of |parse|) is kept for negative_ttl, so
 *     that a broken server is not asked on every call;
 *   - for stale_ttl after it expires, an entry is still served while one
 *     caller fetches it again; if that fetch fails, the stale entry stays
 *     until stale_ttl ends;
 *   - bounded: at most max_entries entries and max_bytes of cost (what
 *     |parse| reports, plus the URL and the entry), the least recently used
 *     going first.
 *
 * What is kept is what |parse| makes of the body (a parsed certificate
 * chain, say), so that a hit costs a lookup, not a parse.  Entries are
 * never changed once made: a refresh makes a new one, and a caller's
 * reference stays valid until it puts it back.
 */
#ifndef SKS_FETCH_CACHE_H
#define SKS_FETCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "fetch/fetch.h"

struct sks_fetch_cache_opts {
    size_t max_entries;
    size_t max_bytes;
    long min_ttl;      /* seconds */
    long max_ttl;      /* seconds */
    long default_ttl;  /* seconds, when the server says nothing */
    long negative_ttl; /* seconds a failure is kept */
    long stale_ttl;    /* seconds an expired entry may still be served while it is fetched */
};

void sks_fetch_cache_opts_init(struct sks_fetch_cache_opts *opts);

/*
 * Makes what the cache keeps of the |body| fetched from |url|, and says in |*cost| how
 * many bytes it takes; NULL with |err| set when the body is no good (the
 * failure is then kept as a negative entry).  |*ttl| comes in as the
 * seconds the server's headers allow, within the bounds; the body may say
 * less (a CRL's nextUpdate), and |parse| then lowers it.
 */
typedef void *(*sks_fetch_parse_fn)(const char *url, const struct sks_fetched *body, size_t *cost,
                                    long *ttl, struct sks_error *err);
typedef void (*sks_fetch_release_fn)(void *value);

struct sks_fetch_cache;
struct sks_cached;

/* NULL when out of memory.  |fetch| is copied; its strings must outlive the cache. */
struct sks_fetch_cache *sks_fetch_cache_new(const struct sks_fetch_cache_opts *opts,
                                            const struct sks_fetch_opts *fetch,
                                            sks_fetch_parse_fn parse, sks_fetch_release_fn release);
/* Call once every reference is put back and no thread uses the cache. */
void sks_fetch_cache_free(struct sks_fetch_cache *cache);

/*
 * What |parse| made of the body at |url|: a reference in |*out|, given back
 * with sks_fetch_cache_put(); or the failure, fresh or kept.
 */
sks_status sks_fetch_cache_get(struct sks_fetch_cache *cache, const char *url,
                               struct sks_cached **out, struct sks_error *err);
/*
 * sks_fetch_cache_get() that neither fetches nor waits: true with its
 * answer in |*st| (and |*out|, |err|) when the cache has one at once -- a
 * fresh entry, a kept failure, or a stale entry another caller is
 * refreshing; false when the answer needs a fetch, which the caller then
 * makes with sks_fetch_cache_get() on a thread that may wait for it.
 */
bool sks_fetch_cache_try(struct sks_fetch_cache *cache, const char *url, struct sks_cached **out,
                         struct sks_error *err, sks_status *st);
/*
 * sks_fetch_cache_get() with |wait|, sks_fetch_cache_try() without: then
 * SKS_OK with |*out| NULL says the answer needs a fetch.
 */
sks_status sks_fetch_cache_lookup(struct sks_fetch_cache *cache, bool wait, const char *url,
                                  struct sks_cached **out, struct sks_error *err);
void *sks_cached_value(const struct sks_cached *entry);
void sks_fetch_cache_put(struct sks_fetch_cache *cache, struct sks_cached *entry);

struct sks_fetch_cache_stats {
    size_t entries, bytes;
    unsigned long long fetches;    /* sks_fetch() calls */
    unsigned long long hits;       /* fresh entries served */
    unsigned long long stale_hits; /* expired entries served while one refresh ran */
    unsigned long long negative_hits;
    unsigned long long waits;     /* callers that waited for another's fetch */
    unsigned long long evictions; /* entries dropped for the bounds */
};

void sks_fetch_cache_stats(struct sks_fetch_cache *cache, struct sks_fetch_cache_stats *stats);

#endif
