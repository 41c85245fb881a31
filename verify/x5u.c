/* The x5u credential source: fetch/cache.h with checked certificate chains as its values. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "profile/certs.h"
#include "shaken/rules.h"
#include "verify/x5u.h"

/*
 * A chain names at most this many CRLs: the signer's, the STI-CA's and room
 * to spare.  A certificate whose CRL is past them finds none, and fails.
 */
#define X5U_CRLS_MAX 4

/* A CRL a chain names: where, and the first certificate of the chain that names it. */
struct x5u_crl_dp {
    char *url;
    X509 *named_by; /* the chain's */
};

/* One x5u's certificates and the verdict on them, made once and kept. */
struct x5u_chain {
    X509 *ee;
    STACK_OF(X509) * intermediates;
    struct x5u_crl_dp dps[X5U_CRLS_MAX]; /* the https CRL distribution points, each once */
    size_t ndps;
    time_t not_before, not_after;   /* where every certificate of the body is valid */
    pthread_mutex_t lock;           /* guards what follows */
    const X509_STORE *judged_roots; /* NULL: not judged yet */
    /* The ids of the CRLs of |dps| it was judged by; all 0: judged without CRLs. */
    unsigned long judged_crls[X5U_CRLS_MAX];
    struct sks_verify_credential verdict;
    sks_status status;
    int sip;
    struct sks_error err;
};

/* Narrows [*from, *until] to the validity of |cert|. */
static void narrow(X509 *cert, time_t *from, time_t *until)
{
    time_t t;

    if (!sks_asn1_time(X509_get0_notBefore(cert), &t))
        t = LONG_MAX; /* unreadable: the window is empty, every call checks */
    if (t > *from)
        *from = t;
    if (!sks_asn1_time(X509_get0_notAfter(cert), &t))
        t = LONG_MIN;
    if (t < *until)
        *until = t;
}

/*
 * Adds the CRL |cert| names to |c|'s unless it is there or |c| has
 * X5U_CRLS_MAX; the URL's bytes are added to |*cost|.  False when out of
 * memory.
 */
static bool add_dp(struct x5u_chain *c, X509 *cert, size_t *cost)
{
    char url[SKS_X5U_MAX + 1];
    size_t i;

    if (c->ndps == X5U_CRLS_MAX || !sks_cert_crl_url(cert, url, sizeof(url)))
        return true;
    for (i = 0; i < c->ndps; i++) {
        if (strcmp(c->dps[i].url, url) == 0)
            return true;
    }
    if ((c->dps[c->ndps].url = strdup(url)) == NULL)
        return false;
    c->dps[c->ndps++].named_by = cert;
    *cost += strlen(url) + 1;
    return true;
}

static void free_chain(void *value)
{
    struct x5u_chain *c = value;
    size_t i;

    for (i = 0; i < c->ndps; i++)
        free(c->dps[i].url);
    X509_free(c->ee);
    sk_X509_pop_free(c->intermediates, X509_free);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *parse_chain(const char *url, const struct sks_fetched *body, size_t *cost, long *ttl,
                         struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    char what[SKS_X5U_MAX + 32];
    struct x5u_chain *c;
    bool ok;
    int i;

    (void)ttl; /* the server says how long a chain may be kept */
    snprintf(what, sizeof(what), "the body of %s", url);
    if (sks_certs_parse(body->data, body->len, true, what, &certs, err) != SKS_OK)
        return NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        sk_X509_pop_free(certs, X509_free);
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    c->ee = sk_X509_shift(certs);
    c->intermediates = certs;
    c->not_before = LONG_MIN;
    c->not_after = LONG_MAX;
    *cost = SKS_X5U_COST_FACTOR * body->len;
    narrow(c->ee, &c->not_before, &c->not_after);
    ok = add_dp(c, c->ee, cost);
    for (i = 0; i < sk_X509_num(certs); i++) {
        narrow(sk_X509_value(certs, i), &c->not_before, &c->not_after);
        ok = ok && add_dp(c, sk_X509_value(certs, i), cost);
    }
    if (!ok) {
        free_chain(c);
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    return c;
}

struct sks_fetch_cache *sks_x5u_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch)
{
    return sks_fetch_cache_new(opts, fetch, parse_chain, free_chain);
}

/* ---- CRLs ------------------------------------------------------------------------ */

/* A CRL, parsed once; |id| tells one fetch of it from another. */
struct x5u_crl {
    X509_CRL *crl;
    unsigned long id;
    time_t next_update;
};

static _Atomic unsigned long crl_ids;

static void free_crl(void *value)
{
    struct x5u_crl *c = value;

    X509_CRL_free(c->crl);
    free(c);
}

/* A failure (invalid-crl) when |c|, from |url|, is past its nextUpdate at |now|. */
static sks_status crl_current(const struct x5u_crl *c, const char *url, time_t now,
                              struct sks_error *err)
{
    char when[32];

    if (now <= c->next_update)
        return SKS_OK;
    sks_time_format(when, sizeof(when), c->next_update);
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-crl", "url",
                          "the CRL at %s has expired: its nextUpdate is %s, and its issuer "
                          "publishes no newer one there",
                          url, when);
}

/* PEM or DER, current when fetched; kept no longer than its nextUpdate. */
static void *parse_crl(const char *url, const struct sks_fetched *body, size_t *cost, long *ttl,
                       struct sks_error *err)
{
    const unsigned char *p = body->data;
    struct x5u_crl *c = calloc(1, sizeof(*c));
    time_t now = time(NULL);
    BIO *bio;

    if (c == NULL) {
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    if ((bio = BIO_new_mem_buf(body->data, (int)body->len)) != NULL) {
        c->crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if (c->crl == NULL)
        c->crl = d2i_X509_CRL(NULL, &p, (long)body->len);
    ERR_clear_error();
    if (c->crl == NULL || X509_CRL_get0_nextUpdate(c->crl) == NULL ||
        !sks_asn1_time(X509_CRL_get0_nextUpdate(c->crl), &c->next_update)) {
        sks_fail_field(err, SKS_ERR_INPUT, "invalid-crl", "url",
                       "the body of %s is not a PEM or DER CRL with a nextUpdate", url);
        free_crl(c);
        return NULL;
    }
    if (crl_current(c, url, now, err) != SKS_OK) {
        free_crl(c);
        return NULL;
    }
    c->id = atomic_fetch_add(&crl_ids, 1) + 1;
    if (c->next_update - now < *ttl)
        *ttl = c->next_update > now ? (long)(c->next_update - now) : 0;
    *cost = SKS_X5U_COST_FACTOR * body->len;
    return c;
}

struct sks_fetch_cache *sks_crl_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch)
{
    return sks_fetch_cache_new(opts, fetch, parse_crl, free_crl);
}

sks_status sks_crl_get(void *cache, const char *url, X509_CRL **out, struct sks_error *err)
{
    struct sks_cached *entry = NULL;
    sks_status st = sks_fetch_cache_get(cache, url, &entry, err);

    if (st != SKS_OK)
        return st;
    *out = ((const struct x5u_crl *)sks_cached_value(entry))->crl;
    X509_CRL_up_ref(*out);
    sks_fetch_cache_put(cache, entry);
    return SKS_OK;
}

/* ---- the source ------------------------------------------------------------------ */

void sks_x5u_trust_init(struct sks_x5u_trust *trust, struct sks_fetch_cache *cache,
                        X509_STORE *roots, struct sks_fetch_cache *crls)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(roots);
    X509 *root;
    int i;

    trust->cache = cache;
    trust->roots = roots;
    trust->crls = crls;
    trust->not_before = LONG_MIN;
    trust->not_after = LONG_MAX;
    for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        if ((root = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i))) != NULL)
            narrow(root, &trust->not_before, &trust->not_after);
    }
}

/* The CRLs a chain is held to: |c|'s distribution points, each a cache reference or NULL. */
struct chain_crls {
    struct sks_cached *got[X5U_CRLS_MAX];
    size_t n; /* 0 when CRLs are not checked */
};

static const struct x5u_crl *crl_at(const struct chain_crls *crls, size_t i)
{
    return sks_cached_value(crls->got[i]);
}

/*
 * A CRL fetched for a certificate must be its issuer's and current: said
 * here, with the URL, rather than as the chain's "unable to get
 * certificate CRL" or "CRL has expired".
 */
static sks_status crls_usable(const struct x5u_chain *c, const struct chain_crls *crls, time_t now,
                              int *sip, struct sks_error *err)
{
    char issuer[256], crl_issuer[256];
    size_t i;

    for (i = 0; i < crls->n; i++) {
        const struct x5u_crl *crl = crl_at(crls, i);
        const X509_NAME *want = X509_get_issuer_name(c->dps[i].named_by);

        if (X509_NAME_cmp(X509_CRL_get_issuer(crl->crl), want) != 0) {
            X509_NAME_oneline(X509_CRL_get_issuer(crl->crl), crl_issuer, sizeof(crl_issuer));
            X509_NAME_oneline(want, issuer, sizeof(issuer));
            *sip = SKS_SIP_BAD_IDENTITY_INFO;
            return sks_fail_field(err, SKS_ERR_INPUT, "invalid-crl", "url",
                                  "the CRL at %s is issued by %s, not by %s, the issuer of the "
                                  "certificate that names it",
                                  c->dps[i].url, crl_issuer, issuer);
        }
        if (crl_current(crl, c->dps[i].url, now, err) != SKS_OK) {
            *sip = SKS_SIP_BAD_IDENTITY_INFO;
            return err->status;
        }
    }
    return SKS_OK;
}

/*
 * The verdict on |c| (by |crls| when CRLs are checked) as of |now|: the
 * one kept while |now| lies where it cannot change, else a fresh check
 * (kept when it can be).  A verdict outside the window is not kept: it
 * names the time it was made at.  The window ends at the earliest
 * nextUpdate of the CRLs (a CRL issued after |now| still judges it:
 * profile.c), and the kept verdict holds only for the very
 * CRLs it was made with: a warm lookup parses and verifies none.
 */
static sks_status judge(const struct sks_x5u_trust *t, struct x5u_chain *c,
                        const struct chain_crls *crls, time_t now,
                        struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    time_t from = c->not_before > t->not_before ? c->not_before : t->not_before;
    time_t until = c->not_after < t->not_after ? c->not_after : t->not_after;
    unsigned long ids[X5U_CRLS_MAX] = {0};
    STACK_OF(X509_CRL) *stack = NULL;
    bool keep;
    sks_status st;
    size_t i;

    for (i = 0; i < crls->n; i++) {
        const struct x5u_crl *crl = crl_at(crls, i);

        until = crl->next_update < until ? crl->next_update : until;
        ids[i] = crl->id;
    }
    keep = from <= now && now <= until;
    pthread_mutex_lock(&c->lock);
    if (keep && c->judged_roots == t->roots && memcmp(c->judged_crls, ids, sizeof(ids)) == 0) {
        *cred = c->verdict;
        *sip = c->sip;
        if (c->status != SKS_OK && err != NULL)
            *err = c->err;
        st = c->status;
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    pthread_mutex_unlock(&c->lock);
    if ((st = crls_usable(c, crls, now, sip, err)) != SKS_OK)
        return st;
    if (t->crls != NULL && (stack = sk_X509_CRL_new_reserve(NULL, (int)crls->n)) == NULL) {
        *sip = SKS_SIP_SERVER_ERROR;
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory checking the chain's CRLs");
    }
    for (i = 0; i < crls->n; i++)
        sk_X509_CRL_push(stack, crl_at(crls, i)->crl); /* reserved: cannot fail */
    st = sks_verify_cert(c->ee, c->intermediates, t->roots, stack, now, cred, sip, err);
    sk_X509_CRL_free(stack);
    if (keep) {
        pthread_mutex_lock(&c->lock);
        c->verdict = *cred;
        c->status = st;
        c->sip = *sip;
        if (st != SKS_OK && err != NULL)
            c->err = *err;
        c->judged_roots = t->roots;
        memcpy(c->judged_crls, ids, sizeof(ids));
        pthread_mutex_unlock(&c->lock);
    }
    return st;
}

/*
 * |url| from |cache|, waiting for a fetch or not; *|got| NULL and SKS_OK
 * when not |wait| and it must be fetched first.
 */
static sks_status not_cached(int *sip, struct sks_error *err, const char *what, const char *url)
{
    *sip = SKS_SIP_SERVER_ERROR;
    return sks_fail_field(err, SKS_ERR_UNAVAILABLE, SKS_X5U_NOT_CACHED, "x5u",
                          "%s %s is not in the cache: it must be fetched", what, url);
}

/* Whose CRL the |i|th of |c| is, for messages: the signer's, or an STI-CA's by subject. */
static void crl_owner(const struct x5u_chain *c, size_t i, char *out, size_t size)
{
    char subject[200];

    if (c->dps[i].named_by == c->ee) {
        snprintf(out, size, "the certificate's CRL");
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(c->dps[i].named_by), subject, sizeof(subject));
    snprintf(out, size, "the CRL of the intermediate (STI-CA) certificate %s", subject);
}

/*
 * The CRLs of |c|'s certificates when CRLs are checked, into |crls| (to be
 * put back with put_crls), each through the CRL cache; 436 when one cannot
 * be had.  A signer's certificate that names none gets none: the
 * profile's CRL rule refuses it.
 */
static sks_status crls_of(const struct sks_x5u_trust *t, bool wait, const struct x5u_chain *c,
                          struct chain_crls *crls, int *sip, struct sks_error *err)
{
    char what[320];
    sks_status st;

    crls->n = 0;
    if (t->crls == NULL)
        return SKS_OK;
    for (; crls->n < c->ndps; crls->n++) {
        st = sks_fetch_cache_lookup(t->crls, wait, c->dps[crls->n].url, &crls->got[crls->n], err);
        if (st == SKS_OK && crls->got[crls->n] != NULL)
            continue;
        crl_owner(c, crls->n, what, sizeof(what));
        if (st == SKS_OK)
            return not_cached(sip, err, what, c->dps[crls->n].url);
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        sks_error_prefix(err, "%s", what);
        return st;
    }
    return SKS_OK;
}

static void put_crls(const struct sks_x5u_trust *t, struct chain_crls *crls)
{
    size_t i;

    for (i = 0; i < crls->n; i++)
        sks_fetch_cache_put(t->crls, crls->got[i]);
    crls->n = 0;
}

/* The credential at |x5u|; without |wait|, only what the caches hold at once. */
static sks_status lookup(const struct sks_x5u_trust *t, bool wait, const char *x5u, time_t now,
                         struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    struct sks_cached *got = NULL;
    struct chain_crls crls;
    sks_status st;

    if ((st = sks_x5u_check(x5u, err)) != SKS_OK) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        return st;
    }
    if ((st = sks_fetch_cache_lookup(t->cache, wait, x5u, &got, err)) != SKS_OK) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        sks_error_prefix(err, "x5u");
        return st;
    }
    if (got == NULL)
        return not_cached(sip, err, "x5u", x5u);
    if ((st = crls_of(t, wait, sks_cached_value(got), &crls, sip, err)) == SKS_OK)
        st = judge(t, sks_cached_value(got), &crls, now, cred, sip, err);
    put_crls(t, &crls);
    if (st != SKS_OK) {
        sks_fetch_cache_put(t->cache, got);
        return st;
    }
    cred->ref = got;
    return SKS_OK;
}

static sks_status x5u_lookup(void *ctx, const char *x5u, time_t now,
                             struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    return lookup(ctx, true, x5u, now, cred, sip, err);
}

static sks_status x5u_lookup_cached(void *ctx, const char *x5u, time_t now,
                                    struct sks_verify_credential *cred, int *sip,
                                    struct sks_error *err)
{
    return lookup(ctx, false, x5u, now, cred, sip, err);
}

static void x5u_release(void *ctx, struct sks_verify_credential *cred)
{
    const struct sks_x5u_trust *t = ctx;

    sks_fetch_cache_put(t->cache, cred->ref);
    cred->ref = NULL;
}

void sks_x5u_source(struct sks_verify_source *src, const struct sks_x5u_trust *trust, bool wait)
{
    src->lookup = wait ? x5u_lookup : x5u_lookup_cached;
    src->release = x5u_release;
    src->ctx = (void *)trust;
}

bool sks_x5u_needs_fetch(const struct sks_error *err)
{
    return err->code != NULL && strcmp(err->code, SKS_X5U_NOT_CACHED) == 0;
}
