/* The x5u credential source: fetch/cache.h with checked certificate chains as its values. */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "profile/certs.h"
#include "shaken/rules.h"
#include "verify/x5u.h"

/*
 * What a cached chain takes on the heap, per byte of its PEM: 8, measured
 * by bench_fetch_cache (the parsed X509 objects, the entry and its URL).
 */
#define X5U_COST_FACTOR 8

/* One x5u's certificates and the verdict on them, made once and kept. */
struct x5u_chain {
    X509 *ee;
    STACK_OF(X509) * intermediates;
    time_t not_before, not_after;   /* where every certificate of the body is valid */
    pthread_mutex_t lock;           /* guards what follows */
    const X509_STORE *judged_roots; /* NULL: not judged yet */
    time_t judged_from, judged_until;
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

static void free_chain(void *value)
{
    struct x5u_chain *c = value;

    X509_free(c->ee);
    sk_X509_pop_free(c->intermediates, X509_free);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void *parse_chain(const char *url, const struct sks_fetched *body, size_t *cost,
                         struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    char what[SKS_X5U_MAX + 32];
    struct x5u_chain *c;
    int i;

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
    narrow(c->ee, &c->not_before, &c->not_after);
    for (i = 0; i < sk_X509_num(certs); i++)
        narrow(sk_X509_value(certs, i), &c->not_before, &c->not_after);
    *cost = X5U_COST_FACTOR * body->len;
    return c;
}

struct sks_fetch_cache *sks_x5u_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch)
{
    return sks_fetch_cache_new(opts, fetch, parse_chain, free_chain);
}

void sks_x5u_trust_init(struct sks_x5u_trust *trust, struct sks_fetch_cache *cache,
                        X509_STORE *roots)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(roots);
    X509 *root;
    int i;

    trust->cache = cache;
    trust->roots = roots;
    trust->not_before = LONG_MIN;
    trust->not_after = LONG_MAX;
    for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        if ((root = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i))) != NULL)
            narrow(root, &trust->not_before, &trust->not_after);
    }
}

/*
 * The verdict on |c| as of |now|: the one kept while |now| lies where it
 * cannot change, else a fresh check (kept when it can be).  A verdict
 * outside the window is not kept: it names the time it was made at.
 */
static sks_status judge(const struct sks_x5u_trust *t, struct x5u_chain *c, time_t now,
                        struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    time_t from = c->not_before > t->not_before ? c->not_before : t->not_before;
    time_t until = c->not_after < t->not_after ? c->not_after : t->not_after;
    bool keep = from <= now && now <= until;
    sks_status st;

    pthread_mutex_lock(&c->lock);
    if (keep && c->judged_roots == t->roots) {
        *cred = c->verdict;
        *sip = c->sip;
        if (c->status != SKS_OK && err != NULL)
            *err = c->err;
        st = c->status;
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    pthread_mutex_unlock(&c->lock);
    st = sks_verify_cert(c->ee, c->intermediates, t->roots, now, cred, sip, err);
    if (keep) {
        pthread_mutex_lock(&c->lock);
        c->verdict = *cred;
        c->status = st;
        c->sip = *sip;
        if (st != SKS_OK && err != NULL)
            c->err = *err;
        c->judged_roots = t->roots;
        pthread_mutex_unlock(&c->lock);
    }
    return st;
}

/* The credential at |x5u|; without |wait|, only what the cache holds at once. */
static sks_status lookup(const struct sks_x5u_trust *t, bool wait, const char *x5u, time_t now,
                         struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    struct sks_cached *got = NULL;
    sks_status st;

    if ((st = sks_x5u_check(x5u, err)) != SKS_OK) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        return st;
    }
    if (wait) {
        st = sks_fetch_cache_get(t->cache, x5u, &got, err);
    } else if (!sks_fetch_cache_try(t->cache, x5u, &got, err, &st)) {
        *sip = SKS_SIP_SERVER_ERROR;
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, SKS_X5U_NOT_CACHED, "x5u",
                              "x5u %s is not in the cache: it must be fetched", x5u);
    }
    if (st != SKS_OK) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        sks_error_prefix(err, "x5u");
        return st;
    }
    if ((st = judge(t, sks_cached_value(got), now, cred, sip, err)) != SKS_OK) {
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
