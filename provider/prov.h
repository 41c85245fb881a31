/* The sks provider: shared context, errors and key objects. */
#ifndef SKS_PROVIDER_PROV_H
#define SKS_PROVIDER_PROV_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/core.h>
#include <openssl/crypto.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <p11-kit/uri.h>

#include "common/error.h"
#include "common/p256.h"
#include "p11/p11.h"

#define PROV_NAME "sks"

/* Provider reason codes, one per sks_status class plus a few of our own. */
enum prov_reason {
    PROV_R_INPUT = 1,
    PROV_R_NOT_FOUND,
    PROV_R_AUTH,
    PROV_R_UNAVAILABLE,
    PROV_R_TOKEN,
    PROV_R_POLICY,
    PROV_R_VERIFY,
    PROV_R_SYSTEM,
    PROV_R_INTERNAL,
    PROV_R_BAD_URI,
    PROV_R_KEYREF,
    PROV_R_NOT_SUPPORTED,
};

struct prov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx; /* child of the application's context */
    OSSL_FUNC_core_new_error_fn *new_error;
    OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
    OSSL_FUNC_core_vset_error_fn *vset_error;

    /* Configuration: openssl.cnf section, overridden by the environment. */
    char *module_path; /* pkcs11-module-path / SKS_PKCS11_MODULE */
    char *pin_source;  /* pkcs11-module-token-pin / SKS_PKCS11_TOKEN_PIN */
    P11KitUri *token;  /* sks-token / SKS_PKCS11_TOKEN */

    EVP_MD *_Atomic sha256; /* fetched once: the hot path hashes with it */
};

/* A key the provider hands to OpenSSL: a token key, or a public key imported for comparison. */
struct prov_key {
    _Atomic int refs;
    struct prov_ctx *ctx;
    struct p11_key *p11; /* NULL for an imported public key */
    unsigned char pub[SKS_P256_POINT_LEN];
    size_t pub_len;
    EVP_PKEY *_Atomic soft_pub; /* the public key as a software key, for verification */
};

/*
 * Raises an OpenSSL error from the provider, recording the caller's file,
 * line and function; |fmt| must name what failed.
 */
void prov_raise_at(struct prov_ctx *ctx, const char *file, int line, const char *func, int reason,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void prov_raise_error_at(struct prov_ctx *ctx, const char *file, int line, const char *func,
                         const struct sks_error *err);
#define prov_raise(ctx, ...)                                                                       \
    prov_raise_at(ctx, OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC, __VA_ARGS__)
#define prov_raise_error(ctx, err)                                                                 \
    prov_raise_error_at(ctx, OPENSSL_FILE, OPENSSL_LINE, OPENSSL_FUNC, err)

/*
 * Finds the token a URI names, within the configured module and token
 * selector, and sets its PIN source (the URI's pin-source wins).
 */
sks_status prov_token_for_uri(struct prov_ctx *ctx, P11KitUri *uri, struct p11_token **tok,
                              struct sks_error *err);
/* Parses a pkcs11: URI; rejects unknown attributes and pin-value. */
sks_status prov_parse_uri(const char *text, P11KitUri **out, struct sks_error *err);
/*
 * Opens the one key a URI names (a private key unless the URI says
 * type=public), as a provider key.
 */
sks_status prov_key_open(struct prov_ctx *ctx, const char *uri, struct prov_key **out,
                         struct sks_error *err);

struct prov_key *prov_key_new(struct prov_ctx *ctx, struct p11_key *p11);
struct prov_key *prov_key_ref(struct prov_key *key);
void prov_key_free(struct prov_key *key);
/* The public half as a default-provider key (built once). */
EVP_PKEY *prov_key_soft_public(struct prov_key *key);
/*
 * Passes |key| to an OSSL_CALLBACK as an OSSL_OBJECT reference, the way
 * STORE and DECODER return keys; the keymgmt's load takes its own reference.
 */
int prov_key_pass(struct prov_key *key, OSSL_CALLBACK *cb, void *cbarg);

extern const OSSL_DISPATCH prov_store_functions[];
extern const OSSL_DISPATCH prov_decoder_pem_functions[];
extern const OSSL_DISPATCH prov_decoder_der_functions[];
extern const OSSL_DISPATCH prov_keymgmt_functions[];
extern const OSSL_DISPATCH prov_signature_functions[];

/* The signature algorithm name our keys ask for (see keymgmt.c). */
#define PROV_SIG_NAME "SKS-ECDSA"
/* The settable signature parameter that selects DER (default) or raw r||s. */
#define PROV_PARAM_SIG_FORMAT "sks-signature-format"

#endif
