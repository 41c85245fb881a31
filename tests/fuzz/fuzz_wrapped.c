/*
 * libFuzzer target: wrapped-key blobs (keystore/wrap.c), the format of
 * `sksctl import --wrapped` and of the import API:
 *
 *   RSA-OAEP(K) || AES-KWP_K(PKCS#8 DER of a P-256 key)      (K: AES-256)
 *
 * The key store unwraps inside the token, so its parsing cannot run
 * without one.  This target runs the same steps in software, with a fixed
 * RSA-3072 test key standing for the token's wrapping key, in the order the
 * key store takes them: the size checks (at most KS_RECORD_MAX bytes; an
 * AES key wrap part of whole 64-bit blocks, at least two), RSA-OAEP with
 * SHA-256 then SHA-1, AES key wrap with padding (RFC 5649), PKCS#8, and the
 * key checks (P-256, range, stored public key).  Each input is also tried
 * as the AES key wrap part under a fixed AES key and as bare PKCS#8 DER, so
 * that mutations reach the later steps without having to get past RSA-OAEP.
 *
 * A P-256 key that comes out is wrapped again with sks_wrap_key(), the
 * sender's side, and must unwrap to the same key.
 *
 * The seed corpus (tests/fuzz/corpus/wrapped) holds blobs that `sksctl wrap`
 * made for this RSA key, with SHA-1 and SHA-256 OAEP, and damaged copies.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "keystore/internal.h"
#include "profile/profile.h"

#define KEK_LEN 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test key made for this target only; it protects nothing. */
static const char wrapping_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIG/gIBADANBgkqhkiG9w0BAQEFAASCBugwggbkAgEAAoIBgQDZaFsk8kQ4ai90\n"
    "Y8C+raX/F1tEDukeVzO5fMQ5OIObdijBN3tPe3LtDTxVS4RlrIB+Y47L40Am0Ppr\n"
    "fx7EhMwD6LM5ixduzpjZnrkNPTtqh2n+AAx14XYwhggCKGwvtXiz+ZXwARDblz7K\n"
    "LhNSETtbS4nS/Zsl8JnXEtFrOSm3oJxrogkieHD1VIcGNc8qD5xlHpPX2AK856Ke\n"
    "s5g7RKgCKLyPWfXZA039+ySEGIow/8BA+T2jNqmMDPgjHO+fRGRVryAoIeGqCSZM\n"
    "65hNXvqLk8ZSoJJpI3BR2CjMkq3AwgOtpIYb8Lu2HWEZWa5B9T3AOIdHiFoMDXEV\n"
    "kXsiA6E29rjuv8HIfrXrg8VuPyFjuO9StFk9W8+SutqcTKf56p/UYSfWGA/IiYW8\n"
    "VWWC5iuQ/Wm6A9xPdtDlokB3foVIP0CU66X8FcXzG1BeIO/4y6o/4KvrzMOeHBYN\n"
    "f05EDFeTaP7dAcFoj3zIaRGPFrCCMZ6rxk/IxNBx0EGf/AfiGiMCAwEAAQKCAYAF\n"
    "A804tBgywYKRkrpWmVtjuz56Q7N/wIYLfP9GTOhHrgbsWXnZQqW43PUCdhjoAut+\n"
    "I2wMqsq046beijKxfTRorPW8Pln3vKX186+dEbVfJtbFoWs6cpZcxCz9+OS6iG1d\n"
    "xNajtJ4EW9bDzNlsq3rNB3ObRptx2XPJ2fazQQoD4OaNEZt858d1imQtOxEXaLZ9\n"
    "ZFksHSDjCgzMPhIAl2mwsw9IsqdjHBpnl/Vv9Xaqk0A9dkt7HJo/c+m0Ojbt7dmb\n"
    "Lr+DILhf5fUo9ANghHN6hU6fI87OVjZqGPCfEL2CTlbru3dQfAv8Br0wwoQhYQdn\n"
    "awAUgpYPfxmCoCeubCPIiV7cgaWwWKOGCfWzfBIB5J39dPsIEhC09tmGc+ygFBDD\n"
    "/CYHGommyi+m57j/SceHZ5/Jm50JsalmMOBqpzkcE2XF5HDR2yZJxRXi61W3RGxS\n"
    "DiDkCjv+lQ5Aifw7Y/iPX2uHpInfWBd/S9D/QbiUTQ1ewLdcSSNZSZ1m2aGusrEC\n"
    "gcEA8JP8oSdlIHPYT5ZNyNz9Oe4ZDf2tCSj5ksrTNPSnPGq3zvRIMqd4rBAT0BeB\n"
    "rIXNFX15fjWwr6wwR+bIMnm4c/d9MfYZcCKs5QHLjNr8hQDofu4Bb3mnSv4uDwnh\n"
    "ussxPbGsR75w8uR6GzT/DYdq6BJBmr/yvSUkhglXnGkeib/TrsgoQEa6izUh+wUH\n"
    "1yX8Ed8FSeBe4Vjrs6DHNOdOIIy2v19JNxlDwJ2jt85X2zOQgxPtb1M3CKZBoto7\n"
    "kc4XAoHBAOdYIVKWam8PleESXlBIODs1hc7L+7QwCv2sccyb8cbMRleI355+7+cw\n"
    "j7Sfvkkt5Gwyyufis3WJYvXuPVAkwHClPoQkAYSfsr0ZjxgalurasH9fr6MF4NYP\n"
    "qqNFo9hVuJuQB+ZQM+xEfinFsljWUPuCJ6vsIZKKDJX7jv1NwrIfT9f5a+0qaufJ\n"
    "mJbd3hxZi5nTq8f0znafBsK5xTF2hiYUD5GAuy01xyQqyvGUJLuFcPGfAulZqaTm\n"
    "e/d9WOkH1QKBwFF12pH60+w0LadtPnNoGLp327X4EpJKdI927CM/QC1d+VUzNAsq\n"
    "19pzKzJH81mmiLXhIbVRmr0xMbv28gzdWE60G4lCSoTEyQRWIkVUlTK4BwGLt6K2\n"
    "b6YeARyIfQ2R5d98/NfiLT6hjJMP09kR5GomXF545kmTfRWBrk/A7F06PgQttCtn\n"
    "h5zBZfsoTepU61Bl0tWcCqSFRnIxW6KXO8Ybv3l3W0Qz4tQizJ/dV7RadnFb2wba\n"
    "B4V/PjRVbtxFCwKBwQCsT/pR93NDUcqDIBlbls87WrxVsZ3DMl2dYMpKaoUFW7Wx\n"
    "EWPuPAIYoxUGpk0nWKVg6dw0J6kfjLtHDrJgdV9ZB9uutNrkm8aYDueEPpnWSBla\n"
    "Zjz+Iiy7hGPGxOIrCn48cGVR6L8j5khKeNREUy1yiBlgdrry2RxSwlJY3Yh8/9GK\n"
    "vl7jAcsq5f9fr9X2K8RNSVoTz4XQ2NZCR/hWxT9aMWr/J3FDVWEE0VLj6UIK4nOj\n"
    "pJqYkI5JItuHFbgZqhkCgcEAtJ1GQLHjzF67L49RJr+dkwJdiEv27wTdFPyyGQBu\n"
    "FudqPXbArFcF9p7XOhWW/3YEbhHfHrTYd8SceGzqX9B6Nwcq2Dwt0VVk5bERjxew\n"
    "aBOzQ9E9QCabXKofayO47uS20tZv2n1h7d8mFWMcCC43egkDtGE4cD5EOeE48tSm\n"
    "+81Tjt2lqvT/Q942MPIurSn1LnJxaWWKaLOTN+bTpNoITKiFLAmQ7oCN8o3IVT7n\n"
    "nsyDVbald4QpFufmd/FoMIRn\n"
    "-----END PRIVATE KEY-----\n";

/* The AES key of the second way in: any fixed value serves. */
static const unsigned char fixed_kek[KEK_LEN] = "shaken-sks fuzz_wrapped AES key";

static EVP_PKEY *wrapping_key(void)
{
    static EVP_PKEY *key;
    BIO *bio;

    if (key != NULL)
        return key;
    bio = BIO_new_mem_buf(wrapping_key_pem, -1);
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL)
        abort();
    return key;
}

/* RSA-OAEP with |md| for hash and MGF1, as the token does: the AES key, or false. */
static bool oaep_decrypt(const char *md, const unsigned char *in, size_t len,
                         unsigned char kek[KEK_LEN])
{
    unsigned char out[512];
    size_t outlen = sizeof(out);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, wrapping_key(), NULL);
    bool ok;

    ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) == 1 &&
         EVP_PKEY_decrypt(ctx, out, &outlen, in, len) == 1 && outlen == KEK_LEN;
    if (ok)
        memcpy(kek, out, KEK_LEN);
    OPENSSL_cleanse(out, sizeof(out));
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* RFC 5649 unwrap: the PKCS#8 DER (OPENSSL_clear_free it), or NULL. */
static unsigned char *kwp_unwrap(const unsigned char kek[KEK_LEN], const unsigned char *in,
                                 size_t len, size_t *outlen)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char *out = OPENSSL_malloc(len + 16);
    int n1 = 0, n2 = 0;
    bool ok;

    if (ctx != NULL)
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    ok = ctx != NULL && out != NULL && len <= INT32_MAX &&
         EVP_DecryptInit_ex2(ctx, EVP_aes_256_wrap_pad(), kek, NULL, NULL) == 1 &&
         EVP_DecryptUpdate(ctx, out, &n1, in, (int)len) == 1 &&
         EVP_DecryptFinal_ex(ctx, out + n1, &n2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_clear_free(out, len + 16);
        return NULL;
    }
    *outlen = (size_t)n1 + (size_t)n2;
    return out;
}

/*
 * PKCS#8 DER to a key that passes the key store's key checks (P-256, range,
 * the stored public key), those sks_wrap_key() makes too, or NULL.
 */
static EVP_PKEY *pkcs8_p256(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    EVP_PKEY *key = info != NULL ? EVP_PKCS82PKEY(info) : NULL;
    unsigned char d[32];
    struct sks_error err;

    PKCS8_PRIV_KEY_INFO_free(info);
    if (key != NULL && ks_check_key(key, NULL, d, &err) != SKS_OK) {
        if (err.msg[0] == '\0')
            abort();
        EVP_PKEY_free(key);
        key = NULL;
    }
    OPENSSL_cleanse(d, sizeof(d));
    ERR_clear_error();
    return key;
}

/*
 * The whole blob, in the key store's order.  Returns the key, or NULL with
 * the step that refused it in |*step| (for a reader of a crash, not checked).
 */
static EVP_PKEY *unwrap_blob(const unsigned char *blob, size_t len, const char **step)
{
    static const char *const mds[] = {"SHA256", "SHA1"};
    size_t rsa_len = (size_t)EVP_PKEY_get_size(wrapping_key()), kwp_len, p8_len = 0, i;
    unsigned char kek[KEK_LEN], *p8 = NULL;
    EVP_PKEY *key = NULL;

    *step = "size";
    kwp_len = len > rsa_len ? len - rsa_len : 0;
    if (len > KS_RECORD_MAX || kwp_len < 16 || kwp_len % 8 != 0)
        return NULL;
    *step = "rsa-oaep";
    for (i = 0; i < 2 && p8 == NULL; i++) {
        if (oaep_decrypt(mds[i], blob, rsa_len, kek)) {
            *step = "aes-kwp";
            p8 = kwp_unwrap(kek, blob + rsa_len, kwp_len, &p8_len);
        }
    }
    OPENSSL_cleanse(kek, sizeof(kek));
    if (p8 != NULL) {
        *step = "pkcs8-key-checks";
        key = pkcs8_p256(p8, p8_len);
        OPENSSL_clear_free(p8, p8_len);
    }
    ERR_clear_error();
    return key;
}

/* The same private scalar and public point: EVP_PKEY_eq compares the public halves only. */
static bool same_private_key(EVP_PKEY *a, EVP_PKEY *b)
{
    BIGNUM *da = NULL, *db = NULL;
    bool same;

    same = EVP_PKEY_eq(a, b) == 1 && EVP_PKEY_get_bn_param(a, "priv", &da) == 1 &&
           EVP_PKEY_get_bn_param(b, "priv", &db) == 1 && BN_cmp(da, db) == 0;
    BN_clear_free(da);
    BN_clear_free(db);
    ERR_clear_error();
    return same;
}

/* The sender's side: sks_wrap_key() of |key| must unwrap to |key|, with either OAEP hash. */
static void check_rewrap(EVP_PKEY *key, const char *oaep_md)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    struct sks_error err;
    const char *step;
    EVP_PKEY *back;

    if (sks_wrap_key(wrapping_key(), key, oaep_md, &blob, &len, &err) != SKS_OK) {
        fprintf(stderr, "fuzz_wrapped: sks_wrap_key refused a P-256 key: %s\n", err.msg);
        abort();
    }
    back = unwrap_blob(blob, len, &step);
    if (back == NULL || !same_private_key(key, back)) {
        fprintf(stderr, "fuzz_wrapped: a blob of sks_wrap_key (%s) fails at %s\n", oaep_md, step);
        abort();
    }
    EVP_PKEY_free(back);
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *step;
    unsigned char *p8;
    size_t p8_len = 0;
    EVP_PKEY *key;

    key = unwrap_blob(data, size, &step);
    if (key != NULL) {
        check_rewrap(key, "SHA1");
        check_rewrap(key, "SHA256");
        EVP_PKEY_free(key);
    }
    p8 = size <= KS_RECORD_MAX ? kwp_unwrap(fixed_kek, data, size, &p8_len) : NULL;
    if (p8 != NULL) {
        EVP_PKEY_free(pkcs8_p256(p8, p8_len));
        OPENSSL_clear_free(p8, p8_len);
    }
    EVP_PKEY_free(pkcs8_p256(data, size));
    ERR_clear_error();
    return 0;
}
