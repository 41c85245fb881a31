/*
 * ES256 (RFC 7518 section 3.4): ECDSA P-256 with SHA-256, the signature
 * written as r || s with each half left-padded to 32 bytes.  OpenSSL signers
 * return DER, so every signature crosses between the two forms here.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
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

/*
 * r || s to the DER ECDSA-Sig-Value EVP_PKEY_verify takes: each half a
 * minimal INTEGER (leading zeros dropped, a zero byte before a high bit),
 * which is what i2d_ECDSA_SIG writes.
 */
static size_t sig_to_der(const unsigned char sig[SKS_ES256_SIG_LEN],
                         unsigned char der[P256_DER_MAX])
{
    size_t n = 2, half;

    der[0] = 0x30;
    for (half = 0; half < 2; half++) {
        const unsigned char *v = sig + half * HALF;
        size_t skip = 0, len;

        while (skip < HALF - 1 && v[skip] == 0)
            skip++;
        len = HALF - skip;
        der[n++] = 0x02;
        der[n++] = (unsigned char)(len + (v[skip] >= 0x80));
        if (v[skip] >= 0x80)
            der[n++] = 0;
        memcpy(der + n, v + skip, len);
        n += len;
    }
    der[1] = (unsigned char)(n - 2);
    return n;
}

/*
 * What a thread verifies with: a SHA-256 context of a digest fetched once,
 * and an ECDSA context set up for the last key it verified with.  Fetching
 * the digest and the signature for every EVP_DigestVerifyInit takes the
 * method store's locks and costs as much as a tenth of the verification.
 * The context holds a reference to its key, so a key at the same address
 * is the same key.
 */
struct verifier {
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *ecdsa; /* NULL until the first key */
};

static pthread_once_t verifier_once = PTHREAD_ONCE_INIT;
static pthread_key_t verifier_key;
static bool verifier_key_ok;

static void verifier_free(void *p)
{
    struct verifier *v = p;

    if (v == NULL)
        return;
    EVP_PKEY_CTX_free(v->ecdsa);
    EVP_MD_CTX_free(v->md);
    EVP_MD_free(v->sha256);
    free(v);
}

static void verifier_key_init(void)
{
    verifier_key_ok = pthread_key_create(&verifier_key, verifier_free) == 0;
}

/* This thread's verifier, made on its first call; NULL when out of memory. */
static struct verifier *thread_verifier(void)
{
    struct verifier *v;

    pthread_once(&verifier_once, verifier_key_init);
    if (!verifier_key_ok)
        return NULL;
    if ((v = pthread_getspecific(verifier_key)) != NULL)
        return v;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return NULL;
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    v->md = EVP_MD_CTX_new();
    if (v->sha256 == NULL || v->md == NULL || pthread_setspecific(verifier_key, v) != 0) {
        verifier_free(v);
        return NULL;
    }
    return v;
}

/* |v|'s ECDSA context, set up for |pub| (a P-256 key) unless it already is. */
static sks_status verifier_use(struct verifier *v, EVP_PKEY *pub, struct sks_error *err)
{
    EVP_PKEY_CTX *ctx;
    sks_status st;

    if (v->ecdsa != NULL && EVP_PKEY_CTX_get0_pkey(v->ecdsa) == pub)
        return SKS_OK;
    if ((st = check_p256(pub, "public key", err)) != SKS_OK)
        return st;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, v->sha256) != 1) {
        EVP_PKEY_CTX_free(ctx);
        st = sks_fail(err, SKS_ERR_INTERNAL, "cannot set up ECDSA verification");
        sks_error_add_openssl(err);
        return st;
    }
    EVP_PKEY_CTX_free(v->ecdsa);
    v->ecdsa = ctx;
    return SKS_OK;
}

sks_status sks_es256_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len,
                            const unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    unsigned char der[P256_DER_MAX], digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    struct verifier *v;
    size_t derlen = sig_to_der(sig, der);
    sks_status st;

    /* A signature that fails leaves OpenSSL errors; the status says it all. */
    ERR_set_mark();
    if ((v = thread_verifier()) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto err;
    }
    if ((st = verifier_use(v, pub, err)) != SKS_OK)
        goto err;
    if (EVP_DigestInit_ex2(v->md, v->sha256, NULL) != 1 || EVP_DigestUpdate(v->md, msg, len) != 1 ||
        EVP_DigestFinal_ex(v->md, digest, &dlen) != 1) {
        st = sks_fail(err, SKS_ERR_INTERNAL, "cannot hash the signed message with SHA-256");
        sks_error_add_openssl(err);
        goto err;
    }
    if (EVP_PKEY_verify(v->ecdsa, der, derlen, digest, dlen) != 1) {
        st = sks_fail(err, SKS_ERR_VERIFY, "the ES256 signature does not verify with the key");
        goto err;
    }
    st = SKS_OK;
err:
    ERR_pop_to_mark();
    return st;
}
