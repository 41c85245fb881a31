/*
 * EC P-256 keys on a token, and signing with them: the hot path.
 *
 * A key is remembered by class and CKA_ID, never by handle alone: handles
 * are resolved per token epoch and resolved again after every recovery.
 * Private keys sign through a session copy (C_CopyObject, CKA_TOKEN=FALSE)
 * where the token allows one: SoftHSM re-reads token objects from disk on
 * every use, and the copy makes signing about 40% faster there.  SoftHSM
 * refuses to copy a non-modifiable key with any template, so the keys this
 * project makes (p11/template.c) sign as token objects there.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "p11/internal.h"

/* The only curve taken. */
static const unsigned char p256_oid[] = SKS_P256_OID_DER;

static const char *key_type_name(CK_KEY_TYPE t)
{
    switch (t) {
    case CKK_RSA:
        return "CKK_RSA";
    case CKK_DSA:
        return "CKK_DSA";
    case CKK_DH:
        return "CKK_DH";
    case CKK_EC:
        return "CKK_EC";
    case CKK_AES:
        return "CKK_AES";
    default:
        return "another key type";
    }
}

bool p11_ec_point_decode(const unsigned char *der, size_t len,
                         unsigned char out[SKS_P256_POINT_LEN])
{
    const unsigned char *p = der;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    bool ok = false;

    if (os != NULL && p == der + len && os->length == SKS_P256_POINT_LEN && os->data[0] == 0x04) {
        memcpy(out, os->data, SKS_P256_POINT_LEN);
        ok = true;
    } else if (len == SKS_P256_POINT_LEN && der[0] == 0x04) {
        memcpy(out, der, SKS_P256_POINT_LEN);
        ok = true;
    }
    ASN1_OCTET_STRING_free(os);
    return ok;
}

static bool cert_point(const unsigned char *der, size_t len, unsigned char out[SKS_P256_POINT_LEN])
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    const unsigned char *pk;
    int pklen = 0;
    bool ok = false;

    if (x != NULL &&
        X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, X509_get_X509_PUBKEY(x)) == 1 &&
        pklen == SKS_P256_POINT_LEN && pk[0] == 0x04) {
        memcpy(out, pk, SKS_P256_POINT_LEN);
        ok = true;
    }
    X509_free(x);
    return ok;
}

/* Reads the public point of the key |h| of class |cls| (tok->lock held). */
static sks_status public_point_locked(struct p11_token *tok, CK_OBJECT_CLASS cls,
                                      CK_OBJECT_HANDLE h, const struct p11_object *obj,
                                      unsigned char out[SKS_P256_POINT_LEN], struct sks_error *err)
{
    unsigned char buf[128];
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
    CK_OBJECT_HANDLE other;
    struct sks_error ignore;

    if (cls == CKO_PUBLIC_KEY) {
        CK_RV rv = P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, h, &a, 1);
        if (rv != CKR_OK)
            return p11_fail(err, rv, "cannot read CKA_EC_POINT of %s", obj->uri);
        if (!p11_ec_point_decode(buf, a.ulValueLen, out))
            return sks_fail(err, SKS_ERR_INPUT, "%s has a malformed CKA_EC_POINT", obj->uri);
        return SKS_OK;
    }
    /* A private key object need not carry its public point: take it from a sibling. */
    if (P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, h, &a, 1) == CKR_OK &&
        p11_ec_point_decode(buf, a.ulValueLen, out))
        return SKS_OK;
    if (p11_find_by_id_locked(tok, tok->anchor, CKO_PUBLIC_KEY, obj->id, obj->id_len, &other,
                              &ignore) == SKS_OK) {
        a.pValue = buf;
        a.ulValueLen = sizeof(buf);
        if (P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, other, &a, 1) == CKR_OK &&
            p11_ec_point_decode(buf, a.ulValueLen, out))
            return SKS_OK;
    }
    if (p11_find_by_id_locked(tok, tok->anchor, CKO_CERTIFICATE, obj->id, obj->id_len, &other,
                              &ignore) == SKS_OK) {
        CK_ATTRIBUTE v = {CKA_VALUE, NULL, 0};
        bool ok = false;
        if (P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, other, &v, 1) == CKR_OK &&
            v.ulValueLen < 65536 && (v.pValue = malloc(v.ulValueLen)) != NULL) {
            ok = P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, other, &v, 1) == CKR_OK &&
                 cert_point(v.pValue, v.ulValueLen, out);
            free(v.pValue);
        }
        if (ok)
            return SKS_OK;
    }
    return sks_fail(err, SKS_ERR_NOT_FOUND,
                    "%s: no public key or certificate with the same CKA_ID gives its public key",
                    obj->uri);
}

/* Checks that |h| is an EC P-256 key and reads its public point (tok->lock held). */
static sks_status describe_locked(struct p11_token *tok, CK_OBJECT_HANDLE h,
                                  const struct p11_object *obj, struct p11_key *key,
                                  struct sks_error *err)
{
    unsigned char params[64];
    CK_KEY_TYPE type = (CK_KEY_TYPE)-1;
    CK_ATTRIBUTE a[] = {
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_EC_PARAMS, params, sizeof(params)},
    };
    CK_RV rv;

    rv = P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, h, a, 2);
    if (type != CKK_EC)
        return sks_fail(err, SKS_ERR_POLICY, "%s is not an EC P-256 key (%s)", obj->uri,
                        key_type_name(type));
    if (rv != CKR_OK || a[1].ulValueLen != sizeof(p256_oid) ||
        memcmp(params, p256_oid, sizeof(p256_oid)) != 0)
        return sks_fail(err, SKS_ERR_POLICY,
                        "%s is not an EC P-256 key (another curve); ES256 needs P-256", obj->uri);
    key->pub_len = SKS_P256_POINT_LEN;
    return public_point_locked(tok, obj->cls, h, obj, key->pub, err);
}

/* A key of |cls| with CKA_ID |id| and URI |uri| (taken; NULL: out of memory), not yet bound. */
static struct p11_key *key_new(CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len,
                               char *uri, struct sks_error *err)
{
    struct p11_key *key = uri != NULL ? calloc(1, sizeof(*key)) : NULL;

    if (key == NULL) {
        free(uri);
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    atomic_init(&key->refs, 1);
    key->uri = uri;
    key->cls = cls;
    memcpy(key->id, id, id_len);
    key->id_len = id_len;
    return key;
}

/* Hands out |key| on |tok| when |st| is SKS_OK, frees it otherwise. */
static sks_status key_done(struct p11_key *key, struct p11_token *tok, sks_status st,
                           struct p11_key **out)
{
    if (st != SKS_OK) {
        free(key->uri);
        free(key);
        return st;
    }
    key->tok = p11_token_ref(tok);
    *out = key;
    return SKS_OK;
}

/*
 * Binds |key| to its token object |h| for the current epoch, with a session
 * copy to sign with where the token allows one (tok->lock held, anchor open).
 */
static sks_status bind_locked(struct p11_key *key, struct p11_token *tok, CK_OBJECT_HANDLE h,
                              struct sks_error *err)
{
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE session_only = {CKA_TOKEN, &no, sizeof(no)};
    CK_OBJECT_HANDLE copy = h;
    sks_status st = SKS_OK;

    if (key->cls == CKO_PRIVATE_KEY) {
        st = p11_token_login_locked(tok, err);
        /* CKA_COPYABLE=FALSE or no support: sign with the token object. */
        if (st == SKS_OK &&
            P11_CALL(tok->mod, C_CopyObject, tok->anchor, h, &session_only, 1, &copy) != CKR_OK)
            copy = h;
    }
    if (st == SKS_OK) {
        atomic_store(&key->handle, h);
        atomic_store(&key->sign_handle, copy);
        atomic_store(&key->epoch, atomic_load(&tok->epoch));
    }
    return st;
}

sks_status p11_key_from_object(struct p11_token *tok, const struct p11_object *obj,
                               struct p11_key **out, struct sks_error *err)
{
    struct p11_key *key;
    CK_OBJECT_HANDLE h = obj->handle;
    sks_status st;

    if (obj->cls != CKO_PRIVATE_KEY && obj->cls != CKO_PUBLIC_KEY)
        return sks_fail(err, SKS_ERR_INPUT, "%s is not a key", obj->uri);
    if (obj->key_type != CKK_EC)
        return sks_fail(err, SKS_ERR_POLICY, "%s is not an EC P-256 key (%s)", obj->uri,
                        key_type_name(obj->key_type));
    if (obj->id_len == 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s has no CKA_ID, so it could not be found again after a token restart",
                        obj->uri);
    if ((key = key_new(obj->cls, obj->id, obj->id_len, strdup(obj->uri), err)) == NULL)
        return SKS_ERR_SYSTEM;

    pthread_mutex_lock(&tok->lock);
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK && obj->epoch != atomic_load(&tok->epoch))
        st = p11_find_by_id_locked(tok, tok->anchor, obj->cls, obj->id, obj->id_len, &h, err);
    if (st == SKS_OK)
        st = describe_locked(tok, h, obj, key, err);
    pthread_mutex_unlock(&tok->lock);
    return key_done(key, tok, st, out);
}

sks_status p11_key_from_handle(struct p11_token *tok, CK_OBJECT_HANDLE h, const unsigned char *id,
                               size_t id_len, const char *label,
                               const unsigned char pub[SKS_P256_POINT_LEN], struct p11_key **out,
                               struct sks_error *err)
{
    struct p11_key *key;
    sks_status st;

    if (id_len == 0 || id_len > P11_ID_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "a key needs a CKA_ID of 1 to %d bytes", P11_ID_MAX);
    st = p11_module_check_fork(tok->mod, err);
    if (st != SKS_OK)
        return st;
    key = key_new(CKO_PRIVATE_KEY, id, id_len,
                  p11_object_uri(tok, CKO_PRIVATE_KEY, id, id_len, label), err);
    if (key == NULL)
        return SKS_ERR_SYSTEM;
    memcpy(key->pub, pub, SKS_P256_POINT_LEN);
    key->pub_len = SKS_P256_POINT_LEN;

    pthread_mutex_lock(&tok->lock);
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK)
        st = bind_locked(key, tok, h, err);
    pthread_mutex_unlock(&tok->lock);
    return key_done(key, tok, st, out);
}

struct p11_key *p11_key_ref(struct p11_key *key)
{
    atomic_fetch_add(&key->refs, 1);
    return key;
}

void p11_key_put(struct p11_key *key)
{
    struct p11_token *tok;

    if (key == NULL || atomic_fetch_sub(&key->refs, 1) != 1)
        return;
    tok = key->tok;
    pthread_mutex_lock(&tok->lock);
    /* Destroy our session copy while its epoch (and so its handle) is current. */
    if (atomic_load(&key->epoch) == atomic_load(&tok->epoch) && tok->anchor_open &&
        key->sign_handle != key->handle && tok->mod->fork_gen == atomic_load(&p11_fork_generation))
        P11_CALL(tok->mod, C_DestroyObject, tok->anchor, key->sign_handle);
    pthread_mutex_unlock(&tok->lock);
    p11_token_put(tok);
    free(key->uri);
    free(key);
}

bool p11_key_is_private(const struct p11_key *key)
{
    return key->cls == CKO_PRIVATE_KEY;
}

const unsigned char *p11_key_public(const struct p11_key *key, size_t *len)
{
    *len = key->pub_len;
    return key->pub;
}

const char *p11_key_uri(const struct p11_key *key)
{
    return key->uri;
}

struct p11_token *p11_key_token(const struct p11_key *key)
{
    return key->tok;
}

/* Resolves the handle to sign with for the token's current epoch (slow path). */
static sks_status resolve(struct p11_key *key, struct sks_error *err)
{
    struct p11_token *tok = key->tok;
    CK_OBJECT_HANDLE h;
    sks_status st = SKS_OK;

    pthread_mutex_lock(&tok->lock);
    if (atomic_load(&key->epoch) == atomic_load(&tok->epoch))
        goto done;
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK && key->cls == CKO_PRIVATE_KEY)
        st = p11_token_login_locked(tok, err);
    if (st == SKS_OK)
        st = p11_find_by_id_locked(tok, tok->anchor, key->cls, key->id, key->id_len, &h, err);
    if (st == SKS_OK)
        st = bind_locked(key, tok, h, err);
done:
    pthread_mutex_unlock(&tok->lock);
    return st;
}

static sks_status sign_resolve(void *p, struct sks_error *err)
{
    struct p11_sign_arg *a = p;
    sks_status st = SKS_OK;

    if (atomic_load(&a->key->epoch) != atomic_load(&a->key->tok->epoch))
        st = resolve(a->key, err);
    a->h = atomic_load(&a->key->sign_handle);
    return st;
}

CK_RV p11_sign_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *p)
{
    struct p11_sign_arg *a = p;
    CK_RV rv;

    a->siglen = a->room;
    rv = P11_CALL(tok->mod, C_SignInit, session, &a->mech, a->h);
    if (rv == CKR_OK)
        rv = P11_CALL(tok->mod, C_Sign, session, (CK_BYTE_PTR)a->in, (CK_ULONG)a->len, a->sig,
                      &a->siglen);
    return rv;
}

static sks_status sign_mech(struct p11_key *key, CK_MECHANISM_TYPE type, const unsigned char *in,
                            size_t len, unsigned char sig[P11_ES256_SIG_LEN], struct sks_error *err)
{
    struct p11_sign_arg a = {
        key, CK_INVALID_HANDLE, {type, NULL, 0}, in, len, sig, P11_ES256_SIG_LEN, 0};
    const struct p11_call c = {p11_sign_op, sign_resolve, &a, false};
    sks_status st;
    CK_RV rv;

    if (key->cls != CKO_PRIVATE_KEY)
        return sks_fail(err, SKS_ERR_INPUT, "%s is a public key: it cannot sign", key->uri);
    st = p11_call_run(key->tok, &c, &rv, err);
    if (st == SKS_ERR_TOKEN)
        return p11_fail(err, rv, "signing with %s failed", key->uri);
    if (st == SKS_OK && a.siglen != P11_ES256_SIG_LEN)
        return sks_fail(err, SKS_ERR_TOKEN, "signing with %s gave %lu bytes, not %d", key->uri,
                        (unsigned long)a.siglen, P11_ES256_SIG_LEN);
    return st;
}

sks_status p11_key_sign_digest(struct p11_key *key, const unsigned char *digest, size_t dlen,
                               unsigned char sig[P11_ES256_SIG_LEN], struct sks_error *err)
{
    return sign_mech(key, CKM_ECDSA, digest, dlen, sig, err);
}

sks_status p11_key_sign_message(struct p11_key *key, const unsigned char *msg, size_t len,
                                unsigned char sig[P11_ES256_SIG_LEN], struct sks_error *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    if (p11_token_has_mechanism(key->tok, CKM_ECDSA_SHA256))
        return sign_mech(key, CKM_ECDSA_SHA256, msg, len, sig, err);
    SHA256(msg, len, digest);
    return sign_mech(key, CKM_ECDSA, digest, sizeof(digest), sig, err);
}
