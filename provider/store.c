/*
 * STORE for RFC 7512 pkcs11: URIs.  p11-kit parses the URI; the PKCS#11
 * layer finds the objects.  Keys are returned by reference (they stay in
 * the token), certificates as DER.  The token is logged in to only when
 * the search can return private keys.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>

#include "provider/prov.h"

struct found {
    CK_OBJECT_CLASS cls;
    struct prov_key *key; /* keys */
    unsigned char *der;   /* certificates */
    size_t der_len;
    char *uri;
};

struct store_ctx {
    struct prov_ctx *pctx;
    char *text; /* the URI as given, for messages */
    P11KitUri *uri;
    int expect; /* OSSL_STORE_INFO_* or 0 */
    bool searched;
    bool failed;    /* the search failed: report "not eof" once */
    bool names_one; /* the URI names one object: its failures are errors */
    struct found *found;
    size_t count, next;
    size_t skipped;               /* objects of a class the caller did not ask for */
    struct sks_error first_error; /* the first object that could not be used */
};

static void *store_open(void *provctx, const char *uri)
{
    struct store_ctx *ctx = calloc(1, sizeof(*ctx));
    struct sks_error err;

    if (ctx == NULL)
        return NULL;
    ctx->pctx = provctx;
    if ((ctx->text = strdup(uri)) == NULL || prov_parse_uri(uri, &ctx->uri, &err) != SKS_OK) {
        if (ctx->text != NULL)
            prov_raise_error(provctx, &err);
        free(ctx->text);
        free(ctx);
        return NULL;
    }
    ctx->names_one = p11_kit_uri_get_attribute(ctx->uri, CKA_ID) != NULL ||
                     p11_kit_uri_get_attribute(ctx->uri, CKA_LABEL) != NULL;
    return ctx;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };
    return params;
}

static int store_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = vctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);

    return p == NULL || OSSL_PARAM_get_int(p, &ctx->expect);
}

static bool expected(const struct store_ctx *ctx, CK_OBJECT_CLASS cls)
{
    switch (ctx->expect) {
    case 0:
        return true;
    case OSSL_STORE_INFO_PKEY:
        return cls == CKO_PRIVATE_KEY;
    case OSSL_STORE_INFO_PUBKEY:
        return cls == CKO_PUBLIC_KEY;
    case OSSL_STORE_INFO_CERT:
        return cls == CKO_CERTIFICATE;
    default:
        return false;
    }
}

static int collect(struct p11_token *tok, const struct p11_object *obj, void *arg)
{
    struct store_ctx *ctx = arg;
    struct found *f, *grown;
    struct p11_key *p11 = NULL;
    struct sks_error err;

    if (!expected(ctx, obj->cls)) {
        ctx->skipped++;
        return 0;
    }
    if (obj->cls == CKO_CERTIFICATE && obj->value == NULL)
        return 0;
    if (obj->cls != CKO_CERTIFICATE && p11_key_from_object(tok, obj, &p11, &err) != SKS_OK) {
        /* Listing a token skips what we cannot use; naming it is an error. */
        if (ctx->first_error.status == SKS_OK)
            ctx->first_error = err;
        return 0;
    }
    grown = realloc(ctx->found, (ctx->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        p11_key_put(p11);
        return 1;
    }
    ctx->found = grown;
    f = &ctx->found[ctx->count];
    memset(f, 0, sizeof(*f));
    f->cls = obj->cls;
    f->uri = strdup(obj->uri);
    if (p11 != NULL) {
        f->key = prov_key_new(ctx->pctx, p11);
        if (f->key == NULL)
            p11_key_put(p11);
    } else if ((f->der = malloc(obj->value_len)) != NULL) {
        memcpy(f->der, obj->value, obj->value_len);
        f->der_len = obj->value_len;
    }
    if (f->uri == NULL || (f->key == NULL && f->der == NULL)) {
        prov_key_free(f->key);
        free(f->der);
        free(f->uri);
        return 1;
    }
    ctx->count++;
    return 0;
}

static int search(struct store_ctx *ctx)
{
    struct p11_token *tok = NULL;
    struct sks_error err;
    bool want_private = ctx->expect == 0 || ctx->expect == OSSL_STORE_INFO_PKEY;
    sks_status st;

    ctx->searched = true;
    st = prov_token_for_uri(ctx->pctx, ctx->uri, &tok, &err);
    if (st == SKS_OK)
        st = p11_objects_find(tok, ctx->uri, want_private, collect, ctx, &err);
    p11_token_put(tok);
    if (st != SKS_OK) {
        prov_raise_error(ctx->pctx, &err);
        return 0;
    }
    if (ctx->count == 0 || (ctx->names_one && ctx->first_error.status != SKS_OK)) {
        if (ctx->first_error.status != SKS_OK)
            prov_raise_error(ctx->pctx, &ctx->first_error);
        else if (ctx->skipped > 0)
            prov_raise(ctx->pctx, PROV_R_NOT_FOUND,
                       "%s names %s, not the %s asked for (openssl: add -pubin for a public key)",
                       ctx->text, ctx->skipped == 1 ? "an object" : "objects",
                       ctx->expect == OSSL_STORE_INFO_PKEY     ? "private key"
                       : ctx->expect == OSSL_STORE_INFO_PUBKEY ? "public key"
                                                               : "certificate");
        else
            prov_raise(ctx->pctx, PROV_R_NOT_FOUND, "no object matches %s", ctx->text);
        return 0;
    }
    return 1;
}

static int pass_cert(const struct found *f, OSSL_CALLBACK *cb, void *cbarg)
{
    int type = OSSL_OBJECT_CERT;
    OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, f->der, f->der_len),
        OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DESC, f->uri, strlen(f->uri)),
        OSSL_PARAM_END,
    };
    return cb(params, cbarg);
}

static int store_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = vctx;
    struct found *f;

    if (!ctx->searched && !search(ctx)) {
        ctx->failed = true;
        return 0;
    }
    if (ctx->next >= ctx->count)
        return 0;
    f = &ctx->found[ctx->next++];
    if (f->cls == CKO_CERTIFICATE)
        return pass_cert(f, object_cb, object_cbarg);
    return prov_key_pass(f->key, object_cb, object_cbarg);
}

static int store_eof(void *vctx)
{
    struct store_ctx *ctx = vctx;

    /*
     * After a failed search, one more "not yet" makes callers that stop at
     * eof (openssl storeutl) count the failure; then the store is done.
     */
    if (ctx->failed) {
        ctx->failed = false;
        ctx->next = ctx->count;
        return 0;
    }
    return ctx->searched && ctx->next >= ctx->count;
}

static int store_close(void *vctx)
{
    struct store_ctx *ctx = vctx;
    size_t i;

    for (i = 0; i < ctx->count; i++) {
        prov_key_free(ctx->found[i].key);
        free(ctx->found[i].der);
        free(ctx->found[i].uri);
    }
    free(ctx->found);
    p11_kit_uri_free(ctx->uri);
    free(ctx->text);
    free(ctx);
    return 1;
}

const OSSL_DISPATCH prov_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, NULL},
};

sks_status prov_key_open(struct prov_ctx *pctx, const char *uri, struct prov_key **out,
                         struct sks_error *err)
{
    struct store_ctx *ctx = store_open(pctx, uri);
    CK_ATTRIBUTE *cls;
    sks_status st = SKS_OK;

    if (ctx == NULL)
        /* store_open reported why, quoting the URI without its PIN. */
        return sks_fail(err, SKS_ERR_INPUT, "the key reference holds an invalid PKCS#11 URI");
    cls = p11_kit_uri_get_attribute(ctx->uri, CKA_CLASS);
    ctx->expect = cls != NULL && cls->ulValueLen == sizeof(CK_OBJECT_CLASS) &&
                          *(CK_OBJECT_CLASS *)cls->pValue == CKO_PUBLIC_KEY
                      ? OSSL_STORE_INFO_PUBKEY
                      : OSSL_STORE_INFO_PKEY;
    if (!search(ctx))
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "cannot open the key %s", uri);
    else if (ctx->count > 1)
        st = sks_fail(err, SKS_ERR_INPUT, "%s matches %zu keys; a key reference must name one", uri,
                      ctx->count);
    else
        *out = prov_key_ref(ctx->found[0].key);
    store_close(ctx);
    return st;
}
