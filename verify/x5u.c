/* The x5u chain cache: fetch/cache.h with certificate chains as its values. */
#include "config.h"

#include <stdio.h>

#include <openssl/x509.h>

#include "profile/certs.h"
#include "shaken/rules.h"
#include "verify/x5u.h"

/*
 * What a cached chain takes on the heap, per byte of its PEM: 8, measured
 * by bench_fetch_cache (the parsed X509 objects, the entry and its URL).
 */
#define X5U_COST_FACTOR 8

static void *parse_chain(const char *url, const struct sks_fetched *body, size_t *cost,
                         struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    char what[SKS_X5U_MAX + 32];

    snprintf(what, sizeof(what), "the body of %s", url);
    if (sks_certs_parse(body->data, body->len, true, what, &certs, err) != SKS_OK)
        return NULL;
    *cost = X5U_COST_FACTOR * body->len;
    return certs;
}

static void free_chain(void *certs)
{
    sk_X509_pop_free(certs, X509_free);
}

struct sks_fetch_cache *sks_x5u_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch)
{
    return sks_fetch_cache_new(opts, fetch, parse_chain, free_chain);
}
