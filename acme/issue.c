/* Issuance into the key store (issue.h): generate, order, check, attach. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "acme/issue.h"

/* The CSR the key store wrote (PEM in |bio|): DER and public key. */
static sks_status read_csr(BIO *bio, unsigned char **der, size_t *len, EVP_PKEY **pub,
                           struct sks_error *err)
{
    X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    int n;

    *der = NULL;
    if (req == NULL || (n = i2d_X509_REQ(req, der)) <= 0 ||
        (*pub = EVP_PKEY_dup(X509_REQ_get0_pubkey(req))) == NULL) {
        X509_REQ_free(req);
        OPENSSL_free(*der);
        *der = NULL;
        return sks_fail(err, SKS_ERR_INTERNAL, "cannot read back the CSR the token signed");
    }
    *len = (size_t)n;
    X509_REQ_free(req);
    return SKS_OK;
}

/* The leaf and the rest of the PEM chain |pem|; every certificate must parse. */
static sks_status parse_chain(const char *pem, size_t len, X509 **leaf, STACK_OF(X509) * *rest,
                              struct sks_error *err)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    unsigned long e;

    *leaf = NULL;
    *rest = sk_X509_new_null();
    if (b == NULL || *rest == NULL) {
        BIO_free(b);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (*leaf == NULL)
            *leaf = x;
        else if (sk_X509_push(*rest, x) <= 0)
            X509_free(x);
    }
    e = ERR_peek_last_error();
    BIO_free(b);
    /* The end of the input ends the loop; anything else is a certificate that did not parse. */
    if (*leaf == NULL ||
        !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        ERR_clear_error();
        return sks_fail_field(
            err, SKS_ERR_POLICY, "acme-protocol", "acme", "ACME server: the downloaded chain %s",
            *leaf == NULL ? "holds no certificate" : "holds a certificate that does not parse");
    }
    ERR_clear_error();
    return SKS_OK;
}

/* A CSR kept from an interrupted issuance: a copy of its DER and its public key. */
static sks_status csr_from_der(const unsigned char *in, size_t len, unsigned char **der,
                               size_t *out_len, EVP_PKEY **pub, struct sks_error *err)
{
    const unsigned char *p = in;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);

    *der = NULL;
    if (req == NULL || (*pub = EVP_PKEY_dup(X509_REQ_get0_pubkey(req))) == NULL ||
        (*der = OPENSSL_memdup(in, len)) == NULL) {
        X509_REQ_free(req);
        ERR_clear_error();
        return sks_fail(err, SKS_ERR_INPUT,
                        "the CSR kept for the interrupted order does not parse");
    }
    *out_len = len;
    X509_REQ_free(req);
    return SKS_OK;
}

struct created_ctx {
    const struct acme_issue_request *r;
    unsigned int version;
    const unsigned char *der;
    size_t len;
};

static sks_status order_created(void *arg, const char *order_url, struct sks_error *err)
{
    struct created_ctx *cc = arg;

    return cc->r->created(cc->r->created_arg, order_url, cc->version, cc->der, cc->len, err);
}

static sks_status write_chain(const char *path, const char *pem, size_t len, struct sks_error *err)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fwrite(pem, 1, len, f) != len || fclose(f) != 0) {
        int e = errno;

        if (f != NULL)
            fclose(f);
        unlink(path);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot write the chain to %s: %s", path, strerror(e));
    }
    return SKS_OK;
}

/* What sks_keystore_list tells of one identity: its active version and a version's x5u. */
struct identity_find {
    const char *name;
    unsigned int version; /* whose x5u is wanted, 0: none */
    unsigned int active;
    bool version_found;
    char *x5u;
};

static int identity_find_cb(const struct sks_identity_info *info, void *arg)
{
    struct identity_find *f = arg;

    if (strcmp(info->name, f->name) != 0)
        return 0;
    f->active = info->active;
    for (size_t i = 0; i < info->nversions; i++)
        if (info->versions[i].version == f->version && f->x5u != NULL) {
            snprintf(f->x5u, SKS_X5U_MAX + 1, "%s", info->versions[i].x5u);
            f->version_found = true;
        }
    return 1;
}

/* Publishes and checks the chain of |identity| version |v| at |x5u|; names the version. */
static sks_status publish_version(const struct acme_issue_request *r, unsigned int v,
                                  const char *x5u, const char *chain, size_t len,
                                  struct sks_error *err)
{
    sks_status st = acme_publish(r->publisher, r->identity, v, x5u, chain, len, err);

    if (st != SKS_OK)
        sks_error_prefix(err, "%s version %u was not activated", r->identity, v);
    return st;
}

sks_status acme_issue(struct acme_client *c, struct sks_keystore *ks,
                      const struct acme_issue_request *r, unsigned int *version,
                      struct sks_error *err)
{
    struct acme_order_request o = {.identifiers = r->identifiers,
                                   .nidentifiers = r->nidentifiers,
                                   .challenge_type = r->challenge_type,
                                   .answer = r->answer,
                                   .answer_fn = r->answer_fn,
                                   .answer_arg = r->answer_arg};
    BIO *csr = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    EVP_PKEY *pub = NULL;
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = NULL;
    char *chain = NULL, x5u[SKS_X5U_MAX + 1];
    size_t chain_len = 0;
    unsigned int v = 0;
    struct identity_find found = {.name = r->identity};
    bool publish_first = false;
    struct created_ctx cc = {r, 0, NULL, 0};
    sks_status st;

    if (r->publisher != NULL && !r->attach) {
        BIO_free(csr);
        return sks_fail(err, SKS_ERR_INPUT, "publication activates: it needs attach");
    }
    if (csr == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (r->resume != NULL) {
        v = r->resume->version;
        st = csr_from_der(r->resume->csr_der, r->resume->csr_len, &der, &o.csr_len, &pub, err);
        o.resume_url = r->resume->order_url;
    } else {
        st = sks_keystore_generate_dns(ks, r->identity, r->spc, r->csr_dns, csr, &v, err);
        if (st != SKS_OK) {
            BIO_free(csr);
            return st;
        }
        st = read_csr(csr, &der, &o.csr_len, &pub, err);
    }
    o.csr_der = der;
    cc = (struct created_ctx){r, v, der, o.csr_len};
    if (r->created != NULL) {
        o.created = order_created;
        o.created_arg = &cc;
        /* The new version first, so that one interrupted before the order is not lost track of. */
        if (st == SKS_OK && r->resume == NULL)
            st = r->created(r->created_arg, NULL, v, der, o.csr_len, err);
    }
    if (st == SKS_OK)
        st = acme_order_certificate(c, &o, &chain, &chain_len, NULL, err);
    if (st == SKS_OK)
        st = parse_chain(chain, chain_len, &leaf, &rest, err);
    if (st == SKS_OK && EVP_PKEY_eq(X509_get0_pubkey(leaf), pub) != 1)
        st = sks_fail_field(err, SKS_ERR_POLICY, "key-match", "acme",
                            "ACME server: the certificate issued is not for the key generated "
                            "for %s version %u (its public key differs)",
                            r->identity, v);
    if (st == SKS_OK && r->chain_out != NULL)
        st = write_chain(r->chain_out, chain, chain_len, err);
    snprintf(x5u, sizeof(x5u), "%s", r->x5u != NULL ? r->x5u : "");
    if (st == SKS_OK && r->publisher != NULL && r->x5u == NULL)
        st = acme_publisher_x5u(r->publisher, r->identity, v, x5u, sizeof(x5u), err);
    if (st == SKS_OK && r->publisher != NULL) {
        st = sks_keystore_list_one(ks, r->identity, identity_find_cb, &found, err);
        publish_first = found.active == 0 || found.active == v;
    }
    if (st == SKS_OK && publish_first)
        st = publish_version(r, v, x5u, chain, chain_len, err);
    if (st == SKS_OK && r->attach) {
        struct sks_credentials cred = {leaf, rest, x5u};

        st = sks_keystore_attach(ks, r->identity, v, &cred, err);
        if (st != SKS_OK && r->chain_out != NULL)
            sks_error_prefix(err,
                             "the certificate was issued (its chain is in %s) but the key store "
                             "refused it",
                             r->chain_out);
        else if (st != SKS_OK)
            sks_error_prefix(err, "the certificate was issued but the key store refused it");
    }
    if (st == SKS_OK && r->publisher != NULL && !publish_first) {
        st = publish_version(r, v, x5u, chain, chain_len, err);
        if (st == SKS_OK)
            st = sks_keystore_activate(ks, r->identity, v, err);
    }
    if (st != SKS_OK) {
        struct sks_error ignored;

        /* Nothing of the failed issuance stays in the token. */
        sks_keystore_destroy(ks, r->identity, v, &ignored);
    } else if (version != NULL) {
        *version = v;
    }
    sk_X509_pop_free(rest, X509_free);
    X509_free(leaf);
    EVP_PKEY_free(pub);
    OPENSSL_free(der);
    free(chain);
    BIO_free(csr);
    return st;
}

/* The certificate object labelled |label| (X509_free); *cert NULL and SKS_OK when there is none. */
static sks_status labelled_certificate(struct p11_token *tok, const char *label, X509 **cert,
                                       struct sks_error *err)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    struct p11_template t = {0};
    p11_handle *hs = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t n = 0, len = 0;
    sks_status st;

    t.attr[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    t.attr[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    t.n = 2;
    *cert = NULL;
    st = p11_store_find(tok, &t, &hs, &n, err);
    if (st == SKS_OK && n > 1)
        st = sks_fail(err, SKS_ERR_INPUT, "%s names more than one certificate on %s", label,
                      p11_token_uri(tok));
    if (st == SKS_OK && n == 1)
        st = p11_store_get_value(tok, hs[0], P11_ATTR_VALUE, 64 * 1024, &der, &len, err);
    p = der;
    if (st == SKS_OK && n == 1 && (*cert = d2i_X509(NULL, &p, (long)len)) == NULL)
        st = sks_fail(err, SKS_ERR_INPUT, "the certificate of %s on %s does not parse", label,
                      p11_token_uri(tok));
    free(der);
    free(hs);
    return st;
}

sks_status acme_version_certificate(struct p11_token *tok, const char *identity,
                                    unsigned int version, X509 **cert, struct sks_error *err)
{
    char label[P11_LABEL_MAX];
    sks_status st;

    snprintf(label, sizeof(label), "%s/%u", identity, version);
    st = labelled_certificate(tok, label, cert, err);
    if (st == SKS_OK && *cert == NULL)
        st = sks_fail(err, SKS_ERR_NOT_FOUND,
                      "%s has no certificate on %s (no such version, or still pending)", label,
                      p11_token_uri(tok));
    return st;
}

sks_status acme_version_chain(struct sks_keystore *ks, struct p11_token *tok, const char *identity,
                              unsigned int version, char **pem, size_t *len,
                              char x5u[SKS_X5U_MAX + 1], struct sks_error *err)
{
    char label[P11_LABEL_MAX + 16], buf[SKS_X5U_MAX + 1] = "";
    struct identity_find f = {.name = identity, .version = version, .x5u = buf};
    BIO *b = BIO_new(BIO_s_mem());
    X509 *cert = NULL;
    char *data;
    long n;
    sks_status st = b != NULL ? acme_version_certificate(tok, identity, version, &cert, err)
                              : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");

    *pem = NULL;
    /* attach stores the chain certificates as IDENTITY/VERSION/ca1, /ca2, ... */
    for (int i = 1; st == SKS_OK && cert != NULL; i++) {
        if (PEM_write_bio_X509(b, cert) != 1)
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        X509_free(cert);
        cert = NULL;
        snprintf(label, sizeof(label), "%s/%u/ca%d", identity, version, i);
        if (st == SKS_OK)
            st = labelled_certificate(tok, label, &cert, err);
    }
    X509_free(cert);
    if (st == SKS_OK && x5u != NULL &&
        (st = sks_keystore_list_one(ks, identity, identity_find_cb, &f, err)) == SKS_OK)
        snprintf(x5u, SKS_X5U_MAX + 1, "%s", buf);
    if (st == SKS_OK && (n = BIO_get_mem_data(b, &data)) > 0 &&
        (*pem = malloc((size_t)n + 1)) != NULL) {
        memcpy(*pem, data, (size_t)n);
        (*pem)[n] = '\0';
        *len = (size_t)n;
    } else if (st == SKS_OK) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    BIO_free(b);
    return st;
}

/* The private key with the CKA_ID and label of public key |h|, whose point is |pub|. */
static sks_status private_twin(struct p11_token *tok, p11_handle h,
                               const unsigned char pub[SKS_P256_POINT_LEN], struct p11_key **key,
                               struct sks_error *err)
{
    struct p11_object_info info;
    struct p11_template t;
    p11_handle *hs = NULL;
    size_t n = 0;
    sks_status st = p11_store_describe(tok, h, &info, err);

    if (st != SKS_OK)
        return st;
    p11_template_find_object(&t, CKO_PRIVATE_KEY, info.id, info.id_len, info.label);
    st = p11_store_find(tok, &t, &hs, &n, err);
    if (st == SKS_OK && n != 1)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "the public key %s on %s has %s private key",
                      info.label, p11_token_uri(tok), n == 0 ? "no" : "more than one");
    if (st == SKS_OK)
        st = p11_key_from_handle(tok, hs[0], info.id, info.id_len, info.label, pub, key, err);
    free(hs);
    return st;
}

sks_status acme_cert_key(struct p11_token *tok, X509 *cert, struct p11_key **key,
                         struct sks_error *err)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    struct p11_template t = {0};
    unsigned char want[SKS_P256_POINT_LEN + 1], pub[SKS_P256_POINT_LEN];
    p11_handle *hs = NULL;
    size_t n = 0, wlen = 0;
    sks_status st;

    *key = NULL;
    if (EVP_PKEY_get_octet_string_param(X509_get0_pubkey(cert), OSSL_PKEY_PARAM_PUB_KEY, want,
                                        sizeof(want), &wlen) != 1 ||
        wlen != SKS_P256_POINT_LEN) {
        ERR_clear_error();
        return sks_fail(err, SKS_ERR_INPUT, "the certificate's key is not a P-256 key");
    }
    t.attr[0] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    t.n = 1;
    st = p11_store_find(tok, &t, &hs, &n, err);
    for (size_t i = 0; st == SKS_OK && *key == NULL && i < n; i++)
        if (p11_store_get_ec_point(tok, hs[i], pub, NULL) == SKS_OK &&
            memcmp(pub, want, sizeof(pub)) == 0)
            st = private_twin(tok, hs[i], pub, key, err);
    free(hs);
    if (st == SKS_OK && *key == NULL)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no key on %s is the certificate's",
                      p11_token_uri(tok));
    return st;
}
