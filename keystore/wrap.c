/*
 * Way in 2: a key wrapped for the token, so that it never exists in the
 * clear on the machine that imports it.
 *
 * Blob = RSA-OAEP(K) || AES-KWP_K(PKCS#8 DER of the key), with K a fresh
 * AES-256 key: the layout of PKCS#11's CKM_RSA_AES_KEY_WRAP (2.40 2.1.21)
 * and of the cloud KMS import formats.  The RSA-3072 wrapping key pair is
 * generated in the token; its private key can only unwrap.
 *
 * Tokens without CKM_RSA_AES_KEY_WRAP (SoftHSM 2.6.1) unwrap in two steps,
 * both inside the token: RSA-OAEP to a session AES key that can only unwrap,
 * then CKM_AES_KEY_WRAP_PAD (RFC 5649) to a session private key.  That key
 * is checked (P-256, signs for the certificate's public key) and only then
 * copied into a token object.  Session objects are destroyed on every path.
 *
 * OAEP hash: SHA-256 is tried first, then SHA-1, the only one SoftHSM 2.6.1
 * takes.  `sksctl wrap` uses SHA-1 unless told --oaep sha256.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "keystore/internal.h"

#define WRAP_BITS 3072
#define AES_KEY_LEN 32

/* The wrapping key pair's object ID: fixed, so that every tool finds the same one. */
static const unsigned char wrap_id[KS_ID_LEN] = "shaken-sks-wrap1";

/* ---- the wrapping key ---------------------------------------------------------- */

static void wrap_handles(struct ks_index *idx, p11_handle *pub, p11_handle *priv)
{
    struct ks_obj *o;

    *pub = *priv = P11_NO_HANDLE;
    for (o = ks_index_objects(idx, wrap_id); o != NULL; o = o->next) {
        if (strcmp(o->label, KS_WRAPPING_LABEL) != 0)
            continue;
        if (o->cls == P11_PUBLIC_KEY)
            *pub = o->h;
        else if (o->cls == P11_PRIVATE_KEY)
            *priv = o->h;
    }
}

static sks_status wrap_generate(struct sks_keystore *ks, struct sks_error *err)
{
    p11_handle pub, priv;
    sks_status st;

    st = p11_store_generate_rsa_unwrap(ks->tok, KS_WRAPPING_LABEL, wrap_id, sizeof(wrap_id),
                                       WRAP_BITS, &pub, &priv, err);
    if (st == SKS_OK)
        st = ks_index_add(ks->index, pub, P11_PUBLIC_KEY, wrap_id, KS_WRAPPING_LABEL, err);
    if (st == SKS_OK)
        st = ks_index_add(ks->index, priv, P11_PRIVATE_KEY, wrap_id, KS_WRAPPING_LABEL, err);
    return st;
}

static sks_status rsa_public(struct sks_keystore *ks, p11_handle pub, EVP_PKEY **out,
                             struct sks_error *err)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nlen = 0, elen = 0;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *bn = NULL, *be = NULL;
    sks_status st;

    *out = NULL;
    st = p11_store_get_value(ks->tok, pub, P11_ATTR_MODULUS, 1024, &n, &nlen, err);
    if (st == SKS_OK)
        st = p11_store_get_value(ks->tok, pub, P11_ATTR_PUBLIC_EXPONENT, 64, &e, &elen, err);
    if (st != SKS_OK)
        goto done;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    if (bn == NULL || be == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        ERR_clear_error();
        st = sks_fail(err, SKS_ERR_TOKEN, "the wrapping public key on %s does not decode",
                      p11_token_uri(ks->tok));
    }
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return st;
}

static sks_status wrapping_key(struct sks_keystore *ks, bool create, p11_handle *priv,
                               EVP_PKEY **pub, struct sks_error *err)
{
    struct ks_index *idx;
    p11_handle hpub;
    sks_status st;

    st = ks_index_get(ks, &idx, err);
    if (st != SKS_OK)
        return st;
    wrap_handles(idx, &hpub, priv);
    if (hpub == P11_NO_HANDLE || *priv == P11_NO_HANDLE) {
        if (!create)
            return sks_fail(err, SKS_ERR_NOT_FOUND,
                            "%s has no wrapping key yet: run sksctl wrapping-key, wrap the key "
                            "for it and import again",
                            p11_token_uri(ks->tok));
        st = wrap_generate(ks, err);
        if (st != SKS_OK)
            return st;
        wrap_handles(idx, &hpub, priv);
    }
    return pub != NULL ? rsa_public(ks, hpub, pub, err) : SKS_OK;
}

sks_status sks_keystore_wrapping_key(struct sks_keystore *ks, EVP_PKEY **pub, struct sks_error *err)
{
    p11_handle priv;
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = wrapping_key(ks, true, &priv, pub, err);
        ks_write_unlock(ks);
    }
    return st;
}

/* ---- the sender's side, in software ------------------------------------------------ */

static sks_status oaep_encrypt(EVP_PKEY *rsa, const char *md, const unsigned char *in, size_t len,
                               unsigned char **out, size_t *outlen, struct sks_error *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
    sks_status st = SKS_OK;

    *out = NULL;
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) != 1 ||
        EVP_PKEY_encrypt(ctx, NULL, outlen, in, len) != 1 || (*out = malloc(*outlen)) == NULL ||
        EVP_PKEY_encrypt(ctx, *out, outlen, in, len) != 1) {
        free(*out);
        *out = NULL;
        st = sks_fail(err, SKS_ERR_INPUT, "RSA-OAEP (%s) encryption with the wrapping key failed",
                      md);
        sks_error_add_openssl(err);
    }
    EVP_PKEY_CTX_free(ctx);
    return st;
}

/* RFC 5649 with the AES-256 key |kek|. */
static sks_status kwp_wrap(const unsigned char kek[AES_KEY_LEN], const unsigned char *in,
                           size_t len, unsigned char **out, size_t *outlen, struct sks_error *err)
{
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0;
    sks_status st = SKS_OK;

    *out = malloc(len + 16);
    if (cipher == NULL || ctx == NULL || *out == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "AES-256-WRAP-PAD is not available");
        goto done;
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_EncryptInit_ex2(ctx, cipher, kek, NULL, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, *out, &n1, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, *out + n1, &n2) != 1)
        st = sks_fail(err, SKS_ERR_SYSTEM, "AES key wrap with padding failed");
    *outlen = (size_t)n1 + (size_t)n2;
done:
    if (st != SKS_OK) {
        free(*out);
        *out = NULL;
        ERR_clear_error();
    }
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return st;
}

sks_status sks_wrap_key(EVP_PKEY *wrapping_pub, EVP_PKEY *key, const char *oaep_md,
                        unsigned char **blob, size_t *len, struct sks_error *err)
{
    unsigned char kek[AES_KEY_LEN], d[32];
    unsigned char *p8 = NULL, *rsa = NULL, *kwp = NULL;
    size_t rsa_len = 0, kwp_len = 0;
    PKCS8_PRIV_KEY_INFO *info = NULL;
    int p8_len = 0;
    sks_status st;

    if (oaep_md == NULL)
        oaep_md = "SHA1";
    if (EVP_PKEY_get_base_id(wrapping_pub) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(wrapping_pub) < 2048)
        return sks_fail(err, SKS_ERR_INPUT,
                        "the wrapping key must be an RSA key of at least "
                        "2048 bits (sksctl wrapping-key prints it)");
    /*
     * The importer never sees the key in the clear, so the checks that need
     * its private value (range, and the public key stored with it) run
     * here, the same ones as import --key.
     */
    st = ks_check_key(key, NULL, d, err);
    OPENSSL_cleanse(d, sizeof(d));
    if (st != SKS_OK)
        return st;
    if (RAND_priv_bytes(kek, sizeof(kek)) != 1)
        return sks_fail(err, SKS_ERR_SYSTEM, "no randomness for the AES key");
    if ((info = EVP_PKEY2PKCS8(key)) == NULL ||
        (p8_len = i2d_PKCS8_PRIV_KEY_INFO(info, &p8)) <= 0) {
        st = sks_fail(err, SKS_ERR_INPUT, "the key cannot be encoded as PKCS#8");
        goto done;
    }
    st = oaep_encrypt(wrapping_pub, oaep_md, kek, sizeof(kek), &rsa, &rsa_len, err);
    if (st == SKS_OK)
        st = kwp_wrap(kek, p8, (size_t)p8_len, &kwp, &kwp_len, err);
    if (st != SKS_OK)
        goto done;
    if ((*blob = malloc(rsa_len + kwp_len)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    memcpy(*blob, rsa, rsa_len);
    memcpy(*blob + rsa_len, kwp, kwp_len);
    *len = rsa_len + kwp_len;
done:
    OPENSSL_cleanse(kek, sizeof(kek));
    if (p8 != NULL)
        OPENSSL_clear_free(p8, (size_t)p8_len);
    PKCS8_PRIV_KEY_INFO_free(info);
    free(rsa);
    free(kwp);
    ERR_clear_error();
    return st;
}

/* ---- unwrapping in the token ------------------------------------------------------------ */

/*
 * Whether the token refused the unwrap's inputs: the blob (a bad OAEP block,
 * a failed RFC 5649 integrity check, a bad length) or the mechanism
 * parameters (SoftHSM answers CKR_ARGUMENTS_BAD to SHA-256 OAEP, and the
 * general codes to a bad blob).  Anything else (a device error, a lost
 * session or token) is the token's fault and is reported as such.
 */
static bool blob_fault(unsigned long rv)
{
    switch (rv) {
    case CKR_ARGUMENTS_BAD:
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ENCRYPTED_DATA_INVALID:
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
    case CKR_WRAPPED_KEY_INVALID:
    case CKR_WRAPPED_KEY_LEN_RANGE:
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
        return true;
    default:
        return false;
    }
}

static sks_status oaep_failed(struct sks_keystore *ks, size_t rsa_len, struct sks_error *err)
{
    return sks_fail(err, SKS_ERR_VERIFY,
                    "wrapped: RSA-OAEP unwrapping of the AES key failed: the blob was not "
                    "wrapped for this token's wrapping key (sksctl wrapping-key on %s), or its "
                    "first %zu bytes are damaged",
                    p11_token_uri(ks->tok), rsa_len);
}

static sks_status unwrap_two_steps(struct sks_keystore *ks, p11_handle priv,
                                   const unsigned char *blob, size_t rsa_len, size_t len,
                                   p11_handle *key, struct sks_error *err)
{
    static const enum p11_oaep_hash hashes[] = {P11_OAEP_SHA256, P11_OAEP_SHA1};
    p11_handle kek = P11_NO_HANDLE;
    unsigned long kek_len = 0;
    size_t got = P11_UNAVAILABLE;
    struct sks_error tried;
    sks_status st = SKS_ERR_VERIFY;
    size_t i;

    sks_error_clear(&tried);
    for (i = 0; i < 2 && kek == P11_NO_HANDLE; i++) {
        if (p11_store_unwrap_aes(ks->tok, priv, hashes[i], blob, rsa_len, &kek, &tried) == SKS_OK)
            continue;
        kek = P11_NO_HANDLE;
        if (!blob_fault(tried.ckr)) {
            if (err != NULL)
                *err = tried;
            return tried.status;
        }
    }
    if (kek == P11_NO_HANDLE)
        return oaep_failed(ks, rsa_len, err);
    st = p11_store_read(ks->tok, kek, P11_ATTR_VALUE_LEN, &kek_len, sizeof(kek_len), &got, err);
    /* SoftHSM leaves the value length at 0 on unwrapped keys: check it where it is known. */
    if (st == SKS_OK && got == sizeof(kek_len) && kek_len != 0 && kek_len != AES_KEY_LEN)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "wrapped: the blob carries a %lu-bit AES key; the format uses AES-256",
                      (unsigned long)kek_len * 8);
    if (st == SKS_OK)
        st = p11_store_unwrap_kwp(ks->tok, kek, blob + rsa_len, len - rsa_len, key, err);
    if (st != SKS_OK && err != NULL && err->ckr != CKR_OK && blob_fault(err->ckr))
        st = sks_fail(err, err->ckr == CKR_FUNCTION_FAILED ? SKS_ERR_POLICY : SKS_ERR_VERIFY,
                      err->ckr == CKR_FUNCTION_FAILED
                          ? "key-p256: the unwrapped key is not an EC private key (PKCS#8)"
                          : "wrapped: AES key wrap integrity check failed (RFC 5649): the blob "
                            "is damaged or truncated, or its parts do not belong together");
    /* The AES key lives for this import only. */
    p11_store_destroy(ks->tok, kek, NULL);
    return st;
}

/*
 * Whether the signature (r, s) of |digest| is what a private value of 0
 * (mod n) makes: s = e/k, so r is the x of (e/s)*G.  The token computes
 * the key's public point from d alone, and a d of n gives the same.
 */
static bool signed_by_zero(const unsigned char sig[64], const unsigned char digest[32])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *pt = g != NULL ? EC_POINT_new(g) : NULL;
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    BIGNUM *e = BN_bin2bn(digest, 32, NULL), *u = NULL, *x = BN_new();
    bool zero = false;

    if (pt != NULL && ctx != NULL && r != NULL && s != NULL && e != NULL && x != NULL &&
        (u = BN_mod_inverse(NULL, s, EC_GROUP_get0_order(g), ctx)) != NULL &&
        BN_mod_mul(u, u, e, EC_GROUP_get0_order(g), ctx) == 1 &&
        EC_POINT_mul(g, pt, u, NULL, NULL, ctx) == 1 &&
        EC_POINT_get_affine_coordinates(g, pt, x, NULL, ctx) == 1 &&
        BN_nnmod(x, x, EC_GROUP_get0_order(g), ctx) == 1)
        zero = BN_cmp(x, r) == 0;
    BN_free(r);
    BN_free(s);
    BN_free(e);
    BN_free(u);
    BN_free(x);
    EC_POINT_free(pt);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
    ERR_clear_error();
    return zero;
}

static sks_status wrapped_out_of_range(struct sks_error *err, const char *how)
{
    return sks_fail(err, SKS_ERR_POLICY,
                    "key-range: the wrapped private value is not between 1 and the P-256 group "
                    "order (%s)",
                    how);
}

/*
 * The unwrapped key must be P-256 and sign for the certificate's key.  The
 * host never holds its private value, so what ks_check_key() checks on it
 * in software is checked through the token: a value of 0 mod n either
 * cannot sign or signs as 0 does (key-range); any other value must sign for
 * the certificate's key (key-match).  The public key stored in the blob's
 * PKCS#8 never leaves the token, which ignores it; sksctl wrap checks it.
 */
static sks_status check_unwrapped(struct sks_keystore *ks, p11_handle key, X509 *cert,
                                  struct sks_error *err)
{
    static const unsigned char probe[32] = "shaken-sks key/certificate test";
    unsigned char sig[64], der[80], *p = der;
    bool p256 = false;
    size_t siglen = sizeof(sig);
    ECDSA_SIG *es = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *r, *s;
    int derlen, ok = 0;
    sks_status st;

    st = p11_store_is_p256_key(ks->tok, key, &p256, err);
    if (st != SKS_OK)
        return st;
    if (!p256)
        return sks_fail(err, SKS_ERR_POLICY, "key-p256: the wrapped key is not an EC P-256 key");
    st = p11_store_sign(ks->tok, key, probe, sizeof(probe), sig, &siglen, err);
    /* SoftHSM answers CKR_GENERAL_ERROR for a private value of 0. */
    if (st != SKS_OK && err != NULL &&
        (err->ckr == CKR_GENERAL_ERROR || err->ckr == CKR_FUNCTION_FAILED)) {
        char how[96];
        snprintf(how, sizeof(how), "the token cannot sign with it: %s", p11_ckr_name(err->ckr));
        return wrapped_out_of_range(err, how);
    }
    if (st != SKS_OK)
        return st;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL;
        derlen = i2d_ECDSA_SIG(es, &p);
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, X509_get0_pubkey(cert), NULL);
        ok = siglen == 64 && derlen > 0 && ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_verify(ctx, der, (size_t)derlen, probe, sizeof(probe)) == 1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok && siglen == 64 && signed_by_zero(sig, probe))
        return wrapped_out_of_range(err, "it is 0 modulo the order");
    if (!ok)
        return sks_fail(err, SKS_ERR_POLICY,
                        "key-match: the certificate does not match the wrapped private key (a "
                        "test signature does not verify with its public key)");
    return SKS_OK;
}

static sks_status unwrap(struct sks_keystore *ks, const unsigned char *blob, size_t len, X509 *cert,
                         p11_handle *key, struct sks_error *err)
{
    p11_handle priv;
    EVP_PKEY *pub = NULL;
    size_t rsa_len, kwp_len;
    sks_status st;

    st = wrapping_key(ks, false, &priv, &pub, err);
    if (st != SKS_OK)
        return st;
    rsa_len = (size_t)EVP_PKEY_get_size(pub);
    EVP_PKEY_free(pub);
    kwp_len = len > rsa_len ? len - rsa_len : 0;
    /* RFC 5649: at least one 64-bit block besides the integrity block, and whole blocks. */
    if (kwp_len < 16 || kwp_len % 8 != 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "wrapped: the blob is truncated or malformed: %zu bytes, that is %zu of "
                        "RSA-OAEP and %zu of AES key wrap (a multiple of 8, at least 16)",
                        len, len < rsa_len ? len : rsa_len, kwp_len);
    if (p11_token_has_rsa_aes_unwrap(ks->tok) &&
        (p11_store_unwrap_rsa_aes(ks->tok, priv, P11_OAEP_SHA256, AES_KEY_LEN * 8, blob, len, key,
                                  NULL) == SKS_OK ||
         p11_store_unwrap_rsa_aes(ks->tok, priv, P11_OAEP_SHA1, AES_KEY_LEN * 8, blob, len, key,
                                  NULL) == SKS_OK))
        st = SKS_OK;
    else
        st = unwrap_two_steps(ks, priv, blob, rsa_len, len, key, err);
    if (st != SKS_OK)
        return st;
    st = check_unwrapped(ks, *key, cert, err);
    if (st != SKS_OK) {
        p11_store_destroy(ks->tok, *key, NULL);
        *key = P11_NO_HANDLE;
    }
    return st;
}

/* Copies the checked session key into the token as the version's private key. */
static sks_status keep_key(struct sks_keystore *ks, const struct ks_version *v, const char *label,
                           void *session_key, struct sks_error *err)
{
    struct p11_template t;
    p11_handle h;
    sks_status st;

    p11_template_signing_key_keep(&t, label, v->id, KS_ID_LEN);
    st = p11_store_copy(ks->tok, *(p11_handle *)session_key, &t, &h, err);
    if (st == SKS_OK)
        st = ks_created(ks, h, P11_PRIVATE_KEY, v, label, err);
    return st;
}

static sks_status import_wrapped(struct sks_keystore *ks, const char *identity,
                                 const unsigned char *blob, size_t len,
                                 const struct sks_credentials *cred, unsigned int *version,
                                 p11_handle *session_key, struct sks_error *err)
{
    struct ks_checked chk;
    struct ks_ident id;
    sks_status st;

    if (len > KS_RECORD_MAX)
        return sks_fail(err, SKS_ERR_INPUT,
                        "wrapped: the blob is %zu bytes; a wrapped P-256 key "
                        "is under 1000",
                        len);
    st = ks_check_credentials(ks, cred, &chk, err);
    if (st == SKS_OK)
        st = ks_ident_load(ks, identity, &id, err);
    if (st == SKS_OK)
        st = ks_check_spc(&id, chk.spc, err);
    if (st == SKS_OK)
        st = unwrap(ks, blob, len, cred->cert, session_key, err);
    if (st != SKS_OK)
        return st;

    return ks_version_write(ks, &id, &chk, cred, keep_key, session_key, version, err);
}

sks_status sks_keystore_import_wrapped(struct sks_keystore *ks, const char *identity,
                                       const unsigned char *blob, size_t len,
                                       const struct sks_credentials *cred, unsigned int *version,
                                       struct sks_error *err)
{
    p11_handle session_key = P11_NO_HANDLE;
    sks_status st;

    st = ks_crl_check_way_in(ks, identity, cred, err);
    if (st == SKS_OK)
        st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = import_wrapped(ks, identity, blob, len, cred, version, &session_key, err);
        if (session_key != P11_NO_HANDLE)
            p11_store_destroy(ks->tok, session_key, NULL);
        ks_write_unlock(ks);
    }
    return st;
}
