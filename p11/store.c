/*
 * Object store operations: what the key store writes and reads besides
 * signing.  Find, read, create, copy, modify and destroy token objects,
 * unwrap a key into the token, and generate the RSA key pair that wrapped
 * keys are imported under.
 *
 * Each operation runs through p11_call_run: on a pooled session after
 * login, retried once when the session, the login or the token was lost.  Unlike signing, a
 * stale object handle is not a reason to reset the token here: the handle
 * came from the caller, who must look the object up again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "p11/internal.h"

/* A search that finds more objects than this is refused, not truncated. */
#define STORE_FIND_MAX 1000000
#define FIND_BATCH 256

typedef CK_RV (*store_op)(struct p11_token *tok, CK_SESSION_HANDLE session, void *arg);

/* Runs |op| on a logged-in session with the caller's handles (p11_call_run). */
static sks_status run(struct p11_token *tok, store_op op, void *arg, CK_RV *rv,
                      struct sks_error *err)
{
    const struct p11_call c = {op, NULL, arg, true};

    return p11_call_run(tok, &c, rv, err);
}

unsigned long long p11_token_epoch(struct p11_token *tok)
{
    return atomic_load(&tok->epoch);
}

bool p11_token_mechanism_flags(struct p11_token *tok, CK_MECHANISM_TYPE mech, CK_FLAGS flags)
{
    CK_MECHANISM_INFO info;

    if (p11_module_check_fork(tok->mod, NULL) != SKS_OK)
        return false;
    return P11_CALL(tok->mod, C_GetMechanismInfo, tok->slot, mech, &info) == CKR_OK &&
           (info.flags & flags) == flags;
}

char *p11_store_object_uri(struct p11_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id,
                           size_t id_len, const char *label)
{
    return p11_object_uri(tok, cls, id, id_len, label);
}

/* ---- find ----------------------------------------------------------------- */

struct find_arg {
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE *handles;
    size_t count, cap;
    bool too_many;
};

static CK_RV find_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct find_arg *a = p;
    CK_ULONG got = 0;
    CK_RV rv, frv;

    a->count = 0;
    rv = P11_CALL(tok->mod, C_FindObjectsInit, session, a->tmpl, a->n);
    if (rv != CKR_OK)
        return rv;
    do {
        if (a->cap - a->count < FIND_BATCH) {
            size_t ncap = a->cap * 2 + FIND_BATCH;
            CK_OBJECT_HANDLE *grown;
            if (ncap > STORE_FIND_MAX) {
                a->too_many = true;
                rv = CKR_HOST_MEMORY;
                break;
            }
            if ((grown = realloc(a->handles, ncap * sizeof(*grown))) == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            a->handles = grown;
            a->cap = ncap;
        }
        rv = P11_CALL(tok->mod, C_FindObjects, session, a->handles + a->count, FIND_BATCH, &got);
        if (rv == CKR_OK)
            a->count += got;
    } while (rv == CKR_OK && got > 0);
    frv = P11_CALL(tok->mod, C_FindObjectsFinal, session);
    return rv != CKR_OK ? rv : frv;
}

sks_status p11_store_find(struct p11_token *tok, const struct p11_template *match,
                          CK_OBJECT_HANDLE **handles, size_t *count, struct sks_error *err)
{
    const CK_ATTRIBUTE *tmpl = match != NULL ? match->attr : NULL;
    CK_ULONG n = match != NULL ? match->n : 0;
    CK_BBOOL yes = CK_TRUE;
    struct find_arg a = {0};
    sks_status st;
    CK_RV rv;

    /* Token objects only: session copies of keys share their CKA_ID. */
    a.tmpl = calloc(n + 1, sizeof(*a.tmpl));
    if (a.tmpl == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (n > 0)
        memcpy(a.tmpl, tmpl, n * sizeof(*tmpl));
    a.tmpl[n] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    a.n = n + 1;
    st = run(tok, find_op, &a, &rv, err);
    free(a.tmpl);
    if (st != SKS_OK) {
        free(a.handles);
        if (a.too_many)
            return sks_fail(err, SKS_ERR_INPUT, "a search on %s matches over %d objects", tok->uri,
                            STORE_FIND_MAX);
        return st == SKS_ERR_TOKEN ? p11_fail(err, rv, "cannot search %s", tok->uri) : st;
    }
    *handles = a.handles;
    *count = a.count;
    return SKS_OK;
}

/* ---- read ----------------------------------------------------------------- */

struct get_arg {
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
};

static CK_RV get_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct get_arg *a = p;
    CK_RV rv = P11_CALL(tok->mod, C_GetAttributeValue, session, a->h, a->tmpl, a->n);

    /*
     * Absent, sensitive or oversized attributes are marked
     * CK_UNAVAILABLE_INFORMATION (PKCS#11 2.40 5.7); the others are read.
     */
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
        rv == CKR_BUFFER_TOO_SMALL)
        rv = CKR_OK;
    return rv;
}

sks_status p11_store_get(struct p11_token *tok, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         struct sks_error *err)
{
    struct get_arg a = {h, tmpl, n};
    sks_status st;
    CK_RV rv;

    st = run(tok, get_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN) {
        /* Not object_name(): that reads |h| through here again. */
        return p11_fail(err, rv, "cannot read the attributes of an object on %s", tok->uri);
    }
    return st;
}

static const struct {
    CK_ATTRIBUTE_TYPE type;
    const char *name;
} attr_names[] = {
    [P11_ATTR_LABEL] = {CKA_LABEL, "CKA_LABEL"},
    [P11_ATTR_VALUE] = {CKA_VALUE, "CKA_VALUE"},
    [P11_ATTR_URL] = {CKA_URL, "CKA_URL"},
    [P11_ATTR_VALUE_LEN] = {CKA_VALUE_LEN, "CKA_VALUE_LEN"},
    [P11_ATTR_MODULUS] = {CKA_MODULUS, "CKA_MODULUS"},
    [P11_ATTR_PUBLIC_EXPONENT] = {CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT"},
};

sks_status p11_store_describe(struct p11_token *tok, CK_OBJECT_HANDLE h,
                              struct p11_object_info *info, struct sks_error *err)
{
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &info->cls, sizeof(info->cls)},
        {CKA_KEY_TYPE, &info->key_type, sizeof(info->key_type)},
        {CKA_ID, info->id, sizeof(info->id)},
        {CKA_LABEL, info->label, sizeof(info->label) - 1},
        {CKA_APPLICATION, info->application, sizeof(info->application) - 1},
    };
    sks_status st;

    info->cls = (CK_OBJECT_CLASS)-1;
    info->key_type = (CK_KEY_TYPE)-1;
    st = p11_store_get(tok, h, a, 5, err);
    if (st != SKS_OK)
        return st;
    info->id_len = a[2].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : a[2].ulValueLen;
    info->has_label = a[3].ulValueLen != CK_UNAVAILABLE_INFORMATION;
    info->label[info->has_label ? a[3].ulValueLen : 0] = '\0';
    info->has_application = a[4].ulValueLen != CK_UNAVAILABLE_INFORMATION;
    info->application[info->has_application ? a[4].ulValueLen : 0] = '\0';
    return SKS_OK;
}

/*
 * The URI of |h| for a message, into |buf|: messages name objects, never
 * handles.  When |h| does not read (gone, or the token away), "an object
 * on <token>".
 */
static const char *object_name(struct p11_token *tok, CK_OBJECT_HANDLE h, char *buf, size_t size)
{
    struct p11_object_info info;
    char *uri = NULL;

    if (p11_store_describe(tok, h, &info, NULL) == SKS_OK && info.cls != (CK_OBJECT_CLASS)-1)
        uri = p11_object_uri(tok, info.cls, info.id, info.id_len, info.label);
    if (uri != NULL)
        snprintf(buf, size, "%s", uri);
    else
        snprintf(buf, size, "an object on %s", tok->uri);
    free(uri);
    return buf;
}

#define NAME_MAX_LEN 512

sks_status p11_store_read(struct p11_token *tok, CK_OBJECT_HANDLE h, enum p11_attr attr, void *buf,
                          size_t size, size_t *len, struct sks_error *err)
{
    CK_ATTRIBUTE a = {attr_names[attr].type, buf, (CK_ULONG)size};
    sks_status st = p11_store_get(tok, h, &a, 1, err);

    *len =
        st == SKS_OK && a.ulValueLen != CK_UNAVAILABLE_INFORMATION ? a.ulValueLen : P11_UNAVAILABLE;
    return st;
}

sks_status p11_store_get_value(struct p11_token *tok, CK_OBJECT_HANDLE h, enum p11_attr attr,
                               size_t max, unsigned char **out, size_t *len, struct sks_error *err)
{
    const char *what = attr_names[attr].name;
    CK_ATTRIBUTE a = {attr_names[attr].type, NULL, 0};
    char name[NAME_MAX_LEN];
    unsigned char *buf;
    sks_status st;

    st = p11_store_get(tok, h, &a, 1, err);
    if (st != SKS_OK)
        return st;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "%s has no %s",
                        object_name(tok, h, name, sizeof(name)), what);
    if (a.ulValueLen > max)
        return sks_fail(err, SKS_ERR_INPUT, "%s of %s is over %zu bytes", what,
                        object_name(tok, h, name, sizeof(name)), max);
    /* One byte more, NUL, so that text attributes can be used as strings. */
    if ((buf = malloc(a.ulValueLen + 1)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    a.pValue = buf;
    st = p11_store_get(tok, h, &a, 1, err);
    if (st == SKS_OK && (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > max))
        st = sks_fail(err, SKS_ERR_TOKEN, "%s changed while it was read",
                      object_name(tok, h, name, sizeof(name)));
    if (st != SKS_OK) {
        free(buf);
        return st;
    }
    buf[a.ulValueLen] = '\0';
    *out = buf;
    *len = a.ulValueLen;
    return SKS_OK;
}

sks_status p11_store_get_ec_point(struct p11_token *tok, CK_OBJECT_HANDLE h,
                                  unsigned char pub[SKS_P256_POINT_LEN], struct sks_error *err)
{
    unsigned char buf[128];
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
    char name[NAME_MAX_LEN];
    sks_status st;

    st = p11_store_get(tok, h, &a, 1, err);
    if (st == SKS_OK && (a.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
                         !p11_ec_point_decode(buf, a.ulValueLen, pub)))
        st = sks_fail(err, SKS_ERR_TOKEN, "%s has a malformed CKA_EC_POINT",
                      object_name(tok, h, name, sizeof(name)));
    return st;
}

sks_status p11_store_is_p256_key(struct p11_token *tok, CK_OBJECT_HANDLE h, bool *yes,
                                 struct sks_error *err)
{
    static const unsigned char p256_oid[] = SKS_P256_OID_DER;
    unsigned char params[64];
    CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
    CK_ATTRIBUTE a[] = {
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_EC_PARAMS, params, sizeof(params)},
    };
    sks_status st = p11_store_get(tok, h, a, 2, err);

    *yes = st == SKS_OK && type == CKK_EC && a[1].ulValueLen == sizeof(p256_oid) &&
           memcmp(params, p256_oid, sizeof(p256_oid)) == 0;
    return st;
}

/* ---- write ---------------------------------------------------------------- */

struct write_arg {
    CK_OBJECT_HANDLE h;
    const CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE out;
};

static CK_RV create_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct write_arg *a = p;

    return P11_CALL(tok->mod, C_CreateObject, session, (CK_ATTRIBUTE *)a->tmpl, a->n, &a->out);
}

static CK_RV copy_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct write_arg *a = p;

    return P11_CALL(tok->mod, C_CopyObject, session, a->h, (CK_ATTRIBUTE *)a->tmpl, a->n, &a->out);
}

static CK_RV set_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct write_arg *a = p;

    return P11_CALL(tok->mod, C_SetAttributeValue, session, a->h, (CK_ATTRIBUTE *)a->tmpl, a->n);
}

static CK_RV destroy_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct write_arg *a = p;

    return P11_CALL(tok->mod, C_DestroyObject, session, a->h);
}

static sks_status create_attrs(struct p11_token *tok, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                               CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    struct write_arg a = {CK_INVALID_HANDLE, tmpl, n, CK_INVALID_HANDLE};
    sks_status st;
    CK_RV rv;

    st = run(tok, create_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot create an object on %s", tok->uri);
    if (st == SKS_OK && out != NULL)
        *out = a.out;
    return st;
}

static sks_status copy_attrs(struct p11_token *tok, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    struct write_arg a = {h, tmpl, n, CK_INVALID_HANDLE};
    char name[NAME_MAX_LEN];
    sks_status st;
    CK_RV rv;

    st = run(tok, copy_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot copy %s",
                        err != NULL ? object_name(tok, h, name, sizeof(name)) : "");
    if (st == SKS_OK)
        *out = a.out;
    return st;
}

static sks_status set_attrs(struct p11_token *tok, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                            CK_ULONG n, struct sks_error *err)
{
    struct write_arg a = {h, tmpl, n, CK_INVALID_HANDLE};
    char name[NAME_MAX_LEN];
    sks_status st;
    CK_RV rv;

    st = run(tok, set_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot modify %s",
                        err != NULL ? object_name(tok, h, name, sizeof(name)) : "");
    return st;
}

sks_status p11_store_create(struct p11_token *tok, const struct p11_template *t,
                            CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    return create_attrs(tok, t->attr, t->n, out, err);
}

sks_status p11_store_copy(struct p11_token *tok, CK_OBJECT_HANDLE h, const struct p11_template *t,
                          CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    return copy_attrs(tok, h, t->attr, t->n, out, err);
}

sks_status p11_store_set(struct p11_token *tok, CK_OBJECT_HANDLE h, const struct p11_template *t,
                         struct sks_error *err)
{
    return set_attrs(tok, h, t->attr, t->n, err);
}

sks_status p11_store_destroy(struct p11_token *tok, CK_OBJECT_HANDLE h, struct sks_error *err)
{
    struct write_arg a = {h, NULL, 0, CK_INVALID_HANDLE};
    char name[NAME_MAX_LEN];
    sks_status st;
    CK_RV rv;

    st = run(tok, destroy_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN && rv == CKR_OBJECT_HANDLE_INVALID)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "the object is already gone from %s", tok->uri);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot destroy %s",
                        err != NULL ? object_name(tok, h, name, sizeof(name)) : "");
    return st;
}

/* ---- unwrap and sign ------------------------------------------------------- */

struct unwrap_arg {
    const CK_MECHANISM *mech;
    CK_OBJECT_HANDLE unwrapping;
    const unsigned char *wrapped;
    size_t len;
    const CK_ATTRIBUTE *tmpl;
    CK_ULONG n;
    CK_OBJECT_HANDLE out;
};

static CK_RV unwrap_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct unwrap_arg *a = p;

    return P11_CALL(tok->mod, C_UnwrapKey, session, (CK_MECHANISM *)a->mech, a->unwrapping,
                    (CK_BYTE *)a->wrapped, (CK_ULONG)a->len, (CK_ATTRIBUTE *)a->tmpl, a->n,
                    &a->out);
}

static sks_status unwrap(struct p11_token *tok, const CK_MECHANISM *mech,
                         CK_OBJECT_HANDLE unwrapping, const unsigned char *wrapped, size_t len,
                         const struct p11_template *t, CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    struct unwrap_arg a = {mech, unwrapping, wrapped, len, t->attr, t->n, CK_INVALID_HANDLE};
    sks_status st;
    CK_RV rv;

    st = run(tok, unwrap_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot unwrap a key on %s", tok->uri);
    if (st == SKS_OK)
        *out = a.out;
    return st;
}

bool p11_token_has_rsa_aes_unwrap(struct p11_token *tok)
{
    return p11_token_mechanism_flags(tok, CKM_RSA_AES_KEY_WRAP, CKF_UNWRAP);
}

static CK_RSA_PKCS_OAEP_PARAMS oaep_params(enum p11_oaep_hash hash)
{
    if (hash == P11_OAEP_SHA256)
        return (CK_RSA_PKCS_OAEP_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    return (CK_RSA_PKCS_OAEP_PARAMS){CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
}

sks_status p11_store_unwrap_aes(struct p11_token *tok, CK_OBJECT_HANDLE unwrapping,
                                enum p11_oaep_hash hash, const unsigned char *wrapped, size_t len,
                                CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = oaep_params(hash);
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    struct p11_template t;

    p11_template_transient_unwrap_key(&t);
    return unwrap(tok, &mech, unwrapping, wrapped, len, &t, out, err);
}

sks_status p11_store_unwrap_kwp(struct p11_token *tok, CK_OBJECT_HANDLE kek,
                                const unsigned char *wrapped, size_t len, CK_OBJECT_HANDLE *out,
                                struct sks_error *err)
{
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    struct p11_template t;

    p11_template_signing_key_to_check(&t, tok);
    return unwrap(tok, &mech, kek, wrapped, len, &t, out, err);
}

/* PKCS#11 2.40 2.1.21; not in every pkcs11.h. */
struct rsa_aes_key_wrap_params {
    CK_ULONG aes_key_bits;
    CK_RSA_PKCS_OAEP_PARAMS *oaep_params;
};

sks_status p11_store_unwrap_rsa_aes(struct p11_token *tok, CK_OBJECT_HANDLE unwrapping,
                                    enum p11_oaep_hash hash, unsigned long aes_bits,
                                    const unsigned char *wrapped, size_t len, CK_OBJECT_HANDLE *out,
                                    struct sks_error *err)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = oaep_params(hash);
    struct rsa_aes_key_wrap_params params = {aes_bits, &oaep};
    CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params)};
    struct p11_template t;

    p11_template_signing_key_to_check(&t, tok);
    return unwrap(tok, &mech, unwrapping, wrapped, len, &t, out, err);
}

sks_status p11_store_sign(struct p11_token *tok, CK_OBJECT_HANDLE h, const unsigned char *digest,
                          size_t len, unsigned char *sig, size_t *siglen, struct sks_error *err)
{
    struct p11_sign_arg a = {NULL, h, {CKM_ECDSA, NULL, 0}, digest, len, sig, (CK_ULONG)*siglen, 0};
    char name[NAME_MAX_LEN];
    sks_status st;
    CK_RV rv;

    st = run(tok, p11_sign_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot sign with %s",
                        err != NULL ? object_name(tok, h, name, sizeof(name)) : "");
    if (st == SKS_OK)
        *siglen = a.siglen;
    return st;
}

/* ---- the RSA key pair wrapped keys are imported under ------------------------ */

struct rsa_gen_arg {
    CK_ATTRIBUTE *pub, *priv;
    CK_ULONG npub, npriv;
    CK_OBJECT_HANDLE hpub, hpriv;
};

static CK_RV rsa_gen_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct rsa_gen_arg *a = p;
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};

    return P11_CALL(tok->mod, C_GenerateKeyPair, session, &mech, a->pub, a->npub, a->priv, a->npriv,
                    &a->hpub, &a->hpriv);
}

sks_status p11_store_generate_rsa_unwrap(struct p11_token *tok, const char *label,
                                         const unsigned char *id, size_t id_len, unsigned long bits,
                                         CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv,
                                         struct sks_error *err)
{
    struct p11_template pub_tmpl, priv_tmpl;
    struct rsa_gen_arg a = {NULL, NULL, 0, 0, CK_INVALID_HANDLE, CK_INVALID_HANDLE};
    sks_status st;
    CK_RV rv;

    p11_template_wrap_public_key(&pub_tmpl, tok, label, id, id_len, bits);
    p11_template_unwrap_key(&priv_tmpl, tok, label, id, id_len);
    a.pub = pub_tmpl.attr;
    a.npub = pub_tmpl.n;
    a.priv = priv_tmpl.attr;
    a.npriv = priv_tmpl.n;
    st = run(tok, rsa_gen_op, &a, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "cannot generate an RSA-%lu key pair on %s", bits, tok->uri);
    if (st != SKS_OK)
        return st;
    *pub = a.hpub;
    *priv = a.hpriv;
    return SKS_OK;
}

/* ---- re-protecting keys made modifiable ------------------------------------------ */

sks_status p11_store_protect(struct p11_token *tok, CK_OBJECT_HANDLE h, enum p11_key_role role,
                             CK_OBJECT_HANDLE *out, const char **unlimited, bool *exposed,
                             struct sks_error *err)
{
    bool mechs_limited, limits_set = true;
    char name[NAME_MAX_LEN];
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_KEY_TYPE key_type = (CK_KEY_TYPE)-1;
    CK_BBOOL modifiable = CK_TRUE, sensitive = CK_FALSE, extractable = CK_TRUE;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE info[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
        {CKA_MODIFIABLE, &modifiable, sizeof(modifiable)},
        {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
    };
    CK_ATTRIBUTE lock = {CKA_MODIFIABLE, &no, sizeof(no)};
    CK_ATTRIBUTE mechs;
    struct p11_template t;
    sks_status st;

    *out = h;
    *unlimited = NULL;
    *exposed = false;
    st = p11_store_get(tok, h, info, 5, err);
    if (st != SKS_OK)
        return st;
    if (info[2].ulValueLen != CK_UNAVAILABLE_INFORMATION && !modifiable)
        return SKS_OK;
    if (!p11_template_protect(&t, tok, cls, key_type, role))
        return sks_fail(err, SKS_ERR_POLICY,
                        "%s is not a key of the kind it is named for: left as it is",
                        object_name(tok, h, name, sizeof(name)));
    if (cls == CKO_PRIVATE_KEY) {
        /* SoftHSM refuses to set either to the value it already has: only what changes. */
        *exposed = sensitive != CK_TRUE || extractable != CK_FALSE ||
                   info[3].ulValueLen == CK_UNAVAILABLE_INFORMATION;
        if (sensitive != CK_TRUE && t.n < P11_TEMPLATE_MAX)
            t.attr[t.n++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
        if (extractable != CK_FALSE && t.n < P11_TEMPLATE_MAX)
            t.attr[t.n++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
    }
    st = set_attrs(tok, h, t.attr, t.n, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "cannot turn off what the key must not do");
        return st;
    }
    mechs = (CK_ATTRIBUTE){CKA_ALLOWED_MECHANISMS, t.mechs, t.nmechs * sizeof(t.mechs[0])};
    mechs_limited = set_attrs(tok, h, &mechs, 1, NULL) == SKS_OK;
    if (role == P11_ROLE_UNWRAPPING && cls == CKO_PRIVATE_KEY) {
        CK_ATTRIBUTE limits = {CKA_UNWRAP_TEMPLATE, t.unwrap_tmpl, sizeof(t.unwrap_tmpl)};
        limits_set = set_attrs(tok, h, &limits, 1, NULL) == SKS_OK;
    }
    if (!mechs_limited || !limits_set)
        *unlimited = role == P11_ROLE_UNWRAPPING && cls == CKO_PRIVATE_KEY
                         ? "CKA_ALLOWED_MECHANISMS or CKA_UNWRAP_TEMPLATE"
                         : "CKA_ALLOWED_MECHANISMS";
    st = copy_attrs(tok, h, &lock, 1, out, err);
    if (st != SKS_OK) {
        *out = h;
        return st;
    }
    st = p11_store_destroy(tok, h, err);
    if (st == SKS_ERR_NOT_FOUND)
        st = SKS_OK;
    return st;
}
