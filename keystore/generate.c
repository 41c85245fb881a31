/*
 * Way in 1: the key is generated in the token and never leaves it.
 * `generate` makes the key pair and a PKCS#10 CSR signed by it; the version
 * waits in state PENDING until `attach` brings the certificate the STI-CA
 * issued for the CSR.
 *
 * The CSR is assembled here and signed with CKM_ECDSA over the SHA-256 of
 * its DER CertificationRequestInfo (RFC 2986 4.2), so that no OpenSSL
 * provider configuration is needed to make it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "keystore/internal.h"
#include "profile/tnauthlist.h"

static struct ks_obj *version_obj(struct ks_index *idx, const struct ks_version *v, p11_class cls)
{
    struct ks_obj *o;

    for (o = ks_index_objects(idx, v->id); o != NULL; o = o->next)
        if (o->cls == cls)
            return o;
    return NULL;
}

/* The uncompressed point of version |v|'s public key object. */
static sks_status token_point(struct sks_keystore *ks, const struct ks_version *v,
                              unsigned char pub[SKS_P256_POINT_LEN], struct sks_error *err)
{
    struct ks_obj *o = version_obj(ks->index, v, P11_PUBLIC_KEY);

    if (o == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "version %u has no public key object on %s", v->n,
                        p11_token_uri(ks->tok));
    return p11_store_get_ec_point(ks->tok, o->h, pub, err);
}

/* ---- the CSR ---------------------------------------------------------------------- */

static EVP_PKEY *p256_public(const unsigned char pub[SKS_P256_POINT_LEN])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, SKS_P256_POINT_LEN),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pk = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pk;
}

/*
 * Subject CN "SHAKEN <SPC>" and a TNAuthList extension request with the SPC;
 * a subjectAltName with |dns| too when it is not NULL.
 */
static bool csr_body(X509_REQ *req, EVP_PKEY *pk, const char *spc, const char *dns)
{
    struct sks_tn_entry entry = {SKS_TN_SPC, spc, 0};
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_NAME *name = X509_NAME_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    unsigned char *der = NULL;
    char cn[8 + SKS_SPC_MAX];
    size_t len = 0;
    bool ok;

    snprintf(cn, sizeof(cn), "SHAKEN %s", spc);
    ok = exts != NULL && name != NULL && oid != NULL && os != NULL &&
         sks_tnauthlist_encode(&entry, 1, &der, &len, NULL) == SKS_OK &&
         ASN1_OCTET_STRING_set(os, der, (int)len) == 1 &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os)) != NULL &&
         sk_X509_EXTENSION_push(exts, ext) > 0;
    if (!ok)
        X509_EXTENSION_free(ext);
    if (ok && dns != NULL) {
        char san[8 + 256];

        snprintf(san, sizeof(san), "DNS:%s", dns);
        ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        ok = ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0;
        if (!ok)
            X509_EXTENSION_free(ext);
    }
    ok = ok && X509_REQ_set_version(req, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (unsigned char *)cn, -1, -1, 0) ==
             1 &&
         X509_REQ_set_subject_name(req, name) == 1 && X509_REQ_set_pubkey(req, pk) == 1 &&
         X509_REQ_add_extensions(req, exts) == 1;
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(os);
    OPENSSL_free(der);
    return ok;
}

/* Signs the CertificationRequestInfo with the token key |priv|: ecdsa-with-SHA256. */
static sks_status csr_sign(struct sks_keystore *ks, X509_REQ *req, p11_handle priv,
                           struct sks_error *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH], sig[64], *tbs = NULL, *der = NULL;
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;
    size_t siglen = sizeof(sig);
    int tbs_len, der_len = 0;
    sks_status st = SKS_OK;

    if (alg == NULL || bits == NULL || es == NULL ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) != 1 ||
        X509_REQ_set1_signature_algo(req, alg) != 1 ||
        (tbs_len = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot encode the CSR");
        goto done;
    }
    SHA256(tbs, (size_t)tbs_len, digest);
    st = p11_store_sign(ks->tok, priv, digest, sizeof(digest), sig, &siglen, err);
    if (st != SKS_OK)
        goto done;
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (siglen != 64 || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        st = sks_fail(err, SKS_ERR_TOKEN, "the token gave a malformed ECDSA signature");
        goto done;
    }
    r = s = NULL;
    if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0 || ASN1_BIT_STRING_set(bits, der, der_len) != 1) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot encode the CSR signature");
        goto done;
    }
    /* A signature BIT STRING has no unused bits. */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bits);
    bits = NULL;
done:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    X509_ALGOR_free(alg);
    ASN1_BIT_STRING_free(bits);
    OPENSSL_free(tbs);
    OPENSSL_free(der);
    return st;
}

static sks_status make_csr(struct sks_keystore *ks, p11_handle priv,
                           const unsigned char pub[SKS_P256_POINT_LEN], const char *spc,
                           const char *dns, BIO *out, struct sks_error *err)
{
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *pk = p256_public(pub);
    sks_status st;

    if (req == NULL || pk == NULL || !csr_body(req, pk, spc, dns)) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot build the CSR");
        goto done;
    }
    st = csr_sign(ks, req, priv, err);
    if (st != SKS_OK)
        goto done;
    /* The token's signature must verify before anyone sends this to a CA. */
    if (X509_REQ_verify(req, pk) != 1) {
        st = sks_fail(err, SKS_ERR_TOKEN, "the CSR signed by the token does not verify");
        goto done;
    }
    if (PEM_write_bio_X509_REQ(out, req) != 1 || BIO_flush(out) != 1)
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot write the CSR");
done:
    if (st != SKS_OK)
        sks_error_add_openssl(err);
    ERR_clear_error();
    X509_REQ_free(req);
    EVP_PKEY_free(pk);
    return st;
}

/* ---- generate ------------------------------------------------------------------------ */

/* 1-253 characters of dot-separated labels of 1-63 of a-z A-Z 0-9 and inner '-'. */
static bool dns_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        char ch = s[i];

        if (ch == '.' || ch == '\0') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static sks_status generate(struct sks_keystore *ks, const char *identity, const char *spc,
                           const char *dns, BIO *csr, unsigned int *version, struct sks_error *err)
{
    struct ks_ident id;
    struct ks_version *v;
    struct ks_obj *priv;
    char label[P11_LABEL_MAX], *uri = NULL;
    unsigned char pub[SKS_P256_POINT_LEN];
    unsigned int n;
    sks_status st;

    if (!sks_spc_valid(spc))
        return sks_fail(err, SKS_ERR_INPUT, "spc: \"%.80s\" is not 1-%d of 0-9 and A-Z",
                        spc != NULL ? spc : "", SKS_SPC_MAX);
    if (dns != NULL && !dns_name_ok(dns))
        return sks_fail(err, SKS_ERR_INPUT,
                        "dns: \"%.80s\" is not a DNS name (labels of a-z 0-9 -, dot-separated)",
                        dns);
    st = ks_ident_load(ks, identity, &id, err);
    if (st == SKS_OK && id.exists && strcmp(id.rec.spc, spc) != 0)
        st = sks_fail(err, SKS_ERR_POLICY, "spc: identity %s has SPC %s, not %s", identity,
                      id.rec.spc, spc);
    if (st != SKS_OK)
        return st;
    st = ks_version_begin(ks, &id, spc, &n, err);
    if (st != SKS_OK)
        return st;
    v = ks_record_find(&id.rec, n);
    ks_version_label(label, sizeof(label), identity, n);
    st = p11_generate_p256(ks->tok, label, v->id, KS_ID_LEN, &uri, err);
    free(uri);
    if (st == SKS_OK)
        st = ks_index_find_id(ks, ks->index, v->id, err);
    if (st == SKS_OK && (priv = version_obj(ks->index, v, P11_PRIVATE_KEY)) == NULL)
        st = sks_fail(err, SKS_ERR_TOKEN, "the generated key %s is not on %s", label,
                      p11_token_uri(ks->tok));
    if (st == SKS_OK)
        st = token_point(ks, v, pub, err);
    if (st == SKS_OK)
        st = make_csr(ks, priv->h, pub, spc, dns, csr, err);
    if (st == SKS_OK) {
        v->state = SKS_VERSION_PENDING;
        v->changed = ks_now();
        st = ks_ident_save(ks, &id, err);
    }
    if (st == SKS_OK)
        st = ks_verify_stored(ks, identity, v, err);
    if (st != SKS_OK) {
        ks_version_abort(ks, &id, n);
        return st;
    }
    if (version != NULL)
        *version = n;
    return SKS_OK;
}

sks_status sks_keystore_generate(struct sks_keystore *ks, const char *identity, const char *spc,
                                 BIO *csr, unsigned int *version, struct sks_error *err)
{
    return sks_keystore_generate_dns(ks, identity, spc, NULL, csr, version, err);
}

sks_status sks_keystore_generate_dns(struct sks_keystore *ks, const char *identity, const char *spc,
                                     const char *dns, BIO *csr, unsigned int *version,
                                     struct sks_error *err)
{
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = generate(ks, identity, spc, dns, csr, version, err);
        ks_write_unlock(ks);
    }
    return st;
}

/* ---- attach -------------------------------------------------------------------------- */

/* |*n| names a version, or is 0 for the identity's single pending one. */
static sks_status pending_version(struct ks_ident *id, unsigned int *n, struct sks_error *err)
{
    struct ks_version *v;
    size_t i, count = 0;

    if (*n == 0) {
        for (i = 0; i < id->rec.n; i++) {
            if (id->rec.v[i].state == SKS_VERSION_PENDING) {
                *n = id->rec.v[i].n;
                count++;
            }
        }
        if (count == 0)
            return sks_fail(err, SKS_ERR_NOT_FOUND,
                            "identity %s has no pending version: run sksctl generate first",
                            id->name);
        if (count > 1)
            return sks_fail(err, SKS_ERR_INPUT,
                            "identity %s has %zu pending versions: name one (sksctl list)",
                            id->name, count);
    }
    v = ks_record_find(&id->rec, *n);
    if (v == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no version %u", id->name, *n);
    if (v->state != SKS_VERSION_PENDING)
        return sks_fail(err, SKS_ERR_POLICY,
                        "identity %s version %u is %s: only a pending version takes a "
                        "certificate",
                        id->name, *n, sks_version_state_name(v->state));
    return SKS_OK;
}

/* Certificates a failed earlier attach left on the pending version. */
static void drop_certs(struct sks_keystore *ks, const struct ks_version *v)
{
    struct ks_obj *o;

    while ((o = version_obj(ks->index, v, P11_CERTIFICATE)) != NULL) {
        p11_handle h = o->h;
        if (p11_store_destroy(ks->tok, h, NULL) != SKS_OK)
            break;
        ks_index_drop(ks->index, h, v->id);
    }
}

/*
 * After a failed attach whose record reached the token but whose
 * certificates did not: the version waits for its certificate again.
 */
static void back_to_pending(struct sks_keystore *ks, const char *identity, unsigned int n)
{
    struct ks_ident id;
    struct ks_version *v;

    if (ks_ident_load(ks, identity, &id, NULL) != SKS_OK ||
        (v = ks_record_find(&id.rec, n)) == NULL || v->state == SKS_VERSION_PENDING)
        return;
    if (v->state == SKS_VERSION_ACTIVE)
        id.rec.active = 0;
    v->state = SKS_VERSION_PENDING;
    v->changed = ks_now();
    ks_ident_save(ks, &id, NULL);
}

static sks_status attach(struct sks_keystore *ks, const char *identity, unsigned int n,
                         const struct sks_credentials *cred, struct sks_error *err)
{
    struct ks_checked chk;
    struct ks_ident id;
    struct ks_version *v;
    unsigned char pub[SKS_P256_POINT_LEN];
    sks_status st;

    st = ks_ident_load(ks, identity, &id, err);
    if (st == SKS_OK && !id.exists)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no identity %s on %s", identity,
                      p11_token_uri(ks->tok));
    if (st == SKS_OK)
        st = pending_version(&id, &n, err);
    if (st == SKS_OK)
        st = ks_check_credentials(ks, cred, &chk, err);
    if (st == SKS_OK)
        st = ks_check_spc(&id, chk.spc, err);
    if (st != SKS_OK)
        return st;
    v = ks_record_find(&id.rec, n);
    st = token_point(ks, v, pub, err);
    if (st == SKS_OK && memcmp(pub, chk.pub, sizeof(pub)) != 0)
        st = sks_fail(err, SKS_ERR_POLICY,
                      "key-match: the certificate is not for the key generated for %s version "
                      "%u (its public key differs)",
                      identity, n);
    if (st != SKS_OK)
        return st;
    drop_certs(ks, v);
    st = ks_version_complete(ks, &id, n, cred, chk.pub, false, err);
    if (st != SKS_OK) {
        drop_certs(ks, v);
        back_to_pending(ks, identity, n);
    }
    return st;
}

sks_status sks_keystore_attach(struct sks_keystore *ks, const char *identity, unsigned int version,
                               const struct sks_credentials *cred, struct sks_error *err)
{
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = attach(ks, identity, version, cred, err);
        ks_write_unlock(ks);
    }
    return st;
}
