/*
 * The content Rich Call Data points at (RFC 9795: an icon, a jCard, a
 * photo), for the rcdi check of a verifier that sees the same brand on call
 * after call: fetched once through the guarded fetcher into a fetch cache
 * (fetch/cache.h) whose entries keep only the body's digests, so that a
 * logo costs a lookup, not a download and a hash, on the calls after the
 * first.
 */
#ifndef SKS_VERIFY_RCD_H
#define SKS_VERIFY_RCD_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "fetch/cache.h"
#include "shaken/rcd.h"

/* A fetch cache whose entries are the SHA-256, SHA-384 and SHA-512 digests of each body. */
struct sks_fetch_cache *sks_rcd_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch);

/*
 * The context of sks_rcd_content_digest(), an sks_rcd_digest_fn: the
 * digest of what a URL serves, from |cache|.  Without |wait| it takes only
 * what the cache holds at once and never blocks: content that must be
 * fetched fails with the code SKS_RCD_NOT_CACHED, to be verified again
 * where waiting is allowed.
 */
struct sks_rcd_content {
    struct sks_fetch_cache *cache;
    bool wait;
};

#define SKS_RCD_NOT_CACHED "rcd-not-cached"

sks_status sks_rcd_content_digest(void *ctx, const char *url, const EVP_MD *md,
                                  unsigned char out[EVP_MAX_MD_SIZE], unsigned int *len,
                                  struct sks_error *err);

#endif
