/*
 * KEYMGMT for EC P-256 keys held in a token.
 *
 * Two choices here make HSM keys work with unmodified OpenSSL callers:
 *
 * - Export gives the public half and the curve for any selection, never a
 *   private value.  Legacy callers that downgrade the key (libjwt calls
 *   EVP_PKEY_get1_EC_KEY to size the signature) then get a usable public
 *   EC_KEY instead of a failure.
 * - Our keys ask for the signature algorithm "SKS-ECDSA", which only this
 *   provider offers.  EVP_DigestSignInit therefore never picks another
 *   provider's ECDSA and hands it the public-only export, whatever order the
 *   providers were loaded in.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "provider/prov.h"

#define CURVE_NAME "prime256v1"
#define EC_BITS 256
#define EC_SECURITY_BITS 128
#define ECDSA_DER_MAX 72

struct prov_key *prov_key_new(struct prov_ctx *ctx, struct p11_key *p11)
{
    struct prov_key *key = calloc(1, sizeof(*key));

    if (key == NULL)
        return NULL;
    atomic_init(&key->refs, 1);
    key->ctx = ctx;
    if (p11 != NULL) {
        const unsigned char *pub = p11_key_public(p11, &key->pub_len);
        memcpy(key->pub, pub, key->pub_len);
        key->p11 = p11;
    }
    return key;
}

struct prov_key *prov_key_ref(struct prov_key *key)
{
    atomic_fetch_add(&key->refs, 1);
    return key;
}

void prov_key_free(struct prov_key *key)
{
    if (key == NULL || atomic_fetch_sub(&key->refs, 1) != 1)
        return;
    p11_key_put(key->p11);
    EVP_PKEY_free(key->soft_pub);
    free(key);
}

EVP_PKEY *prov_key_soft_public(struct prov_key *key)
{
    EVP_PKEY *built = NULL, *expected = NULL;
    EVP_PKEY_CTX *pctx;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, CURVE_NAME, sizeof(CURVE_NAME) - 1),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, key->pub, key->pub_len),
        OSSL_PARAM_END,
    };

    if (atomic_load(&key->soft_pub) != NULL || key->pub_len == 0)
        return atomic_load(&key->soft_pub);
    pctx = EVP_PKEY_CTX_new_from_name(key->ctx->libctx, "EC", "provider!=" PROV_NAME);
    if (pctx != NULL && EVP_PKEY_fromdata_init(pctx) > 0)
        EVP_PKEY_fromdata(pctx, &built, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(pctx);
    /* Two threads may race to build it; the first one stored wins. */
    if (built != NULL && !atomic_compare_exchange_strong(&key->soft_pub, &expected, built))
        EVP_PKEY_free(built);
    return atomic_load(&key->soft_pub);
}

int prov_key_pass(struct prov_key *key, OSSL_CALLBACK *cb, void *cbarg)
{
    int type = OSSL_OBJECT_PKEY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
        OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, "EC", 2),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(key)),
        OSSL_PARAM_END,
    };

    return cb(params, cbarg);
}

static void *km_new(void *provctx)
{
    return prov_key_new(provctx, NULL);
}

static void km_free(void *keydata)
{
    prov_key_free(keydata);
}

static void *km_load(const void *reference, size_t size)
{
    struct prov_key *key;

    if (reference == NULL || size != sizeof(key))
        return NULL;
    memcpy(&key, reference, sizeof(key));
    return prov_key_ref(key);
}

static void *km_dup(const void *keydata, int selection)
{
    return prov_key_ref((struct prov_key *)keydata);
}

static int km_has(const void *keydata, int selection)
{
    const struct prov_key *key = keydata;

    if (key == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) &&
        (key->p11 == NULL || !p11_key_is_private(key->p11)))
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) && key->pub_len == 0)
        return 0;
    return 1;
}

static int km_match(const void *a, const void *b, int selection)
{
    const struct prov_key *k1 = a, *k2 = b;

    /* Domain parameters always match: only P-256 exists here. */
    if (!(selection & OSSL_KEYMGMT_SELECT_KEYPAIR))
        return 1;
    return k1->pub_len == k2->pub_len && k1->pub_len > 0 &&
           CRYPTO_memcmp(k1->pub, k2->pub, k1->pub_len) == 0;
}

static const OSSL_PARAM *km_import_types(int selection)
{
    static const OSSL_PARAM types[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    return types;
}

/* Imports a public key (for comparisons); private keys belong in the token. */
static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct prov_key *key = keydata;
    const OSSL_PARAM *p;
    const char *group = NULL;
    const void *pub = NULL;
    size_t len = 0;

    if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL) {
        prov_raise(key->ctx, PROV_R_NOT_SUPPORTED,
                   "a software private key cannot be imported into the sks provider; import "
                   "it into the token with sksctl");
        return 0;
    }
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);
    if (p != NULL && (!OSSL_PARAM_get_utf8_string_ptr(p, &group) ||
                      (strcmp(group, CURVE_NAME) != 0 && strcmp(group, "P-256") != 0 &&
                       strcmp(group, "secp256r1") != 0))) {
        prov_raise(key->ctx, PROV_R_POLICY, "not an EC P-256 key (group %s)",
                   group != NULL ? group : "?");
        return 0;
    }
    if (!(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    if (p == NULL || !OSSL_PARAM_get_octet_string_ptr(p, &pub, &len) || len != SKS_P256_POINT_LEN ||
        ((const unsigned char *)pub)[0] != 0x04) {
        prov_raise(key->ctx, PROV_R_INPUT, "public key is not an uncompressed P-256 point");
        return 0;
    }
    memcpy(key->pub, pub, len);
    key->pub_len = len;
    return 1;
}

static const OSSL_PARAM *km_export_types(int selection)
{
    return km_import_types(selection);
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    struct prov_key *key = keydata;
    OSSL_PARAM params[3];
    size_t n = 0;

    if (!(selection & (OSSL_KEYMGMT_SELECT_KEYPAIR | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)))
        return 0;
    /* Only the private half asked for: there is nothing we may give. */
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == OSSL_KEYMGMT_SELECT_PRIVATE_KEY &&
        !(selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS))
        return 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, CURVE_NAME,
                                                   sizeof(CURVE_NAME) - 1);
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) && key->pub_len > 0)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, key->pub, key->pub_len);
    params[n] = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

static const OSSL_PARAM *km_gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    return params;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct prov_key *key = keydata;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, EC_BITS))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, EC_SECURITY_BITS))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, ECDSA_DER_MAX))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, CURVE_NAME))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, "SHA256"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY)) != NULL &&
        (key->pub_len == 0 || !OSSL_PARAM_set_octet_string(p, key->pub, key->pub_len)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY)) != NULL &&
        (key->pub_len == 0 || !OSSL_PARAM_set_octet_string(p, key->pub, key->pub_len)))
        return 0;
    return 1;
}

static const char *km_query_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? PROV_SIG_NAME : NULL;
}

const OSSL_DISPATCH prov_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))km_gettable_params},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))km_query_operation_name},
    {0, NULL},
};
