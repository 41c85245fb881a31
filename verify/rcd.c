/* The Rich Call Data content cache: fetch/cache.h with the digests of each body as its values. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "verify/rcd.h"

/* What is kept of a body: its digest by every algorithm rcdi may name. */
struct rcd_digests {
    unsigned char sha256[32], sha384[48], sha512[64];
};

static void *parse_content(const char *url, const struct sks_fetched *body, size_t *cost, long *ttl,
                           struct sks_error *err)
{
    struct rcd_digests *d = malloc(sizeof(*d));

    (void)url;
    (void)ttl; /* the server says how long its content may be kept */
    if (d == NULL || EVP_Digest(body->data, body->len, d->sha256, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(body->data, body->len, d->sha384, NULL, EVP_sha384(), NULL) != 1 ||
        EVP_Digest(body->data, body->len, d->sha512, NULL, EVP_sha512(), NULL) != 1) {
        free(d);
        sks_fail(err, SKS_ERR_SYSTEM, "cannot digest the content");
        return NULL;
    }
    *cost = sizeof(*d);
    return d;
}

struct sks_fetch_cache *sks_rcd_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch)
{
    return sks_fetch_cache_new(opts, fetch, parse_content, free);
}

sks_status sks_rcd_content_digest(void *ctx, const char *url, const EVP_MD *md,
                                  unsigned char out[EVP_MAX_MD_SIZE], unsigned int *len,
                                  struct sks_error *err)
{
    const struct sks_rcd_content *c = ctx;
    const struct rcd_digests *d;
    struct sks_cached *got;
    sks_status st;

    if ((st = sks_fetch_cache_lookup(c->cache, c->wait, url, &got, err)) != SKS_OK)
        return st;
    if (got == NULL)
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, SKS_RCD_NOT_CACHED, "rcd",
                              "%s is not in the cache: it must be fetched", url);
    d = sks_cached_value(got);
    *len = (unsigned int)EVP_MD_get_size(md);
    if (EVP_MD_is_a(md, "SHA256"))
        memcpy(out, d->sha256, *len);
    else if (EVP_MD_is_a(md, "SHA384"))
        memcpy(out, d->sha384, *len);
    else if (EVP_MD_is_a(md, "SHA512"))
        memcpy(out, d->sha512, *len);
    else
        st = sks_fail(err, SKS_ERR_INTERNAL, "no %s digest is kept", EVP_MD_get0_name(md));
    sks_fetch_cache_put(c->cache, got);
    return st;
}
