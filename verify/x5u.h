/*
 * The certificates a PASSporT's x5u names, for a verifier that sees the
 * same x5u on call after call: fetched once into a fetch cache
 * (fetch/cache.h), parsed once, and checked against the SHAKEN profile and
 * the trust roots once for as long as the outcome cannot change.
 */
#ifndef SKS_VERIFY_X5U_H
#define SKS_VERIFY_X5U_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

#include "fetch/cache.h"
#include "verify/verify.h"

/*
 * What a cached chain takes on the heap, per byte of its body: 8, measured
 * by bench_fetch_cache (the parsed X509 objects, the entry and its URL); a
 * parsed CRL is counted the same.  A cache must have this many bytes per
 * byte it may fetch, or what it fetches is never kept.
 */
#define SKS_X5U_COST_FACTOR 8

/*
 * A fetch cache of x5u certificate chains: each entry holds the signer's
 * certificate and the intermediates after it (PEM certificates, or one DER
 * one), parsed once; a body that holds none is kept as a failure ("the body
 * of URL holds no ...").
 */
struct sks_fetch_cache *sks_x5u_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch);

/*
 * A fetch cache of CRLs (PEM or DER), each kept no longer than its
 * nextUpdate; a body that holds none, or one already past its nextUpdate,
 * is kept as a failure (invalid-crl).
 */
/* How large a CRL's body may be unless configured otherwise: far more than a chain. */
#define SKS_CRL_MAX_BYTES_DEFAULT (1024 * 1024)
struct sks_fetch_cache *sks_crl_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch);
/*
 * The CRL at |url| through the CRL cache |cache| (a struct sks_fetch_cache
 * of sks_crl_cache_new, as a void pointer so that the key store's CRL
 * source can take it as its argument): a new reference in |*out|, or the
 * failure (fetch-*, invalid-crl) naming the URL.
 */
sks_status sks_crl_get(void *cache, const char *url, X509_CRL **out, struct sks_error *err);

/*
 * Where a verifier finds credentials: an x5u cache, the STI-PA roots the
 * chains must reach and, unless NULL, a CRL cache through which every
 * certificate of a chain that names a CRL distribution point (the
 * signer's, the STI-CA's) is held to that CRL.
 * All must outlive every source made of it, and |roots| must not change
 * while it is in use.
 */
struct sks_x5u_trust {
    struct sks_fetch_cache *cache;
    X509_STORE *roots;
    struct sks_fetch_cache *crls;
    /* Where every root is valid: a chain's verdict holds no longer. */
    time_t not_before, not_after;
};

/* |trust| over |cache|, |roots| and |crls| (NULL: CRLs are not checked). */
void sks_x5u_trust_init(struct sks_x5u_trust *trust, struct sks_fetch_cache *cache,
                        X509_STORE *roots, struct sks_fetch_cache *crls);

/*
 * A credential source (verify.h) over |trust|: lookup() fetches the x5u
 * through the cache (a failure is 436 Bad Identity Info, "x5u: ..."),
 * then, with CRLs, fetches the CRL each certificate of the chain names, at
 * most 4 (a failure is 436, "the certificate's CRL: ..." or "the CRL of
 * the intermediate (STI-CA) certificate SUBJECT: ..."; so is a CRL issued
 * by another CA than the certificate's issuer, or past its nextUpdate,
 * invalid-crl), then checks the chain and the CRLs (sks_verify_cert; a
 * failure, a revoked certificate among them, is 437).  The verdict on a
 * chain is kept with it and reused, for the very CRLs it was made with,
 * while the verification time lies where every certificate of the chain
 * and every root is valid and every CRL current, so that a warm lookup
 * costs no chain validation and no CRL parse or signature check.
 *
 * Without |wait|, lookup() takes only what the cache holds at once
 * (sks_fetch_cache_try) and never blocks: an x5u that must be fetched
 * fails with the code SKS_X5U_NOT_CACHED (sks_x5u_needs_fetch), to be
 * verified again, with a source that waits, where waiting is allowed.
 */
#define SKS_X5U_NOT_CACHED "x5u-not-cached"
void sks_x5u_source(struct sks_verify_source *src, const struct sks_x5u_trust *trust, bool wait);
/* The failure says only that the x5u must be fetched first. */
bool sks_x5u_needs_fetch(const struct sks_error *err);

#endif
