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

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), the only curve taken. */
static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};

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

/*
 * CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some
 * modules give the bare point.  Accept both; take only uncompressed P-256.
 */
static bool ec_point_decode(const unsigned char *der, size_t len, unsigned char out[65])
{
    const unsigned char *p = der;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    bool ok = false;

    if (os != NULL && p == der + len && os->length == 65 && os->data[0] == 0x04) {
        memcpy(out, os->data, 65);
        ok = true;
    } else if (len == 65 && der[0] == 0x04) {
        memcpy(out, der, 65);
        ok = true;
    }
    ASN1_OCTET_STRING_free(os);
    return ok;
}

static bool cert_point(const unsigned char *der, size_t len, unsigned char out[65])
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    const unsigned char *pk;
    int pklen = 0;
    bool ok = false;

    if (x != NULL &&
        X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, X509_get_X509_PUBKEY(x)) == 1 &&
        pklen == 65 && pk[0] == 0x04) {
        memcpy(out, pk, 65);
        ok = true;
    }
    X509_free(x);
    return ok;
}

/* Reads the public point of the key |h| of class |cls| (tok->lock held). */
static sks_status public_point_locked(struct p11_token *tok, CK_OBJECT_CLASS cls,
                                      CK_OBJECT_HANDLE h, const struct p11_object *obj,
                                      unsigned char out[65], struct sks_error *err)
{
    unsigned char buf[128];
    CK_ATTRIBUTE a = {CKA_EC_POINT, buf, sizeof(buf)};
    CK_OBJECT_HANDLE other;
    struct sks_error ignore;

    if (cls == CKO_PUBLIC_KEY) {
        CK_RV rv = P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, h, &a, 1);
        if (rv != CKR_OK)
            return p11_fail(err, rv, "cannot read CKA_EC_POINT of %s", obj->uri);
        if (!ec_point_decode(buf, a.ulValueLen, out))
            return sks_fail(err, SKS_ERR_INPUT, "%s has a malformed CKA_EC_POINT", obj->uri);
        return SKS_OK;
    }
    /* A private key object need not carry its public point: take it from a sibling. */
    if (P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, h, &a, 1) == CKR_OK &&
        ec_point_decode(buf, a.ulValueLen, out))
        return SKS_OK;
    if (p11_find_by_id_locked(tok, tok->anchor, CKO_PUBLIC_KEY, obj->id, obj->id_len, &other,
                              &ignore) == SKS_OK) {
        a.pValue = buf;
        a.ulValueLen = sizeof(buf);
        if (P11_CALL(tok->mod, C_GetAttributeValue, tok->anchor, other, &a, 1) == CKR_OK &&
            ec_point_decode(buf, a.ulValueLen, out))
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
                        "%s is not an EC P-256 key (another curve); ES256 needs P-256",
                        obj->uri);
    key->pub_len = 65;
    return public_point_locked(tok, obj->cls, h, obj, key->pub, err);
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
    key = calloc(1, sizeof(*key));
    if (key == NULL || (key->uri = strdup(obj->uri)) == NULL) {
        free(key);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    atomic_init(&key->refs, 1);
    key->cls = obj->cls;
    memcpy(key->id, obj->id, obj->id_len);
    key->id_len = obj->id_len;

    pthread_mutex_lock(&tok->lock);
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK && obj->epoch != atomic_load(&tok->epoch))
        st = p11_find_by_id_locked(tok, tok->anchor, obj->cls, obj->id, obj->id_len, &h, err);
    if (st == SKS_OK)
        st = describe_locked(tok, h, obj, key, err);
    pthread_mutex_unlock(&tok->lock);
    if (st != SKS_OK) {
        free(key->uri);
        free(key);
        return st;
    }
    key->tok = p11_token_ref(tok);
    *out = key;
    return SKS_OK;
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
        key->sign_handle != key->handle &&
        tok->mod->fork_gen == atomic_load(&p11_fork_generation))
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
    CK_OBJECT_HANDLE h, copy;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE session_only = {CKA_TOKEN, &no, sizeof(no)};
    unsigned long long epoch;
    sks_status st = SKS_OK;

    pthread_mutex_lock(&tok->lock);
    epoch = atomic_load(&tok->epoch);
    if (atomic_load(&key->epoch) == epoch)
        goto done;
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK && key->cls == CKO_PRIVATE_KEY)
        st = p11_token_login_locked(tok, err);
    if (st == SKS_OK)
        st = p11_find_by_id_locked(tok, tok->anchor, key->cls, key->id, key->id_len, &h, err);
    if (st != SKS_OK)
        goto done;
    copy = h;
    if (key->cls == CKO_PRIVATE_KEY &&
        P11_CALL(tok->mod, C_CopyObject, tok->anchor, h, &session_only, 1, &copy) != CKR_OK)
        copy = h; /* CKA_COPYABLE=FALSE or no support: sign with the token object */
    atomic_store(&key->handle, h);
    atomic_store(&key->sign_handle, copy);
    atomic_store(&key->epoch, epoch);
done:
    pthread_mutex_unlock(&tok->lock);
    return st;
}

static sks_status sign_once(struct p11_key *key, CK_MECHANISM *mech, const unsigned char *in,
                            size_t len, unsigned char *sig, unsigned long long *epoch,
                            CK_RV *rv, struct sks_error *err)
{
    struct p11_token *tok = key->tok;
    struct p11_session s;
    CK_ULONG siglen = P11_ES256_SIG_LEN;
    sks_status st;

    *rv = CKR_OK;
    *epoch = atomic_load(&tok->epoch);
    if (atomic_load(&key->epoch) != *epoch) {
        st = resolve(key, err);
        if (st != SKS_OK) {
            *rv = err != NULL ? err->ckr : CKR_OK;
            return st;
        }
    }
    st = p11_session_acquire(tok, &s, err);
    if (st != SKS_OK) {
        *rv = err != NULL ? err->ckr : CKR_OK;
        return st;
    }
    *epoch = s.epoch;
    *rv = P11_CALL(tok->mod, C_SignInit, s.handle, mech, atomic_load(&key->sign_handle));
    if (*rv == CKR_OK)
        *rv = P11_CALL(tok->mod, C_Sign, s.handle, (CK_BYTE_PTR)in, len, sig, &siglen);
    p11_session_release(tok, &s, *rv);
    if (*rv != CKR_OK)
        return p11_fail(err, *rv, "signing with %s failed", key->uri);
    if (siglen != P11_ES256_SIG_LEN)
        return sks_fail(err, SKS_ERR_TOKEN, "signing with %s gave %lu bytes, not 64", key->uri,
                        (unsigned long)siglen);
    return SKS_OK;
}

static sks_status sign_mech(struct p11_key *key, CK_MECHANISM_TYPE type, const unsigned char *in,
                            size_t len, unsigned char sig[P11_ES256_SIG_LEN],
                            struct sks_error *err)
{
    CK_MECHANISM mech = {type, NULL, 0};
    unsigned long long epoch;
    sks_status st;
    CK_RV rv;

    if (key->cls != CKO_PRIVATE_KEY)
        return sks_fail(err, SKS_ERR_INPUT, "%s is a public key: it cannot sign", key->uri);
    st = p11_module_check_fork(key->tok->mod, err);
    if (st != SKS_OK)
        return st;
    st = sign_once(key, &mech, in, len, sig, &epoch, &rv, err);
    /*
     * One retry after recovery (a new session, login and handle), or after
     * another thread reset the token under this attempt: the reset destroyed
     * the session copy of the key and the sessions this attempt used, which
     * modules report with whatever code their race gives (SoftHSM:
     * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_GENERAL_ERROR), not only with one
     * that p11_token_recover() takes.
     */
    if (st != SKS_OK &&
        (p11_token_recover(key->tok, epoch, rv) || atomic_load(&key->tok->epoch) != epoch))
        st = sign_once(key, &mech, in, len, sig, &epoch, &rv, err);
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
