/*
 * ES256 (RFC 7518 section 3.4): ECDSA P-256 with SHA-256, the signature
 * written as r || s with each half left-padded to 32 bytes.  OpenSSL signers
 * return DER, so every signature crosses between the two forms here.
 */
#include "config.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "shaken/passport.h"

#define HALF (SKS_ES256_SIG_LEN / 2)
/* SEQUENCE { INTEGER r, INTEGER s } with 33-byte integers: 2 + 2 * 35. */
#define P256_DER_MAX 72

/*
 * Keys from a provider may not report their group; those are caught when
 * r or s does not fit 32 bytes.
 */
static sks_status check_p256(EVP_PKEY *pkey, const char *what, struct sks_error *err)
{
    char group[64];

    if (!EVP_PKEY_is_a(pkey, "EC"))
        return sks_fail(err, SKS_ERR_INPUT, "the %s is a %s key; ES256 needs EC P-256", what,
                        EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey)
                                                              : "non-EC");
    /* A key that cannot name its group leaves errors that are not the caller's. */
    ERR_set_mark();
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1)
        group[0] = '\0';
    ERR_pop_to_mark();
    if (group[0] != '\0' && strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
        return sks_fail(err, SKS_ERR_INPUT, "the %s is on curve %s; ES256 needs P-256", what,
                        group);
    return SKS_OK;
}

sks_status sks_es256_sig_from_der(const unsigned char *der, size_t len,
                                  unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    ECDSA_SIG *es;
    sks_status st = SKS_ERR_INPUT;

    ERR_set_mark();
    es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (es == NULL || p != der + len) {
        sks_fail(err, SKS_ERR_INPUT,
                 "the signer returned %zu bytes that are not one DER ECDSA signature", len);
        goto err;
    }
    ECDSA_SIG_get0(es, &r, &s);
    /* RFC 7518 3.4: r and s are 32 bytes each, left-padded with zeros. */
    if (BN_is_negative(r) || BN_is_negative(s) || BN_bn2binpad(r, sig, HALF) != HALF ||
        BN_bn2binpad(s, sig + HALF, HALF) != HALF) {
        sks_fail(err, SKS_ERR_INPUT,
                 "the signature's r or s does not fit 32 bytes: the key is not a P-256 key");
        goto err;
    }
    st = SKS_OK;
err:
    ERR_pop_to_mark();
    ECDSA_SIG_free(es);
    return st;
}

sks_status sks_es256_sign_evp(void *ctx, const unsigned char *msg, size_t len,
                              unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    EVP_PKEY *pkey = ctx;
    EVP_MD_CTX *md = NULL;
    /* Room for any signer; a P-256 one needs P256_DER_MAX. */
    unsigned char der[256];
    size_t derlen = sizeof(der);
    sks_status st;

    st = check_p256(pkey, "signing key", err);
    if (st != SKS_OK)
        return st;
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto err;
    }
    if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
        EVP_DigestSign(md, der, &derlen, msg, len) != 1) {
        st = sks_fail(err, SKS_ERR_TOKEN, "ECDSA signing failed");
        sks_error_add_openssl(err);
        goto err;
    }
    st = sks_es256_sig_from_der(der, derlen, sig, err);
err:
    EVP_MD_CTX_free(md);
    return st;
}

/* r || s to DER for EVP_DigestVerify. */
static sks_status sig_to_der(const unsigned char sig[SKS_ES256_SIG_LEN],
                             unsigned char der[P256_DER_MAX], size_t *derlen, struct sks_error *err)
{
    BIGNUM *r = BN_bin2bn(sig, HALF, NULL);
    BIGNUM *s = BN_bin2bn(sig + HALF, HALF, NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    unsigned char *p = der;
    sks_status st = SKS_ERR_SYSTEM;
    int n;

    if (r == NULL || s == NULL || es == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto err;
    }
    n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || n > P256_DER_MAX || i2d_ECDSA_SIG(es, &p) != n) {
        sks_fail(err, SKS_ERR_INTERNAL, "cannot encode the signature as DER");
        goto err;
    }
    *derlen = (size_t)n;
    st = SKS_OK;
err:
    ECDSA_SIG_free(es);
    return st;
}

sks_status sks_es256_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len,
                            const unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    unsigned char der[P256_DER_MAX];
    EVP_MD_CTX *md = NULL;
    size_t derlen;
    sks_status st;

    st = check_p256(pub, "public key", err);
    if (st != SKS_OK)
        return st;
    st = sig_to_der(sig, der, &derlen, err);
    if (st != SKS_OK)
        return st;
    /* A signature that fails leaves OpenSSL errors; the status says it all. */
    ERR_set_mark();
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto err;
    }
    if (EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pub, NULL) != 1) {
        st = sks_fail(err, SKS_ERR_INTERNAL, "cannot set up ECDSA verification");
        sks_error_add_openssl(err);
        goto err;
    }
    if (EVP_DigestVerify(md, der, derlen, msg, len) != 1) {
        st = sks_fail(err, SKS_ERR_VERIFY, "the ES256 signature does not verify with the key");
        goto err;
    }
    st = SKS_OK;
err:
    ERR_pop_to_mark();
    EVP_MD_CTX_free(md);
    return st;
}
