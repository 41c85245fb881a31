/*
 * SIGNATURE: ECDSA with a token key.  The message is hashed on the host and
 * the digest signed with CKM_ECDSA in the token (SoftHSM 2.6 has no
 * CKM_ECDSA_SHA256); a one-shot SHA-256 signature uses CKM_ECDSA_SHA256 when
 * the token offers it.  Output is DER, as OpenSSL callers expect, or the raw
 * r || s of a JWS when "sks-signature-format" is "raw".  Verification needs
 * no secret and runs in software with the public key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "provider/prov.h"

#define RAW_LEN P11_ES256_SIG_LEN
#define DER_MAX 72

enum { OP_SIGN = 1, OP_VERIFY };

struct sig_ctx {
    struct prov_ctx *pctx;
    struct prov_key *key;
    int op;
    bool raw;
    EVP_MD *md;        /* NULL when signing a precomputed digest */
    EVP_MD_CTX *mdctx; /* host-side hash of the message */
    bool token_hash;   /* one-shot SHA-256 goes to CKM_ECDSA_SHA256 */
};

/* DER AlgorithmIdentifier values, RFC 5758 3.2: parameters are absent. */
static const unsigned char algid_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char algid_sha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const unsigned char algid_sha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};

static void *sig_newctx(void *provctx, const char *propq)
{
    struct sig_ctx *ctx = calloc(1, sizeof(*ctx));

    if (ctx != NULL)
        ctx->pctx = provctx;
    return ctx;
}

static void sig_freectx(void *vctx)
{
    struct sig_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(ctx->mdctx);
    EVP_MD_free(ctx->md);
    prov_key_free(ctx->key);
    free(ctx);
}

static void *sig_dupctx(void *vctx)
{
    struct sig_ctx *src = vctx, *dst = calloc(1, sizeof(*dst));

    if (dst == NULL)
        return NULL;
    *dst = *src;
    dst->mdctx = NULL;
    if (src->key != NULL)
        prov_key_ref(src->key);
    if (src->md != NULL)
        EVP_MD_up_ref(src->md);
    if (src->mdctx != NULL &&
        ((dst->mdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx))) {
        sig_freectx(dst);
        return NULL;
    }
    return dst;
}

/* SHA-256 is fetched once per provider: the hot path must not fetch. */
static EVP_MD *sha256(struct prov_ctx *pctx)
{
    EVP_MD *md = atomic_load(&pctx->sha256), *expected = NULL;

    if (md != NULL)
        return md;
    md = EVP_MD_fetch(pctx->libctx, "SHA256", NULL);
    if (md != NULL && !atomic_compare_exchange_strong(&pctx->sha256, &expected, md)) {
        EVP_MD_free(md);
        md = expected;
    }
    return md;
}

/* The names SHA-256 goes by; matched without a fetch on the hot path. */
static bool is_sha256_name(const char *mdname)
{
    return mdname == NULL || mdname[0] == '\0' || OPENSSL_strcasecmp(mdname, "SHA256") == 0 ||
           OPENSSL_strcasecmp(mdname, "SHA2-256") == 0 ||
           OPENSSL_strcasecmp(mdname, "SHA-256") == 0;
}

static int set_digest(struct sig_ctx *ctx, const char *mdname)
{
    EVP_MD *md = NULL;

    /* SHA-256 by any name is the provider's one fetched copy. */
    if (!is_sha256_name(mdname)) {
        md = EVP_MD_fetch(ctx->pctx->libctx, mdname, NULL);
        if (md == NULL || !(EVP_MD_is_a(md, "SHA384") || EVP_MD_is_a(md, "SHA512"))) {
            bool sha256_alias = md != NULL && EVP_MD_is_a(md, "SHA256");
            EVP_MD_free(md);
            md = NULL;
            if (!sha256_alias) {
                prov_raise(ctx->pctx, PROV_R_NOT_SUPPORTED,
                           "digest %s is not supported with ECDSA here (use SHA256, SHA384 or "
                           "SHA512)",
                           mdname);
                return 0;
            }
        }
    }
    if (md == NULL && ((md = sha256(ctx->pctx)) == NULL || !EVP_MD_up_ref(md)))
        return 0;
    EVP_MD_free(ctx->md);
    ctx->md = md;
    return 1;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int init(struct sig_ctx *ctx, void *keydata, int op, const OSSL_PARAM params[])
{
    /* No key: EVP_DigestSignInit re-initialising a context keeps its key. */
    struct prov_key *key = keydata != NULL ? keydata : ctx->key;

    if (key == NULL) {
        prov_raise(ctx->pctx, PROV_R_INPUT, "no key given");
        return 0;
    }
    if (op == OP_SIGN && (key->p11 == NULL || !p11_key_is_private(key->p11))) {
        prov_raise(ctx->pctx, PROV_R_INPUT, "signing needs a private key held in the token");
        return 0;
    }
    if (op == OP_VERIFY && key->pub_len == 0) {
        prov_raise(ctx->pctx, PROV_R_INPUT, "verification needs a public key");
        return 0;
    }
    if (ctx->key != key) {
        prov_key_free(ctx->key);
        ctx->key = prov_key_ref(key);
    }
    ctx->op = op;
    return sig_set_ctx_params(ctx, params);
}

static int sig_sign_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return init(vctx, key, OP_SIGN, params);
}

static int sig_verify_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return init(vctx, key, OP_VERIFY, params);
}

/*
 * X.690 8.3: one unsigned 32-byte half as a minimal two's-complement INTEGER.
 * Written out rather than through ECDSA_SIG and BIGNUMs: this runs on every
 * signature, and the BIGNUM route costs about 2% of a token signature.
 */
static size_t der_integer(unsigned char *out, const unsigned char *v, size_t len)
{
    size_t pad;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    pad = (v[0] & 0x80) != 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(len + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, len);
    return 2 + pad + len;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 2.2.3); at most 72 bytes. */
static size_t raw_to_der(const unsigned char raw[RAW_LEN], unsigned char der[DER_MAX])
{
    size_t len = 2;

    len += der_integer(der + len, raw, RAW_LEN / 2);
    len += der_integer(der + len, raw + RAW_LEN / 2, RAW_LEN / 2);
    der[0] = 0x30;
    der[1] = (unsigned char)(len - 2);
    return len;
}

/* r || s from the token to DER, or kept raw. */
static int encode(struct sig_ctx *ctx, const unsigned char raw[RAW_LEN], unsigned char *sig,
                  size_t *siglen, size_t sigsize)
{
    unsigned char der[DER_MAX];
    size_t len = RAW_LEN;
    const unsigned char *out = raw;

    if (!ctx->raw) {
        len = raw_to_der(raw, der);
        out = der;
    }
    if (sigsize < len) {
        prov_raise(ctx->pctx, PROV_R_INPUT, "signature buffer too small (%zu bytes, need %zu)",
                   sigsize, len);
        return 0;
    }
    memcpy(sig, out, len);
    *siglen = len;
    return 1;
}

static int sign_digest(struct sig_ctx *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                       const unsigned char *dgst, size_t dlen, bool message)
{
    unsigned char raw[RAW_LEN];
    struct sks_error err;
    sks_status st;

    if (sig == NULL) {
        *siglen = ctx->raw ? RAW_LEN : DER_MAX;
        return 1;
    }
    if (message)
        st = p11_key_sign_message(ctx->key->p11, dgst, dlen, raw, &err);
    else
        st = p11_key_sign_digest(ctx->key->p11, dgst, dlen, raw, &err);
    if (st != SKS_OK) {
        prov_raise_error(ctx->pctx, &err);
        return 0;
    }
    return encode(ctx, raw, sig, siglen, sigsize);
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                    const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;

    /* CKM_ECDSA signs a hash: anything from SHA-1 to SHA-512 in size. */
    if (sig != NULL && (tbslen < 20 || tbslen > 64)) {
        prov_raise(ctx->pctx, PROV_R_INPUT,
                   "ECDSA signs a digest of 20 to 64 bytes; got %zu bytes (hash the data "
                   "first, or use a digest signature)",
                   tbslen);
        return 0;
    }
    return sign_digest(ctx, sig, siglen, sigsize, tbs, tbslen, false);
}

static int verify_with(struct sig_ctx *ctx, const unsigned char *sig, size_t siglen,
                       const unsigned char *tbs, size_t tbslen)
{
    EVP_PKEY *pub = prov_key_soft_public(ctx->key);
    EVP_PKEY_CTX *vctx = NULL;
    unsigned char der[DER_MAX];
    int ok = 0;

    if (pub == NULL) {
        prov_raise(ctx->pctx, PROV_R_INTERNAL, "cannot build the public key for verification");
        return 0;
    }
    /* The software verifier takes DER. */
    if (ctx->raw) {
        if (siglen != RAW_LEN)
            return 0;
        siglen = raw_to_der(sig, der);
        sig = der;
    }
    vctx = EVP_PKEY_CTX_new_from_pkey(ctx->pctx->libctx, pub, NULL);
    if (vctx != NULL && EVP_PKEY_verify_init(vctx) > 0)
        ok = EVP_PKEY_verify(vctx, sig, siglen, tbs, tbslen);
    EVP_PKEY_CTX_free(vctx);
    return ok == 1;
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                      size_t tbslen)
{
    return verify_with(vctx, sig, siglen, tbs, tbslen);
}

static int digest_init(struct sig_ctx *ctx, const char *mdname, void *key, int op,
                       const OSSL_PARAM params[])
{
    if (!init(ctx, key, op, params) || !set_digest(ctx, mdname))
        return 0;
    if (ctx->mdctx == NULL && (ctx->mdctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    ctx->token_hash = op == OP_SIGN && ctx->md == sha256(ctx->pctx) &&
                      p11_token_has_mechanism(p11_key_token(ctx->key->p11), CKM_ECDSA_SHA256);
    return EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL);
}

static int sig_digest_sign_init(void *vctx, const char *mdname, void *key,
                                const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, key, OP_SIGN, params);
}

static int sig_digest_verify_init(void *vctx, const char *mdname, void *key,
                                  const OSSL_PARAM params[])
{
    return digest_init(vctx, mdname, key, OP_VERIFY, params);
}

static int sig_digest_update(void *vctx, const unsigned char *data, size_t len)
{
    struct sig_ctx *ctx = vctx;

    ctx->token_hash = false; /* streamed: the host hashes */
    return EVP_DigestUpdate(ctx->mdctx, data, len);
}

static int sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (sig == NULL)
        return sign_digest(ctx, NULL, siglen, sigsize, NULL, 0, false);
    if (!EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return sign_digest(ctx, sig, siglen, sigsize, dgst, dlen, false);
}

/* One-shot EVP_DigestSign: the whole message at once. */
static int sig_digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                           const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (sig == NULL)
        return sign_digest(ctx, NULL, siglen, sigsize, NULL, 0, false);
    if (ctx->token_hash)
        return sign_digest(ctx, sig, siglen, sigsize, tbs, tbslen, true);
    if (!EVP_DigestUpdate(ctx->mdctx, tbs, tbslen) || !EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return sign_digest(ctx, sig, siglen, sigsize, dgst, dlen, false);
}

static int sig_digest_verify_final(void *vctx, const unsigned char *sig, size_t siglen)
{
    struct sig_ctx *ctx = vctx;
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen))
        return 0;
    return verify_with(ctx, sig, siglen, dgst, dlen);
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;
    const EVP_MD *md = ctx->md != NULL ? ctx->md : sha256(ctx->pctx);
    OSSL_PARAM *p;

    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != NULL) {
        const unsigned char *id = algid_sha256;
        size_t len = sizeof(algid_sha256);
        if (EVP_MD_is_a(md, "SHA384")) {
            id = algid_sha384;
            len = sizeof(algid_sha384);
        } else if (EVP_MD_is_a(md, "SHA512")) {
            id = algid_sha512;
            len = sizeof(algid_sha512);
        }
        if (!OSSL_PARAM_set_octet_string(p, id, len))
            return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL && !OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(md)))
        return 0;
    p = OSSL_PARAM_locate(params, PROV_PARAM_SIG_FORMAT);
    if (p != NULL && !OSSL_PARAM_set_utf8_string(p, ctx->raw ? "raw" : "der"))
        return 0;
    return 1;
}

static const OSSL_PARAM *sig_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(PROV_PARAM_SIG_FORMAT, NULL, 0),
        OSSL_PARAM_END,
    };
    return params;
}

static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct sig_ctx *ctx = vctx;
    const OSSL_PARAM *p;
    const char *s = NULL;

    if (params == NULL)
        return 1;
    p = OSSL_PARAM_locate_const(params, PROV_PARAM_SIG_FORMAT);
    if (p != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) ||
            (strcmp(s, "der") != 0 && strcmp(s, "raw") != 0)) {
            prov_raise(ctx->pctx, PROV_R_INPUT, "%s must be \"der\" or \"raw\"",
                       PROV_PARAM_SIG_FORMAT);
            return 0;
        }
        ctx->raw = strcmp(s, "raw") == 0;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &s) || !set_digest(ctx, s))
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *sig_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(PROV_PARAM_SIG_FORMAT, NULL, 0),
        OSSL_PARAM_END,
    };
    return params;
}

const OSSL_DISPATCH prov_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx},
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init},
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},
    {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))sig_verify_init},
    {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))sig_digest_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))sig_digest_verify_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))sig_digest_update},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))sig_digest_verify_final},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))sig_gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))sig_settable_ctx_params},
    {0, NULL},
};
