/*
 * Keys made before every key was created not modifiable: finding
 * them (sksctl list warns) and re-protecting them (sksctl protect).
 *
 * Re-protecting is p11_store_protect: turn off what the key must not do,
 * copy it as not modifiable, destroy the original.  The copy keeps
 * the class, ID and label, so the key store and every pkcs11: URI find
 * the key as before.  A crash between the copy and the destroy leaves two
 * keys with the same class, type, ID and label, one of them modifiable:
 * both are the same key and sign the same, and protect and sweep (which
 * every command that changes the token runs first) destroy the modifiable
 * one.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore/internal.h"

struct key_info {
    p11_handle h;
    struct p11_object_info o;
    char *uri;
};

static void key_info_free(struct key_info *k, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(k[i].uri);
    free(k);
}

/* Key objects of |cls| that are modifiable or not; when |like| is set, its twins. */
static sks_status find_keys(struct sks_keystore *ks, p11_class cls, bool modifiable,
                            const struct p11_object_info *like, p11_handle **out, size_t *count,
                            struct sks_error *err)
{
    struct p11_template match;

    p11_template_find_keys(&match, cls, modifiable, like);
    return p11_store_find(ks->tok, &match, out, count, err);
}

static sks_status read_key(struct sks_keystore *ks, p11_handle h, struct key_info *k,
                           struct sks_error *err)
{
    sks_status st;

    memset(k, 0, sizeof(*k));
    k->h = h;
    st = p11_store_describe(ks->tok, h, &k->o, err);
    if (st != SKS_OK)
        return st;
    k->uri = p11_store_object_uri(ks->tok, k->o.cls, k->o.id, k->o.id_len, k->o.label);
    if (k->uri == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    return SKS_OK;
}

/* Every modifiable private and public key on the token, private keys first. */
static sks_status modifiable_keys(struct sks_keystore *ks, struct key_info **out, size_t *count,
                                  struct sks_error *err)
{
    static const p11_class classes[] = {P11_PRIVATE_KEY, P11_PUBLIC_KEY};
    struct key_info *keys = NULL;
    size_t n = 0, c, i, j;
    sks_status st = SKS_OK;

    for (c = 0; st == SKS_OK && c < 2; c++) {
        p11_handle *hs = NULL;
        size_t nh = 0;
        struct key_info *grown;

        st = find_keys(ks, classes[c], true, NULL, &hs, &nh, err);
        if (st == SKS_OK && nh > 0 && (grown = realloc(keys, (n + nh) * sizeof(*keys))) == NULL)
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        else if (st == SKS_OK && nh > 0)
            keys = grown;
        for (i = 0, j = n; st == SKS_OK && i < nh; i++) {
            st = read_key(ks, hs[i], &keys[j], err);
            if (st == SKS_OK)
                j++;
            /* Destroyed by another process since the search: not an error. */
            else if (err != NULL && err->ckr == CKR_OBJECT_HANDLE_INVALID)
                st = SKS_OK;
        }
        n = st == SKS_OK ? j : n;
        free(hs);
    }
    if (st != SKS_OK) {
        key_info_free(keys, n);
        return st;
    }
    *out = keys;
    *count = n;
    return SKS_OK;
}

sks_status sks_keystore_unprotected(struct sks_keystore *ks, sks_unprotected_cb cb, void *arg,
                                    struct sks_error *err)
{
    struct key_info *keys = NULL;
    size_t n = 0, i;
    sks_status st;

    pthread_mutex_lock(&ks->index_lock);
    st = modifiable_keys(ks, &keys, &n, err);
    pthread_mutex_unlock(&ks->index_lock);
    for (i = 0; st == SKS_OK && i < n; i++)
        if (cb(keys[i].uri, keys[i].o.label, arg) != 0)
            break;
    key_info_free(keys, n);
    return st;
}

/* A protected key of the same class, type, ID and label: what an interrupted protect left. */
static sks_status protected_twin(struct sks_keystore *ks, const struct key_info *k, bool *found,
                                 struct sks_error *err)
{
    p11_handle *hs = NULL;
    size_t n = 0;
    sks_status st;

    st = find_keys(ks, k->o.cls, false, &k->o, &hs, &n, err);
    free(hs);
    *found = st == SKS_OK && n > 0;
    return st;
}

sks_status ks_remove_modifiable_twins(struct sks_keystore *ks, struct sks_error *err)
{
    struct key_info *keys = NULL;
    size_t n = 0, i;
    bool twin;
    sks_status st;

    st = modifiable_keys(ks, &keys, &n, err);
    for (i = 0; st == SKS_OK && i < n; i++) {
        st = protected_twin(ks, &keys[i], &twin, err);
        if (st != SKS_OK || !twin)
            continue;
        ks_warn(ks,
                "sweep: destroyed the modifiable twin of %s that an interrupted sksctl "
                "protect left",
                keys[i].uri);
        st = p11_store_destroy(ks->tok, keys[i].h, err);
        if (st == SKS_ERR_NOT_FOUND)
            st = SKS_OK;
    }
    key_info_free(keys, n);
    return st;
}

/* "name/3", "name/3/..." belong to identity |name|. */
static bool owned_by(const char *label, const char *const *names, size_t n)
{
    size_t i, len;

    if (n == 0)
        return true;
    for (i = 0; i < n; i++) {
        len = strlen(names[i]);
        if (strncmp(label, names[i], len) == 0 && label[len] == '/')
            return true;
    }
    return false;
}

static void report(sks_protect_cb cb, void *arg, const char *uri, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void report(sks_protect_cb cb, void *arg, const char *uri, bool ok, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cb(uri, ok, msg, arg);
}

/* What the administrator must do when a key cannot be (fully) protected. */
static const char *rotate_advice(const struct key_info *k)
{
    if (k->o.key_type == P11_KEY_RSA)
        return "destroy the wrapping key pair (label " KS_WRAPPING_LABEL ") and run sksctl "
               "wrapping-key for a new one; wrap keys for the new one from then on";
    return "regenerate and rotate: make a new version (sksctl generate and attach, or "
           "import), sksctl activate it, then sksctl destroy this one";
}

static sks_status protect_one(struct sks_keystore *ks, const struct key_info *k, sks_protect_cb cb,
                              void *arg, size_t *failed, struct sks_error *err)
{
    enum p11_key_role role = k->o.key_type == P11_KEY_RSA ? P11_ROLE_UNWRAPPING : P11_ROLE_SIGNING;
    p11_handle copy;
    const char *unlimited;
    bool twin, exposed;
    struct sks_error why;
    sks_status st;

    st = protected_twin(ks, k, &twin, err);
    if (st != SKS_OK)
        return st;
    if (twin) {
        st = p11_store_destroy(ks->tok, k->h, &why);
        if (st == SKS_OK || st == SKS_ERR_NOT_FOUND)
            report(cb, arg, k->uri, true,
                   "removed the modifiable twin that an interrupted protect left");
        else
            report(cb, arg, k->uri, false, "cannot remove the modifiable twin: %s", why.msg);
        *failed += st == SKS_OK || st == SKS_ERR_NOT_FOUND ? 0 : 1;
        return SKS_OK;
    }
    st = p11_store_protect(ks->tok, k->h, role, &copy, &unlimited, &exposed, &why);
    if (st != SKS_OK && copy != k->h) {
        (*failed)++;
        report(cb, arg, k->uri, false,
               "protected, but the modifiable original stays: %s; run sksctl sweep", why.msg);
    } else if (st != SKS_OK) {
        (*failed)++;
        report(cb, arg, k->uri, false, "the token refused: %s; %s", why.msg, rotate_advice(k));
    } else if (exposed) {
        report(cb, arg, k->uri, true,
               "protected, but it was extractable or not sensitive, so it may have left the "
               "token: %s",
               rotate_advice(k));
    } else if (unlimited != NULL) {
        report(cb, arg, k->uri, true,
               "protected (not modifiable, %s only); the token cannot limit its "
               "%s after creation: for that too, %s",
               role == P11_ROLE_SIGNING ? (k->o.cls == P11_PRIVATE_KEY ? "signs" : "verifies")
                                        : (k->o.cls == P11_PRIVATE_KEY ? "unwraps" : "wraps"),
               unlimited, rotate_advice(k));
    } else {
        report(cb, arg, k->uri, true, "protected");
    }
    return SKS_OK;
}

static sks_status protect(struct sks_keystore *ks, const char *const *names, size_t nnames,
                          sks_protect_cb cb, void *arg, size_t *done, size_t *failed,
                          struct sks_error *err)
{
    struct key_info *keys = NULL;
    size_t n = 0, i;
    sks_status st;

    st = modifiable_keys(ks, &keys, &n, err);
    for (i = 0; st == SKS_OK && i < n; i++) {
        const struct key_info *k = &keys[i];
        bool wrapping = k->o.key_type == P11_KEY_RSA && strcmp(k->o.label, KS_WRAPPING_LABEL) == 0;

        if (!(wrapping ? nnames == 0
                       : k->o.key_type == P11_KEY_EC && owned_by(k->o.label, names, nnames)))
            continue;
        st = protect_one(ks, k, cb, arg, failed, err);
        (*done)++;
    }
    key_info_free(keys, n);
    /* Handles changed: the next use scans afresh. */
    ks_index_free(ks->index);
    ks->index = NULL;
    return st;
}

sks_status sks_keystore_protect(struct sks_keystore *ks, const char *const *identities, size_t n,
                                sks_protect_cb cb, void *arg, size_t *done, size_t *failed,
                                struct sks_error *err)
{
    sks_status st;

    *done = *failed = 0;
    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = protect(ks, identities, n, cb, arg, done, failed, err);
        ks_write_unlock(ks);
    }
    return st;
}
