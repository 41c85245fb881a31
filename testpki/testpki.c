/*
 * The test SHAKEN PKI.  Certificates follow ATIS-1000080 and pass
 * OpenSSL's X509_V_FLAG_X509_STRICT checks (RFC 5280: SKID on CAs, AKID on
 * everything issued, critical BasicConstraints on CAs).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "profile/profile.h"
#include "testpki/testpki.h"

#define SECONDS_PER_DAY 86400L
/* Back-date notBefore so clocks a little behind still accept a new PKI. */
#define BACKDATE_SECONDS 3600L

sks_status sks_testpki_keygen(EVP_PKEY **key, struct sks_error *err)
{
    *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (*key == NULL) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot generate an EC P-256 key");
        sks_error_add_openssl(err);
        return SKS_ERR_SYSTEM;
    }
    return SKS_OK;
}

static sks_status ossl_fail(struct sks_error *err, const char *what)
{
    sks_fail(err, SKS_ERR_INTERNAL, "test PKI: cannot %s", what);
    sks_error_add_openssl(err);
    return SKS_ERR_INTERNAL;
}

/* A dotted OID: OpenSSL's config syntax would take a name too, which a --policy must not be. */
static bool oid_ok(const char *s)
{
    ASN1_OBJECT *o;

    if (s[0] == '\0' || strspn(s, "0123456789.") != strlen(s) || (o = OBJ_txt2obj(s, 1)) == NULL)
        return false;
    ASN1_OBJECT_free(o);
    return true;
}

static sks_status check_days(int days, struct sks_error *err)
{
    if (days < 1 || days > SKS_TESTPKI_DAYS_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "validity of %d days is out of range (1-%d)", days,
                        SKS_TESTPKI_DAYS_MAX);
    return SKS_OK;
}

/* A name from (field, value) pairs ending in NULL. */
static X509_NAME *name_new(const char *const *pairs)
{
    X509_NAME *name = X509_NAME_new();
    size_t i;

    for (i = 0; name != NULL && pairs[i] != NULL; i += 2) {
        if (!X509_NAME_add_entry_by_txt(name, pairs[i], MBSTRING_UTF8,
                                        (const unsigned char *)pairs[i + 1], -1, -1, 0)) {
            X509_NAME_free(name);
            name = NULL;
        }
    }
    return name;
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets; 127 random bits are unique enough. */
static int set_random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn != NULL && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

    BN_free(bn);
    return ok;
}

/*
 * The unsigned body every certificate here shares.  |subject| is (field,
 * value) pairs ending in NULL; a NULL |issuer| makes the certificate its own.
 */
static X509 *cert_new(const char *const *subject, const X509_NAME *issuer, EVP_PKEY *pub,
                      time_t not_before, time_t not_after)
{
    X509_NAME *name = name_new(subject);
    X509 *x = name != NULL ? X509_new() : NULL;

    if (x == NULL || !X509_set_version(x, X509_VERSION_3) || !set_random_serial(x) ||
        !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, issuer != NULL ? issuer : name) || !X509_set_pubkey(x, pub) ||
        ASN1_TIME_set(X509_getm_notBefore(x), not_before) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), not_after) == NULL) {
        X509_free(x);
        x = NULL;
    }
    X509_NAME_free(name);
    return x;
}

/* Adds an extension written in openssl.cnf syntax, e.g. "critical,CA:FALSE". */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    /* certificatePolicies is parsed by an r2i method, which insists on a config. */
    CONF *conf = NCONF_new_ex(NULL, NULL);
    X509_EXTENSION *ex = NULL;
    X509V3_CTX ctx;
    int ok = 0;

    if (conf == NULL)
        return 0;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509V3_set_nconf(&ctx, conf);
    ex = X509V3_EXT_nconf_nid(conf, &ctx, nid, value);
    ok = ex != NULL && X509_add_ext(x, ex, -1);
    X509_EXTENSION_free(ex);
    NCONF_free(conf);
    return ok;
}

static int add_tnauthlist(X509 *x, const struct sks_tn_entry *entries, size_t n, int critical,
                          struct sks_error *err)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ex = NULL;
    unsigned char *der = NULL;
    size_t len = 0;
    int ok = 0;

    if (oid == NULL || os == NULL)
        goto done;
    if (sks_tnauthlist_encode(entries, n, &der, &len, err) != SKS_OK)
        goto done;
    ok = ASN1_OCTET_STRING_set(os, der, (int)len) &&
         (ex = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, os)) != NULL &&
         X509_add_ext(x, ex, -1);
done:
    X509_EXTENSION_free(ex);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(oid);
    return ok;
}

static int sign_cert(X509 *x, EVP_PKEY *key, const char *digest)
{
    EVP_MD *md = EVP_MD_fetch(NULL, digest, NULL);
    int ok = md != NULL && X509_sign(x, key, md) > 0;

    EVP_MD_free(md);
    return ok;
}

/* A CRL distribution point naming |url|, the CRL |issuer| publishes of |x|. */
static int add_crl_dp(X509 *x, X509 *issuer, const char *url)
{
    char dp[SKS_X5U_MAX + 8];

    if ((size_t)snprintf(dp, sizeof(dp), "URI:%s", url) >= sizeof(dp))
        return 0;
    return add_ext(x, issuer, NID_crl_distribution_points, dp);
}

/* What tells the STI-PA root and the STI-CA intermediate apart. */
struct ca_spec {
    const char *const *subject;
    const char *basic_constraints;
    const char *policy;  /* NULL: no certificatePolicies */
    const char *crl_url; /* NULL: no CRL distribution point */
    const char *what;
};

/* A CA certificate for |key|, issued by |issuer| or self-signed when it is NULL. */
static sks_status make_ca_cert(const struct ca_spec *spec, X509 *issuer, EVP_PKEY *issuer_key,
                               EVP_PKEY *key, time_t now, int days, X509 **out,
                               struct sks_error *err)
{
    X509 *x, *by;
    sks_status st;

    if ((st = check_days(days, err)) != SKS_OK)
        return st;
    x = cert_new(spec->subject, issuer != NULL ? X509_get_subject_name(issuer) : NULL, key,
                 now - BACKDATE_SECONDS, now + days * SECONDS_PER_DAY);
    by = issuer != NULL ? issuer : x;
    if (x == NULL || !add_ext(x, by, NID_basic_constraints, spec->basic_constraints) ||
        !add_ext(x, by, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(x, by, NID_subject_key_identifier, "hash") ||
        !add_ext(x, by, NID_authority_key_identifier, "keyid:always") ||
        (spec->policy != NULL && !add_ext(x, by, NID_certificate_policies, spec->policy)) ||
        (spec->crl_url != NULL && !add_crl_dp(x, by, spec->crl_url)) ||
        !sign_cert(x, issuer_key != NULL ? issuer_key : key, "SHA256")) {
        X509_free(x);
        return ossl_fail(err, spec->what);
    }
    *out = x;
    return SKS_OK;
}

sks_status sks_testpki_make_root(EVP_PKEY *key, time_t now, int days, X509 **out,
                                 struct sks_error *err)
{
    static const char *const subject[] = {
        "C", "US", "O", "SKS Test STI-PA", "CN", "SKS Test STI-PA Root", NULL};
    static const struct ca_spec root = {subject, "critical,CA:TRUE", NULL, NULL,
                                        "make the STI-PA root certificate"};

    return make_ca_cert(&root, NULL, NULL, key, now, days, out, err);
}

static sks_status make_intermediate(X509 *root, EVP_PKEY *root_key, EVP_PKEY *key, time_t now,
                                    int days, const struct sks_testpki_opts *o, X509 **out,
                                    struct sks_error *err)
{
    static const char *const subject[] = {
        "C", "US", "O", "SKS Test STI-CA", "CN", "SKS Test STI-CA", NULL};
    const struct ca_spec ca = {subject, "critical,CA:TRUE,pathlen:0",
                               o->policy != NULL ? o->policy : SKS_TESTPKI_POLICY_OID,
                               o->ca_crl_url, "make the STI-CA intermediate certificate"};

    return make_ca_cert(&ca, root, root_key, key, now, days, out, err);
}

sks_status sks_testpki_make_intermediate(X509 *root, EVP_PKEY *root_key, EVP_PKEY *key, time_t now,
                                         int days, const struct sks_testpki_opts *opts, X509 **out,
                                         struct sks_error *err)
{
    static const struct sks_testpki_opts defaults;

    return make_intermediate(root, root_key, key, now, days, opts != NULL ? opts : &defaults, out,
                             err);
}

/* The extensions of an SP certificate, each one switchable for negative tests. */
static int add_ee_extensions(X509 *x, X509 *ca, const char *spc,
                             const struct sks_testpki_ee_opts *o, struct sks_error *err)
{
    const struct sks_tn_entry one_spc = {SKS_TN_SPC, spc, 0};
    const char *ku = "critical,digitalSignature";

    if (o->flags & SKS_TESTPKI_EE_KU_NOT_CRITICAL)
        ku = "digitalSignature";
    if (o->flags & SKS_TESTPKI_EE_KU_KEY_ENCIPHERMENT)
        ku = "critical,digitalSignature,keyEncipherment";
    if (!add_ext(x, ca, NID_basic_constraints,
                 (o->flags & SKS_TESTPKI_EE_CA_TRUE) ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
        !add_ext(x, ca, NID_key_usage, ku) || !add_ext(x, ca, NID_subject_key_identifier, "hash") ||
        !add_ext(x, ca, NID_authority_key_identifier, "keyid:always"))
        return 0;
    if (!(o->flags & SKS_TESTPKI_EE_NO_POLICY) &&
        !add_ext(x, ca, NID_certificate_policies,
                 o->policy != NULL ? o->policy : SKS_TESTPKI_POLICY_OID))
        return 0;
    if (!(o->flags & SKS_TESTPKI_EE_NO_CRL_DP) &&
        !add_crl_dp(x, ca, o->crl_url != NULL ? o->crl_url : SKS_TESTPKI_CRL_URL))
        return 0;
    if (o->flags & SKS_TESTPKI_EE_NO_TNAUTHLIST)
        return 1;
    if (o->tnauthlist != NULL)
        return add_tnauthlist(x, o->tnauthlist, o->tnauthlist_len,
                              (o->flags & SKS_TESTPKI_EE_TNAUTHLIST_CRITICAL) != 0, err);
    return add_tnauthlist(x, &one_spc, 1, (o->flags & SKS_TESTPKI_EE_TNAUTHLIST_CRITICAL) != 0,
                          err);
}

sks_status sks_testpki_issue_ee(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub, const char *spc,
                                time_t now, int days, const struct sks_testpki_ee_opts *opts,
                                X509 **out, struct sks_error *err)
{
    static const struct sks_testpki_ee_opts compliant;
    const struct sks_testpki_ee_opts *o = opts != NULL ? opts : &compliant;
    char org[SKS_SPC_MAX + 32], shaken[SKS_SPC_MAX + 32];
    const char *subject[] = {"C", "US", "O", org, "CN", o->cn != NULL ? o->cn : shaken, NULL};
    X509 *x;
    sks_status st;

    if ((st = check_days(days, err)) != SKS_OK)
        return st;
    if (spc == NULL || spc[0] == '\0' || strlen(spc) > SKS_SPC_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "an SPC of 1 to %d characters is required",
                        SKS_SPC_MAX);
    snprintf(org, sizeof(org), "SKS Test SP %s", spc);
    snprintf(shaken, sizeof(shaken), "SHAKEN %s", spc);
    x = cert_new(subject, X509_get_subject_name(ca), pub,
                 o->not_before != 0 ? o->not_before : now - BACKDATE_SECONDS,
                 o->not_after != 0 ? o->not_after : now + days * SECONDS_PER_DAY);
    if (x == NULL || !add_ee_extensions(x, ca, spc, o, err) ||
        !sign_cert(x, ca_key, o->digest != NULL ? o->digest : "SHA256")) {
        X509_free(x);
        st = ossl_fail(err, "issue the SP certificate");
        sks_error_prefix(err, "SPC %s", spc);
        return st;
    }
    *out = x;
    return SKS_OK;
}

sks_status sks_testpki_make_crl(X509 *ca, EVP_PKEY *ca_key, time_t now, int days, X509_CRL **out,
                                struct sks_error *err)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, now);
    ASN1_TIME *next = ASN1_TIME_set(NULL, now + days * SECONDS_PER_DAY);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    X509_EXTENSION *akid = NULL;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    X509V3_CTX ctx;
    sks_status st = check_days(days, err);

    if (st != SKS_OK)
        goto done;
    st = SKS_ERR_INTERNAL;
    if (crl == NULL || last == NULL || next == NULL || number == NULL || md == NULL ||
        !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
        !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next) ||
        !ASN1_INTEGER_set(number, 1) ||
        !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, X509V3_ADD_DEFAULT))
        goto done;
    X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
    akid = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
    if (akid == NULL || !X509_CRL_add_ext(crl, akid, -1) || X509_CRL_sign(crl, ca_key, md) <= 0)
        goto done;
    *out = crl;
    crl = NULL;
    st = SKS_OK;
done:
    if (st == SKS_ERR_INTERNAL)
        ossl_fail(err, "make the CRL");
    X509_EXTENSION_free(akid);
    EVP_MD_free(md);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(next);
    ASN1_TIME_free(last);
    X509_CRL_free(crl);
    return st;
}

sks_status sks_testpki_csr_pubkey(X509_REQ *req, EVP_PKEY **pub, struct sks_error *err)
{
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    sks_status st;

    if (pk == NULL) {
        ERR_clear_error();
        return sks_fail(err, SKS_ERR_INPUT, "the CSR's public key does not decode");
    }
    if (X509_REQ_verify(req, pk) != 1) {
        ERR_clear_error();
        return sks_fail(err, SKS_ERR_VERIFY,
                        "the CSR's signature does not verify with its own public key");
    }
    st = sks_profile_check_key(pk, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "CSR");
        return st;
    }
    if (!EVP_PKEY_up_ref(pk))
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    *pub = pk;
    return SKS_OK;
}

sks_status sks_testpki_create(struct sks_testpki *pki, time_t now, int days, struct sks_error *err)
{
    return sks_testpki_create_opts(pki, now, days, NULL, err);
}

sks_status sks_testpki_create_opts(struct sks_testpki *pki, time_t now, int days,
                                   const struct sks_testpki_opts *opts, struct sks_error *err)
{
    static const struct sks_testpki_opts defaults;
    const struct sks_testpki_opts *o = opts != NULL ? opts : &defaults;
    sks_status st;

    memset(pki, 0, sizeof(*pki));
    pki->now = now;
    pki->days = days;
    pki->policy = o->policy;
    if (o->policy != NULL && !oid_ok(o->policy))
        return sks_fail(err, SKS_ERR_INPUT, "certificate policy \"%.80s\" is not an OID",
                        o->policy);
    if ((st = sks_testpki_keygen(&pki->root_key, err)) != SKS_OK ||
        (st = sks_testpki_keygen(&pki->ca_key, err)) != SKS_OK ||
        (st = sks_testpki_make_root(pki->root_key, now, days, &pki->root, err)) != SKS_OK ||
        (st = make_intermediate(pki->root, pki->root_key, pki->ca_key, now, days, o, &pki->ca,
                                err)) != SKS_OK ||
        (st = sks_testpki_make_crl(pki->ca, pki->ca_key, now, days, &pki->crl, err)) != SKS_OK ||
        (st = sks_testpki_make_crl(pki->root, pki->root_key, now, days, &pki->root_crl, err)) !=
            SKS_OK)
        sks_testpki_cleanup(pki);
    return st;
}

sks_status sks_testpki_issue(const struct sks_testpki *pki, EVP_PKEY *pub, const char *spc,
                             const struct sks_testpki_ee_opts *opts, X509 **out,
                             struct sks_error *err)
{
    struct sks_testpki_ee_opts o = {0};

    if (opts != NULL)
        o = *opts;
    if (o.policy == NULL)
        o.policy = pki->policy;
    return sks_testpki_issue_ee(pki->ca, pki->ca_key, pub, spc, pki->now, pki->days, &o, out, err);
}

sks_status sks_testpki_trust(const struct sks_testpki *pki, X509_STORE **roots,
                             STACK_OF(X509) * *chain, struct sks_error *err)
{
    *roots = X509_STORE_new();
    *chain = sk_X509_new_null();
    if (*roots == NULL || *chain == NULL || !X509_STORE_add_cert(*roots, pki->root) ||
        !X509_add_cert(*chain, pki->ca, X509_ADD_FLAG_UP_REF)) {
        X509_STORE_free(*roots);
        sk_X509_pop_free(*chain, X509_free);
        *roots = NULL;
        *chain = NULL;
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory setting up the test PKI's trust");
    }
    return SKS_OK;
}

void sks_testpki_cleanup(struct sks_testpki *pki)
{
    X509_CRL_free(pki->root_crl);
    X509_CRL_free(pki->crl);
    X509_free(pki->ca);
    EVP_PKEY_free(pki->ca_key);
    X509_free(pki->root);
    EVP_PKEY_free(pki->root_key);
    memset(pki, 0, sizeof(*pki));
}
