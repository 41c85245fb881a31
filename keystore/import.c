/*
 * Ways in, common part: validating a certificate, its chain and x5u, and
 * writing a key version in crash-safe order; and the simplest way in, a
 * software key (PKCS#8 or SEC1, decrypted by the caller).
 *
 * Write order for every way in:
 *   1. record: version N in state WRITING (sweep removes it after a crash)
 *   2. private key, public key, chain, certificate (URL attribute = x5u)
 *   3. record: version N STANDBY, or ACTIVE when the identity has none
 * Step 3 is one C_SetAttributeValue, so a version is complete or unused.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "keystore/internal.h"
#include "shaken/passport.h"

/* ---- validation ---------------------------------------------------------------- */

bool ks_cert_point(X509 *cert, unsigned char pub[SKS_P256_POINT_LEN])
{
    const unsigned char *pk;
    int len = 0;

    if (X509_PUBKEY_get0_param(NULL, &pk, &len, NULL, X509_get_X509_PUBKEY(cert)) != 1 ||
        len != SKS_P256_POINT_LEN || pk[0] != 0x04)
        return false;
    memcpy(pub, pk, SKS_P256_POINT_LEN);
    return true;
}

sks_status ks_check_credentials(struct sks_keystore *ks, const struct sks_credentials *cred,
                                struct ks_checked *out, struct sks_error *err)
{
    struct sks_profile_result res;
    time_t now = ks_now();
    sks_status st;

    memset(out, 0, sizeof(*out));
    if (cred == NULL || cred->cert == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "no certificate given (--cert)");
    st = sks_x5u_check(cred->x5u, err);
    if (st != SKS_OK)
        return st;
    if (cred->chain != NULL &&
        (st = sks_chain_length_check(sk_X509_num(cred->chain), err)) != SKS_OK)
        return st;
    if (ks->cfg.roots == NULL)
        return sks_fail(err, SKS_ERR_INPUT,
                        "chain: no trust anchors are configured (trust_anchors in [sks], or "
                        "--trust): certificates cannot be checked");
    st = sks_profile_check(cred->cert, cred->chain, ks->cfg.roots, now, &res, err);
    if (st != SKS_OK)
        return st;
    if (!ks_cert_point(cred->cert, out->pub))
        return sks_fail(err, SKS_ERR_POLICY,
                        "key-p256: the certificate key is not an "
                        "uncompressed P-256 point");
    if (res.warning[0] != '\0')
        ks_warn(ks, "%s", res.warning);
    strcpy(out->spc, res.spc);
    out->not_after = res.not_after;
    if (res.not_after - now < ks->cfg.expiry_warn_days * 86400L)
        ks_warn(ks,
                "expiry: the certificate for SPC %s expires in %ld days (less than %ld); "
                "order its successor",
                res.spc, (long)((res.not_after - now) / 86400), ks->cfg.expiry_warn_days);
    return SKS_OK;
}

sks_status ks_check_spc(const struct ks_ident *id, const char *spc, struct sks_error *err)
{
    char whose[SKS_IDENTITY_NAME_MAX + 16];

    if (!id->exists)
        return SKS_OK;
    snprintf(whose, sizeof(whose), "identity %s", id->name);
    return sks_spc_match(spc, id->rec.spc, whose, err);
}

/*
 * The public point the key's own public value encodes, uncompressed, in |pub|.
 * Returns false when the key carries none (OpenSSL then derives it itself).
 */
static bool key_point(EVP_PKEY *key, const EC_GROUP *group, BN_CTX *bnctx,
                      unsigned char pub[SKS_P256_POINT_LEN])
{
    unsigned char buf[133];
    size_t len = 0;
    EC_POINT *p = EC_POINT_new(group);
    bool ok = p != NULL &&
              EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf),
                                              &len) == 1 &&
              EC_POINT_oct2point(group, p, buf, len, bnctx) == 1 &&
              EC_POINT_point2oct(group, p, POINT_CONVERSION_UNCOMPRESSED, pub, SKS_P256_POINT_LEN,
                                 bnctx) == SKS_P256_POINT_LEN;

    EC_POINT_free(p);
    return ok;
}

/*
 * The private value d of a P-256 key, after checking 1 <= d < n (SEC 1
 * 3.2.1), and the public point d*G computed from it.  Comparing d*G, not the
 * public value stored next to d, is what catches a damaged private value.
 */
static sks_status key_scalar(EVP_PKEY *key, unsigned char d[32],
                             unsigned char pub[SKS_P256_POINT_LEN], struct sks_error *err)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bnctx = BN_CTX_secure_new();
    EC_POINT *q = group != NULL ? EC_POINT_new(group) : NULL;
    BIGNUM *bn = NULL;
    unsigned char stored[SKS_P256_POINT_LEN];
    sks_status st = SKS_OK;

    if (group == NULL || bnctx == NULL || q == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    else if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
        st = sks_fail(err, SKS_ERR_INPUT, "key-p256: the key has no private value");
    else if (BN_is_zero(bn) || BN_is_negative(bn) || BN_cmp(bn, EC_GROUP_get0_order(group)) >= 0)
        st = sks_fail(err, SKS_ERR_POLICY,
                      "key-range: the private value is not between 1 and the P-256 group order");
    else if (BN_bn2binpad(bn, d, 32) != 32 || EC_POINT_mul(group, q, bn, NULL, NULL, bnctx) != 1 ||
             EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, pub, SKS_P256_POINT_LEN,
                                bnctx) != SKS_P256_POINT_LEN)
        st = sks_fail(err, SKS_ERR_INTERNAL, "cannot compute the public point of the key");
    else if (key_point(key, group, bnctx, stored) &&
             CRYPTO_memcmp(stored, pub, SKS_P256_POINT_LEN) != 0)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "key-consistency: the private value does not give the public key stored "
                      "with it; the key is damaged");
    if (st != SKS_OK)
        OPENSSL_cleanse(d, 32);
    EC_POINT_clear_free(q);
    BN_clear_free(bn);
    BN_CTX_free(bnctx);
    EC_GROUP_free(group);
    ERR_clear_error();
    return st;
}

sks_status ks_check_key(EVP_PKEY *key, X509 *cert, unsigned char d[32], struct sks_error *err)
{
    unsigned char pub[SKS_P256_POINT_LEN], cert_pub[SKS_P256_POINT_LEN];
    sks_status st;

    if (key == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "no private key given");
    st = sks_profile_check_key(key, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "key-p256");
        return st;
    }
    st = key_scalar(key, d, pub, err);
    if (st != SKS_OK)
        return st;
    if (cert != NULL &&
        (!ks_cert_point(cert, cert_pub) || CRYPTO_memcmp(pub, cert_pub, SKS_P256_POINT_LEN) != 0)) {
        OPENSSL_cleanse(d, 32);
        return sks_fail(err, SKS_ERR_POLICY,
                        "key-match: the certificate does not match the private key (its public "
                        "key differs)");
    }
    return SKS_OK;
}

/* ---- writing a version ------------------------------------------------------------ */

sks_status ks_created(struct sks_keystore *ks, p11_handle h, p11_class cls,
                      const struct ks_version *v, const char *label, struct sks_error *err)
{
    return ks_index_add(ks->index, h, cls, v->id, label, err);
}

sks_status ks_version_begin(struct sks_keystore *ks, struct ks_ident *id, const char *spc,
                            unsigned int *n, struct sks_error *err)
{
    struct ks_version *v;
    time_t now = ks_now();

    if (id->rec.n == KS_VERSIONS_MAX)
        return sks_fail(err, SKS_ERR_POLICY,
                        "identity %s already has %d versions: retire or destroy some first",
                        id->name, KS_VERSIONS_MAX);
    if (!id->exists) {
        strcpy(id->rec.spc, spc);
        id->rec.next = 1;
    }
    v = &id->rec.v[id->rec.n];
    memset(v, 0, sizeof(*v));
    if (RAND_bytes(v->id, KS_ID_LEN) != 1)
        return sks_fail(err, SKS_ERR_SYSTEM, "no randomness for an object ID");
    v->n = id->rec.next;
    v->state = SKS_VERSION_WRITING;
    v->created = v->changed = now;
    id->rec.n++;
    id->rec.next++;
    *n = v->n;
    return ks_ident_save(ks, id, err);
}

static sks_status write_public_key(struct sks_keystore *ks, const struct ks_version *v,
                                   const char *label, const unsigned char pub[SKS_P256_POINT_LEN],
                                   struct sks_error *err)
{
    struct p11_template t;
    p11_handle h;
    sks_status st;

    p11_template_ec_public_key(&t, ks->tok, label, v->id, KS_ID_LEN, pub);
    st = p11_store_create(ks->tok, &t, &h, err);
    if (st == SKS_OK)
        st = ks_created(ks, h, P11_PUBLIC_KEY, v, label, err);
    return st;
}

/* A certificate object; |url| is set on the end-entity certificate only. */
static sks_status write_cert(struct sks_keystore *ks, const struct ks_version *v, const char *label,
                             X509 *cert, const char *url, struct sks_error *err)
{
    unsigned char *value = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
    int value_len, subject_len, issuer_len, serial_len;
    struct p11_template t;
    p11_handle h;
    sks_status st;

    value_len = i2d_X509(cert, &value);
    subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &subject);
    issuer_len = i2d_X509_NAME(X509_get_issuer_name(cert), &issuer);
    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial);
    if (value_len <= 0 || subject_len <= 0 || issuer_len <= 0 || serial_len <= 0) {
        st = sks_fail(err, SKS_ERR_INPUT, "cannot encode the certificate %s", label);
        goto done;
    }
    {
        const struct p11_cert_der der = {value,
                                         subject,
                                         issuer,
                                         serial,
                                         (size_t)value_len,
                                         (size_t)subject_len,
                                         (size_t)issuer_len,
                                         (size_t)serial_len};
        p11_template_certificate(&t, label, v->id, KS_ID_LEN, &der, url);
        st = p11_store_create(ks->tok, &t, &h, err);
    }
    if (st == SKS_OK)
        st = ks_created(ks, h, P11_CERTIFICATE, v, label, err);
done:
    OPENSSL_free(value);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return st;
}

sks_status ks_version_complete(struct sks_keystore *ks, struct ks_ident *id, unsigned int n,
                               const struct sks_credentials *cred,
                               const unsigned char pub[SKS_P256_POINT_LEN], bool with_public_key,
                               struct sks_error *err)
{
    struct ks_version *v = ks_record_find(&id->rec, n);
    char label[P11_LABEL_MAX], chain_label[P11_LABEL_MAX + 16]; /* "/caN" */
    sks_status st = SKS_OK;
    int i;

    if (v == NULL)
        return sks_fail(err, SKS_ERR_INTERNAL, "identity %s has no version %u", id->name, n);
    ks_version_label(label, sizeof(label), id->name, n);
    if (with_public_key)
        st = write_public_key(ks, v, label, pub, err);
    for (i = 0; st == SKS_OK && cred->chain != NULL && i < sk_X509_num(cred->chain); i++) {
        snprintf(chain_label, sizeof(chain_label), "%s/ca%d", label, i + 1);
        st = write_cert(ks, v, chain_label, sk_X509_value(cred->chain, i), NULL, err);
    }
    /* Last of the objects: sweep takes a version with its certificate for written in full. */
    if (st == SKS_OK)
        st = write_cert(ks, v, label, cred->cert, cred->x5u, err);
    if (st != SKS_OK)
        return st;
    v->changed = ks_now();
    if (id->rec.active == 0) {
        v->state = SKS_VERSION_ACTIVE;
        id->rec.active = n;
    } else {
        v->state = SKS_VERSION_STANDBY;
    }
    st = ks_ident_save(ks, id, err);
    return st == SKS_OK ? ks_verify_stored(ks, id->name, v, err) : st;
}

void ks_version_abort(struct sks_keystore *ks, struct ks_ident *id, unsigned int n)
{
    struct ks_version *v = ks_record_find(&id->rec, n);
    struct ks_ident fresh;

    if (v == NULL || ks_version_destroy_objects(ks, v, NULL) != SKS_OK)
        return;
    /* The record in memory may hold the failed write: start from the token's. */
    if (ks_ident_load(ks, id->name, &fresh, NULL) != SKS_OK || !fresh.exists)
        return;
    ks_record_remove(&fresh.rec, n);
    if (fresh.rec.n == 0)
        ks_ident_drop(ks, &fresh, NULL);
    else
        ks_ident_save(ks, &fresh, NULL);
    *id = fresh;
}

sks_status ks_version_write(struct sks_keystore *ks, struct ks_ident *id,
                            const struct ks_checked *chk, const struct sks_credentials *cred,
                            ks_key_writer write_key, void *arg, unsigned int *version,
                            struct sks_error *err)
{
    char label[P11_LABEL_MAX];
    unsigned int n;
    sks_status st;

    st = ks_version_begin(ks, id, chk->spc, &n, err);
    if (st != SKS_OK)
        return st;
    ks_version_label(label, sizeof(label), id->name, n);
    st = write_key(ks, ks_record_find(&id->rec, n), label, arg, err);
    if (st == SKS_OK)
        st = ks_version_complete(ks, id, n, cred, chk->pub, true, err);
    if (st != SKS_OK) {
        ks_version_abort(ks, id, n);
        return st;
    }
    if (version != NULL)
        *version = n;
    return SKS_OK;
}

/* ---- way in 3: a software key ------------------------------------------------------ */

static sks_status write_private_key(struct sks_keystore *ks, const struct ks_version *v,
                                    const char *label, void *scalar, struct sks_error *err)
{
    unsigned char *d = scalar;
    struct p11_template t;
    p11_handle h;
    sks_status st;

    p11_template_signing_key(&t, ks->tok, label, v->id, KS_ID_LEN, d);
    st = p11_store_create(ks->tok, &t, &h, err);
    /* The token holds the key now; this process no longer needs its bytes. */
    OPENSSL_cleanse(d, 32);
    if (st == SKS_OK)
        st = ks_created(ks, h, P11_PRIVATE_KEY, v, label, err);
    return st;
}

static sks_status import_key(struct sks_keystore *ks, const char *identity, EVP_PKEY *key,
                             const struct sks_credentials *cred, unsigned int *version,
                             unsigned char d[32], struct sks_error *err)
{
    struct ks_checked chk;
    struct ks_ident id;
    sks_status st;

    st = ks_check_key(key, cred != NULL ? cred->cert : NULL, d, err);
    if (st == SKS_OK)
        st = ks_check_credentials(ks, cred, &chk, err);
    if (st == SKS_OK)
        st = ks_ident_load(ks, identity, &id, err);
    if (st == SKS_OK)
        st = ks_check_spc(&id, chk.spc, err);
    if (st != SKS_OK)
        return st;

    return ks_version_write(ks, &id, &chk, cred, write_private_key, d, version, err);
}

sks_status sks_keystore_import_key(struct sks_keystore *ks, const char *identity, EVP_PKEY *key,
                                   const struct sks_credentials *cred, unsigned int *version,
                                   struct sks_error *err)
{
    unsigned char d[32];
    sks_status st;

    st = ks_crl_check_way_in(ks, identity, cred, err);
    if (st == SKS_OK)
        st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = import_key(ks, identity, key, cred, version, d, err);
        ks_write_unlock(ks);
    }
    OPENSSL_cleanse(d, sizeof(d));
    return st;
}
