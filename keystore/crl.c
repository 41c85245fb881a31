/*
 * Revocation: a version's chain held to the CRLs its certificates name.
 *
 * The key store reads the certificate and chain it stores, and takes the
 * CRLs from the source its opener configured (sksctl and sksd fetch them
 * through the guarded HTTPS fetcher): the token code has no network in it,
 * and no CRL is fetched while a lock is held, so that a slow CRL server
 * never holds up a writer or a signer's cache refresh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "keystore/internal.h"
#include "profile/certs.h"

/* The signer's CRL, the STI-CA's and room to spare (as verify/x5u.c). */
#define KS_CRLS_MAX 4

/* The version's certificates and the CRLs they name, for one check. */
struct ks_crl_check {
    unsigned int n;
    unsigned char id[KS_ID_LEN];
    X509 *cert;
    STACK_OF(X509) * chain;
    size_t ndps;
    char url[KS_CRLS_MAX][SKS_X5U_MAX + 1];
    X509 *named_by[KS_CRLS_MAX]; /* the first certificate that names url[i] */
    X509_CRL *crl[KS_CRLS_MAX];
};

sks_status ks_version_chain(struct sks_keystore *ks, const struct ks_version *v,
                            STACK_OF(X509) * *out, struct sks_error *err)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct ks_obj *o;
    sks_status st = chain != NULL ? SKS_OK : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");

    for (o = ks_index_objects(ks->index, v->id); st == SKS_OK && o != NULL; o = o->next) {
        unsigned char *der = NULL;
        const unsigned char *p;
        size_t len = 0;
        X509 *x = NULL;

        if (o->cls != P11_CERTIFICATE || strstr(o->label, "/ca") == NULL)
            continue;
        st = p11_store_get_value(ks->tok, o->h, P11_ATTR_VALUE, KS_CERT_MAX, &der, &len, err);
        p = der;
        if (st == SKS_OK &&
            ((x = d2i_X509(NULL, &p, (long)len)) == NULL || !sk_X509_push(chain, x))) {
            X509_free(x);
            st = sks_fail(err, SKS_ERR_TOKEN, "the chain certificate %s does not decode", o->label);
        }
        free(der);
    }
    if (st != SKS_OK) {
        sk_X509_pop_free(chain, X509_free);
        return st;
    }
    *out = chain;
    return SKS_OK;
}

static void check_free(struct ks_crl_check *c)
{
    size_t i;

    for (i = 0; i < c->ndps; i++)
        X509_CRL_free(c->crl[i]);
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
}

static void add_dp(struct ks_crl_check *c, X509 *cert)
{
    char url[SKS_X5U_MAX + 1];
    size_t i;

    if (c->ndps == KS_CRLS_MAX || !sks_cert_crl_url(cert, url, sizeof(url)))
        return;
    for (i = 0; i < c->ndps; i++) {
        if (strcmp(c->url[i], url) == 0)
            return;
    }
    strcpy(c->url[c->ndps], url);
    c->named_by[c->ndps++] = cert;
}

/* Reads version |n| (0: the active one) of |identity| and the CRLs it names (index_lock held). */
static sks_status read_version(struct sks_keystore *ks, const char *identity, unsigned int n,
                               struct ks_crl_check *c, struct sks_error *err)
{
    struct ks_index *idx;
    struct ks_ident id;
    struct ks_version *v;
    char x5u[SKS_X5U_MAX + 1];
    sks_status st;
    int i;

    st = ks_ident_load(ks, identity, &id, err);
    if (st == SKS_OK && !id.exists)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no identity %s on %s", identity,
                      p11_token_uri(ks->tok));
    if (st != SKS_OK)
        return st;
    if (n == 0 && (n = id.rec.active) == 0)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no active key version", identity);
    if ((v = ks_record_find(&id.rec, n)) == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no version %u", identity, n);
    if (v->state == SKS_VERSION_PENDING || v->state == SKS_VERSION_WRITING)
        return sks_fail(err, SKS_ERR_POLICY,
                        "identity %s version %u is %s: it has no certificate to check", identity, n,
                        sks_version_state_name(v->state));
    c->n = n;
    memcpy(c->id, v->id, KS_ID_LEN);
    if ((st = ks_index_get(ks, &idx, err)) != SKS_OK ||
        (st = ks_index_find_id(ks, idx, v->id, err)) != SKS_OK ||
        (st = ks_version_cert(ks, identity, v, &c->cert, x5u, err)) != SKS_OK ||
        (st = ks_version_chain(ks, v, &c->chain, err)) != SKS_OK)
        return st;
    add_dp(c, c->cert);
    for (i = 0; i < sk_X509_num(c->chain); i++)
        add_dp(c, sk_X509_value(c->chain, i));
    return SKS_OK;
}

/* "the certificate of sp-main version 3" or "the STI-CA certificate /CN=...". */
static void whose(const struct ks_crl_check *c, const char *identity, X509 *cert, char *out,
                  size_t size)
{
    char subject[256];

    char of[SKS_IDENTITY_NAME_MAX + 48];

    if (c->n != 0)
        snprintf(of, sizeof(of), "%s version %u", identity, c->n);
    else
        snprintf(of, sizeof(of), "the first version of %s", identity);
    if (cert == c->cert) {
        snprintf(out, size, "the certificate of %s", of);
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    snprintf(out, size, "the STI-CA certificate %s of %s", subject, of);
}

/* The CRL |i| is the issuer's of the certificate that names it, and current at |now|. */
static sks_status crl_usable(const struct ks_crl_check *c, const char *identity, size_t i,
                             time_t now, time_t *next_update, struct sks_error *err)
{
    char who[400], got[256], want[256], when[32];
    X509_CRL *crl = c->crl[i];
    time_t last = 0, next = 0;

    whose(c, identity, c->named_by[i], who, sizeof(who));
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(c->named_by[i])) != 0) {
        X509_NAME_oneline(X509_CRL_get_issuer(crl), got, sizeof(got));
        X509_NAME_oneline(X509_get_issuer_name(c->named_by[i]), want, sizeof(want));
        return sks_fail_field(
            err, SKS_ERR_POLICY, SKS_CODE_CRL_INVALID, "crl",
            "the CRL at %s, which %s names, is issued by %s, not by its issuer %s", c->url[i], who,
            got, want);
    }
    if (X509_CRL_get0_nextUpdate(crl) == NULL ||
        !sks_asn1_time(X509_CRL_get0_lastUpdate(crl), &last) ||
        !sks_asn1_time(X509_CRL_get0_nextUpdate(crl), &next))
        return sks_fail_field(err, SKS_ERR_POLICY, SKS_CODE_CRL_INVALID, "crl",
                              "the CRL at %s, which %s names, has no readable lastUpdate and "
                              "nextUpdate",
                              c->url[i], who);
    /* One issued after |now| (an issuer's clock ahead of ours) still holds: profile.h. */
    if (now > next) {
        sks_time_format(when, sizeof(when), next);
        return sks_fail_field(err, SKS_ERR_POLICY, SKS_CODE_CRL_INVALID, "crl",
                              "the CRL at %s, which %s names, has expired: its nextUpdate is %s",
                              c->url[i], who, when);
    }
    if (*next_update == 0 || next < *next_update)
        *next_update = next;
    return SKS_OK;
}

/* After the chain failed with its CRLs: a listed certificate says so, naming the CRL. */
static sks_status judged(const struct ks_crl_check *c, const char *identity,
                         const struct sks_profile_result *res, struct sks_crl_verdict *v,
                         struct sks_error *err)
{
    char who[400], serial[80] = "?", when[32] = "?";
    X509_REVOKED *rev = NULL;
    time_t t;
    size_t i;

    for (i = 0; strstr(res->detail, "is revoked") != NULL && i < c->ndps; i++) {
        BIGNUM *bn;
        char *hex;

        if (X509_CRL_get0_by_cert(c->crl[i], &rev, c->named_by[i]) != 1)
            continue;
        v->revoked = true;
        whose(c, identity, c->named_by[i], who, sizeof(who));
        if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->named_by[i]), NULL)) != NULL &&
            (hex = BN_bn2hex(bn)) != NULL) {
            snprintf(serial, sizeof(serial), "%s", hex);
            OPENSSL_free(hex);
        }
        BN_free(bn);
        if (sks_asn1_time(X509_REVOKED_get0_revocationDate(rev), &t))
            sks_time_format(when, sizeof(when), t);
        ERR_clear_error();
        return sks_fail_field(err, SKS_ERR_POLICY, SKS_CODE_CERT_REVOKED, "crl",
                              "%s (serial %s) is revoked: the CRL at %s lists it, revoked at %s",
                              who, serial, c->url[i], when);
    }
    ERR_clear_error();
    whose(c, identity, c->cert, who, sizeof(who));
    return sks_fail_field(err, SKS_ERR_POLICY, SKS_CODE_CRL_INVALID, "crl",
                          "the chain of %s does not pass with the CRLs it names (%s%s%s): %s", who,
                          c->url[0], c->ndps > 1 ? ", " : "", c->ndps > 1 ? c->url[1] : "",
                          res->detail);
}

static sks_status fetch_crls(struct sks_keystore *ks, const char *identity, struct ks_crl_check *c,
                             struct sks_error *err)
{
    const struct sks_crl_source *src = ks->cfg.crls;
    char who[400];
    sks_status st;
    size_t i;

    for (i = 0; i < c->ndps; i++) {
        struct sks_error why;
        bool unavailable;

        sks_error_clear(&why);
        if ((st = src->get(src->arg, c->url[i], &c->crl[i], &why)) == SKS_OK)
            continue;
        c->crl[i] = NULL;
        whose(c, identity, c->named_by[i], who, sizeof(who));
        unavailable = why.code == NULL || strncmp(why.code, "fetch-", 6) == 0;
        return sks_fail_field(err, unavailable ? SKS_ERR_UNAVAILABLE : SKS_ERR_POLICY,
                              unavailable ? SKS_CODE_CRL_UNAVAILABLE : SKS_CODE_CRL_INVALID, "crl",
                              "the CRL of %s at %s %s: %s", who, c->url[i],
                              unavailable ? "cannot be had" : "is no good", why.msg);
    }
    return SKS_OK;
}

/* The chain and CRL distribution points of |c| (cert and chain read) held to their CRLs. */
static sks_status judge(struct sks_keystore *ks, const char *identity, struct ks_crl_check *c,
                        struct sks_crl_verdict *v, struct sks_error *err)
{
    struct sks_profile_result res;
    STACK_OF(X509_CRL) *stack = NULL;
    time_t now = ks_now();
    char who[400];
    sks_status st = SKS_OK;
    size_t i;

    v->version = c->n;
    v->ncrls = c->ndps;
    if (c->ndps == 0) {
        whose(c, identity, c->cert, who, sizeof(who));
        return sks_fail_field(err, SKS_ERR_POLICY, SKS_CODE_CRL_INVALID, "crl",
                              "%s names no https CRL distribution point", who);
    }
    st = fetch_crls(ks, identity, c, err);
    for (i = 0; st == SKS_OK && i < c->ndps; i++)
        st = crl_usable(c, identity, i, now, &v->next_update, err);
    if (st == SKS_OK && (stack = sk_X509_CRL_new_null()) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    for (i = 0; st == SKS_OK && i < c->ndps; i++) {
        if (!sk_X509_CRL_push(stack, c->crl[i]))
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    if (st == SKS_OK &&
        sks_profile_check_crls(c->cert, c->chain, ks->cfg.roots, stack, now, &res, NULL) != SKS_OK)
        st = judged(c, identity, &res, v, err);
    sk_X509_CRL_free(stack);
    return st;
}

static sks_status need_source(struct sks_keystore *ks, const char *identity, struct sks_error *err)
{
    if (ks->cfg.crls != NULL && ks->cfg.roots != NULL)
        return SKS_OK;
    return sks_fail(err, SKS_ERR_INPUT,
                    "checking the CRLs of %s needs a CRL source and the trust anchors "
                    "(trust_anchors)",
                    identity);
}

/* The check, and in |id| the CKA_ID of the version it judged. */
static sks_status crl_check(struct sks_keystore *ks, const char *identity, unsigned int n,
                            struct sks_crl_verdict *v, unsigned char id[KS_ID_LEN],
                            struct sks_error *err)
{
    struct ks_crl_check c;
    sks_status st;

    memset(v, 0, sizeof(*v));
    memset(&c, 0, sizeof(c));
    if ((st = need_source(ks, identity, err)) != SKS_OK)
        return st;
    pthread_mutex_lock(&ks->index_lock);
    st = read_version(ks, identity, n, &c, err);
    pthread_mutex_unlock(&ks->index_lock);
    if (st == SKS_OK)
        st = judge(ks, identity, &c, v, err);
    memcpy(id, c.id, KS_ID_LEN);
    check_free(&c);
    return st;
}

sks_status ks_crl_check_way_in(struct sks_keystore *ks, const char *identity,
                               const struct sks_credentials *cred, struct sks_error *err)
{
    struct sks_profile_result res;
    struct sks_crl_verdict v;
    struct ks_crl_check c;
    struct ks_ident id;
    bool first;
    sks_status st;
    int i;

    /* Without trust anchors or a certificate the way in refuses it, naming that. */
    if (ks->cfg.crls == NULL || ks->cfg.roots == NULL || cred == NULL || cred->cert == NULL)
        return SKS_OK;
    pthread_mutex_lock(&ks->index_lock);
    st = ks_ident_load(ks, identity, &id, NULL);
    pthread_mutex_unlock(&ks->index_lock);
    first = st == SKS_OK && (!id.exists || id.rec.active == 0);
    /* A way in that fails to read the identity says why itself; a standby needs no check. */
    if (!first)
        return SKS_OK;
    memset(&v, 0, sizeof(v));
    memset(&c, 0, sizeof(c));
    /* Credentials that break the profile are refused by the way in, with the rule named. */
    if (sks_profile_check(cred->cert, cred->chain, ks->cfg.roots, ks_now(), &res, NULL) != SKS_OK)
        return SKS_OK;
    c.cert = cred->cert;
    X509_up_ref(c.cert);
    c.chain = cred->chain != NULL ? X509_chain_up_ref(cred->chain) : sk_X509_new_null();
    if (c.chain == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    add_dp(&c, c.cert);
    for (i = 0; st == SKS_OK && i < sk_X509_num(c.chain); i++)
        add_dp(&c, sk_X509_value(c.chain, i));
    if (st == SKS_OK)
        st = judge(ks, identity, &c, &v, err);
    check_free(&c);
    if (st != SKS_OK)
        sks_error_prefix(err, "%s cannot be imported: it would become the active version",
                         identity);
    return st;
}

sks_status sks_keystore_crl_check(struct sks_keystore *ks, const char *identity,
                                  unsigned int version, struct sks_crl_verdict *v,
                                  struct sks_error *err)
{
    unsigned char id[KS_ID_LEN];

    return crl_check(ks, identity, version, v, id, err);
}

sks_status ks_crl_check_for_activation(struct sks_keystore *ks, const char *identity,
                                       unsigned int version, unsigned char id[KS_ID_LEN],
                                       struct sks_error *err)
{
    struct sks_crl_verdict v;
    sks_status st = crl_check(ks, identity, version, &v, id, err);

    if (st != SKS_OK)
        sks_error_prefix(err, "identity %s version %u cannot be activated", identity, version);
    return st;
}
