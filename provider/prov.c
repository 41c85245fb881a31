/*
 * The sks provider's entry point: configuration, dispatch tables, errors.
 *
 * Configuration keys use pkcs11-provider's names where the meaning is the
 * same, so that users can switch between the two:
 *   pkcs11-module-path       PKCS#11 module (default: p11-kit's proxy)
 *   pkcs11-module-token-pin  user PIN source, file:/path
 *   sks-token                token selector, a pkcs11: URI (token attributes)
 * Each is overridden by an environment variable: SKS_PKCS11_MODULE,
 * SKS_PKCS11_TOKEN_PIN and SKS_PKCS11_TOKEN.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "provider/prov.h"

static const OSSL_ITEM reason_strings[] = {
    {PROV_R_INPUT, "invalid input"},
    {PROV_R_NOT_FOUND, "not found"},
    {PROV_R_AUTH, "PKCS#11 login failed"},
    {PROV_R_UNAVAILABLE, "token unavailable"},
    {PROV_R_TOKEN, "PKCS#11 operation failed"},
    {PROV_R_POLICY, "key rejected"},
    {PROV_R_VERIFY, "verification failed"},
    {PROV_R_SYSTEM, "system error"},
    {PROV_R_INTERNAL, "internal error"},
    {PROV_R_BAD_URI, "invalid PKCS#11 URI"},
    {PROV_R_KEYREF, "invalid key-reference file"},
    {PROV_R_NOT_SUPPORTED, "operation not supported"},
    {0, NULL},
};

void prov_raise_at(struct prov_ctx *ctx, const char *file, int line, const char *func, int reason,
                   const char *fmt, ...)
{
    va_list ap;

    if (ctx == NULL || ctx->new_error == NULL)
        return;
    ctx->new_error(ctx->handle);
    ctx->set_error_debug(ctx->handle, file, line, func);
    va_start(ap, fmt);
    ctx->vset_error(ctx->handle, reason, fmt, ap);
    va_end(ap);
}

void prov_raise_error_at(struct prov_ctx *ctx, const char *file, int line, const char *func,
                         const struct sks_error *err)
{
    static const int reasons[] = {
        [SKS_OK] = PROV_R_INTERNAL,
        [SKS_ERR_INPUT] = PROV_R_INPUT,
        [SKS_ERR_NOT_FOUND] = PROV_R_NOT_FOUND,
        [SKS_ERR_AUTH] = PROV_R_AUTH,
        [SKS_ERR_UNAVAILABLE] = PROV_R_UNAVAILABLE,
        [SKS_ERR_TOKEN] = PROV_R_TOKEN,
        [SKS_ERR_POLICY] = PROV_R_POLICY,
        [SKS_ERR_VERIFY] = PROV_R_VERIFY,
        [SKS_ERR_SYSTEM] = PROV_R_SYSTEM,
        [SKS_ERR_INTERNAL] = PROV_R_INTERNAL,
    };
    int reason = PROV_R_INTERNAL;

    if ((size_t)err->status < sizeof(reasons) / sizeof(reasons[0]))
        reason = reasons[err->status];
    prov_raise_at(ctx, file, line, func, reason, "%s", err->msg);
}

/* Longest part of a refused URI that a message quotes. */
#define URI_QUOTE_MAX 160

/*
 * Copies |text| for an error message: at most URI_QUOTE_MAX characters, and
 * the value of every pin-value attribute left out, up to the next '&' (the
 * only separator in a query), so that a URI p11-kit refuses cannot put any
 * part of its PIN into a log.
 */
static void uri_for_message(const char *text, char *out, size_t size)
{
    static const char attr[] = "pin-value=";
    size_t o = 0, len = strlen(text), n = len < URI_QUOTE_MAX ? len : URI_QUOTE_MAX;
    size_t i = 0;
    bool value_left_out = false;

    while (i < n && o + 1 < size) {
        value_left_out = false;
        if (strncasecmp(text + i, attr, sizeof(attr) - 1) == 0) {
            size_t k;

            for (k = 0; k < sizeof(attr) - 1 && o + 1 < size; k++)
                out[o++] = text[i++];
            while (i < len && text[i] != '&')
                i++;
            value_left_out = true;
            continue;
        }
        out[o++] = text[i++];
    }
    /* "pin-value=..." would read as a PIN of three dots. */
    if (i < len && !value_left_out && o + 4 < size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

sks_status prov_parse_uri(const char *text, P11KitUri **out, struct sks_error *err)
{
    P11KitUri *uri = p11_kit_uri_new();
    char quoted[2 * URI_QUOTE_MAX];
    int rc;

    if (uri == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri);
    if (rc != P11_KIT_URI_OK) {
        p11_kit_uri_free(uri);
        uri_for_message(text, quoted, sizeof(quoted));
        return sks_fail(err, SKS_ERR_INPUT, "invalid PKCS#11 URI \"%s\": %s", quoted,
                        p11_kit_uri_message(rc));
    }
    if (p11_kit_uri_any_unrecognized(uri)) {
        p11_kit_uri_free(uri);
        uri_for_message(text, quoted, sizeof(quoted));
        return sks_fail(err, SKS_ERR_INPUT,
                        "invalid PKCS#11 URI \"%s\": it has attributes this provider does not "
                        "know; a misspelt attribute would match the wrong object",
                        quoted);
    }
    /* A PIN in a URI ends up in argv, shell history and logs. */
    if (p11_kit_uri_get_pin_value(uri) != NULL) {
        p11_kit_uri_free(uri);
        return sks_fail(err, SKS_ERR_INPUT,
                        "invalid PKCS#11 URI: pin-value is refused because the PIN would be "
                        "exposed; use pin-source=file:/path or pkcs11-module-token-pin");
    }
    *out = uri;
    return SKS_OK;
}

sks_status prov_token_for_uri(struct prov_ctx *ctx, P11KitUri *uri, struct p11_token **tok,
                              struct sks_error *err)
{
    const char *path = p11_kit_uri_get_module_path(uri);
    const char *pin = p11_kit_uri_get_pin_source(uri);
    sks_status st;

    if (path == NULL)
        path = ctx->module_path;
    /* The PIN sources are set here, each with its origin named when it is refused. */
    st = p11_token_open_uri(path, uri, ctx->token, NULL, tok, err);
    if (st != SKS_OK)
        return st;
    /* The URI's pin-source first: the first source set on a token wins. */
    st = p11_token_set_pin_source(*tok, pin, err);
    if (st != SKS_OK)
        sks_error_prefix(err, "pin-source in the URI");
    if (st == SKS_OK && (st = p11_token_set_pin_source(*tok, ctx->pin_source, err)) != SKS_OK)
        sks_error_prefix(err, "pkcs11-module-token-pin (openssl.cnf, or SKS_PKCS11_TOKEN_PIN)");
    if (st != SKS_OK) {
        p11_token_put(*tok);
        *tok = NULL;
    }
    return st;
}

/* ---- provider entry points ---------------------------------------------- */

static const OSSL_ALGORITHM store_algs[] = {
    {"pkcs11", "provider=" PROV_NAME, prov_store_functions, "PKCS#11 URI (RFC 7512) store"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM keymgmt_algs[] = {
    {"EC:id-ecPublicKey:1.2.840.10045.2.1", "provider=" PROV_NAME, prov_keymgmt_functions,
     "EC P-256 keys held in a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algs[] = {
    {PROV_SIG_NAME, "provider=" PROV_NAME, prov_signature_functions, "ECDSA in a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM decoder_algs[] = {
    {"DER", "provider=" PROV_NAME ",input=pem", prov_decoder_pem_functions,
     "PKCS#11 key-reference PEM files"},
    {"EC", "provider=" PROV_NAME ",input=der", prov_decoder_der_functions,
     "PKCS#11 key references"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *query_operation(void *provctx, int id, int *no_cache)
{
    *no_cache = 0;
    switch (id) {
    case OSSL_OP_STORE:
        return store_algs;
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_DECODER:
        return decoder_algs;
    }
    return NULL;
}

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, NULL, 0),
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, NULL, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, NULL),
        OSSL_PARAM_END,
    };
    return params;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "shaken-sks PKCS#11 provider"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_VERSION))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_STRING))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    return reason_strings;
}

static void ctx_free(struct prov_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_free(ctx->sha256);
    OSSL_LIB_CTX_free(ctx->libctx);
    free(ctx->module_path);
    free(ctx->pin_source);
    if (ctx->token != NULL)
        p11_kit_uri_free(ctx->token);
    free(ctx);
}

/*
 * Tokens and modules are deliberately left alone at teardown: teardown runs
 * from OpenSSL's exit handler, where finalising SoftHSM crashes.
 */
static void teardown(void *provctx)
{
    ctx_free(provctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {0, NULL},
};

/* The environment variable first, then the openssl.cnf value. */
static char *config_value(const char *env, const char *cnf)
{
    const char *v = getenv(env);

    if (v == NULL || v[0] == '\0')
        v = cnf;
    return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

static int configure(struct prov_ctx *ctx, OSSL_FUNC_core_get_params_fn *get)
{
    char *module = NULL, *pin = NULL, *token = NULL, *token_uri;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr("pkcs11-module-path", &module, 0),
        OSSL_PARAM_utf8_ptr("pkcs11-module-token-pin", &pin, 0),
        OSSL_PARAM_utf8_ptr("sks-token", &token, 0),
        OSSL_PARAM_END,
    };
    struct sks_error err;

    if (get != NULL && !get(ctx->handle, params))
        return 0;
    ctx->module_path = config_value("SKS_PKCS11_MODULE", module);
    ctx->pin_source = config_value("SKS_PKCS11_TOKEN_PIN", pin);
    token_uri = config_value("SKS_PKCS11_TOKEN", token);
    if (token_uri != NULL) {
        sks_status st = prov_parse_uri(token_uri, &ctx->token, &err);
        free(token_uri);
        if (st != SKS_OK) {
            prov_raise_error(ctx, &err);
            return 0;
        }
    }
    return 1;
}

OPENSSL_EXPORT int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                                      const OSSL_DISPATCH **out, void **provctx);

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    OSSL_FUNC_core_get_params_fn *get_core_params = NULL;
    struct prov_ctx *ctx = calloc(1, sizeof(*ctx));
    const OSSL_DISPATCH *d;

    if (ctx == NULL)
        return 0;
    ctx->handle = handle;
    for (d = in; d->function_id != 0; d++) {
        switch (d->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            get_core_params = OSSL_FUNC_core_get_params(d);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            ctx->new_error = OSSL_FUNC_core_new_error(d);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->set_error_debug = OSSL_FUNC_core_set_error_debug(d);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            ctx->vset_error = OSSL_FUNC_core_vset_error(d);
            break;
        }
    }
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    if (ctx->libctx == NULL || !configure(ctx, get_core_params)) {
        ctx_free(ctx);
        return 0;
    }
    *out = provider_functions;
    *provctx = ctx;
    return 1;
}
