/* Object lookup: search by URI attributes or by CKA_ID, and object URIs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "p11/internal.h"

/* A search that finds more objects than this is refused, not truncated. */
#define FIND_MAX 100000
/* Certificates and data objects larger than this are not read. */
#define VALUE_MAX (1024 * 1024)

char *p11_object_uri(const struct p11_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id,
                     size_t id_len, const char *label)
{
    CK_ATTRIBUTE attrs[3];
    CK_ULONG n = 0;
    P11KitUri *uri = p11_kit_uri_new();
    char *s = NULL;

    if (uri == NULL)
        return NULL;
    memcpy(p11_kit_uri_get_token_info(uri), &tok->info, sizeof(tok->info));
    attrs[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (id_len > 0)
        attrs[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    if (label != NULL && label[0] != '\0')
        attrs[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    if (p11_kit_uri_set_attributes(uri, attrs, n) != P11_KIT_URI_OK ||
        p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
        s = NULL;
    p11_kit_uri_free(uri);
    return s;
}

static sks_status find_handles(struct p11_token *tok, CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl,
                               CK_ULONG n, CK_OBJECT_HANDLE **out, size_t *count,
                               struct sks_error *err)
{
    CK_OBJECT_HANDLE *handles = NULL;
    size_t len = 0, cap = 0;
    CK_ULONG got;
    CK_RV rv, frv;

    rv = P11_CALL(tok->mod, C_FindObjectsInit, session, tmpl, n);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot search %s", tok->uri);
    do {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            CK_OBJECT_HANDLE *grown;
            if (ncap > FIND_MAX) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            grown = realloc(handles, ncap * sizeof(*grown));
            if (grown == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            handles = grown;
            cap = ncap;
        }
        rv = P11_CALL(tok->mod, C_FindObjects, session, handles + len, cap - len, &got);
        if (rv == CKR_OK)
            len += got;
    } while (rv == CKR_OK && got > 0);
    frv = P11_CALL(tok->mod, C_FindObjectsFinal, session);
    if (rv == CKR_OK)
        rv = frv;
    if (rv != CKR_OK) {
        free(handles);
        if (rv == CKR_HOST_MEMORY && len >= FIND_MAX / 2)
            return sks_fail(err, SKS_ERR_INPUT, "search on %s matches too many objects", tok->uri);
        return p11_fail(err, rv, "cannot search %s", tok->uri);
    }
    *out = handles;
    *count = len;
    return SKS_OK;
}

sks_status p11_find_by_id_locked(struct p11_token *tok, CK_SESSION_HANDLE session,
                                 CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len,
                                 CK_OBJECT_HANDLE *out, struct sks_error *err)
{
    /* Token objects only: our own session copies share the CKA_ID. */
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_ID, (void *)id, id_len},
        {CKA_TOKEN, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE *handles = NULL;
    size_t count = 0;
    sks_status st;

    st = find_handles(tok, session, tmpl, 3, &handles, &count, err);
    if (st == SKS_OK && count > 1) {
        /*
         * An interrupted sksctl protect leaves the key twice, once
         * modifiable: the same key, so the protected one is the one.
         */
        CK_BBOOL no = CK_FALSE;
        CK_ATTRIBUTE fixed[] = {tmpl[0], tmpl[1], tmpl[2], {CKA_MODIFIABLE, &no, sizeof(no)}};
        CK_OBJECT_HANDLE *protected_ = NULL;
        size_t nprotected = 0;

        if (find_handles(tok, session, fixed, 4, &protected_, &nprotected, NULL) == SKS_OK &&
            nprotected == 1 && count == 2) {
            free(handles);
            handles = protected_;
            count = 1;
        } else {
            free(protected_);
        }
    }
    if (st != SKS_OK)
        return st;
    if (count == 1) {
        *out = handles[0];
    } else {
        char *uri = p11_object_uri(tok, cls, id, id_len, NULL);
        const char *name = uri != NULL ? uri : tok->uri;

        if (count == 0)
            st = sks_fail(err, SKS_ERR_NOT_FOUND,
                          "no object matches %s (deleted, or the token changed)", name);
        else
            st = sks_fail(err, SKS_ERR_INPUT, "%zu objects match %s; one is expected", count, name);
        free(uri);
    }
    free(handles);
    return st;
}

static void object_clear(struct p11_object *obj)
{
    free(obj->value);
    free(obj->uri);
    memset(obj, 0, sizeof(*obj));
}

/* Reads class, id, label, key type and (certificates) value of one object. */
static sks_status read_object(struct p11_token *tok, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE h,
                              struct p11_object *obj, struct sks_error *err)
{
    CK_ATTRIBUTE attrs[] = {
        {CKA_CLASS, &obj->cls, sizeof(obj->cls)},
        {CKA_ID, obj->id, sizeof(obj->id)},
        {CKA_LABEL, obj->label, sizeof(obj->label) - 1},
    };
    CK_RV rv;

    memset(obj, 0, sizeof(*obj));
    obj->key_type = (CK_KEY_TYPE)-1;
    rv = P11_CALL(tok->mod, C_GetAttributeValue, session, h, attrs, 3);
    /* CKR_ATTRIBUTE_TYPE_INVALID: no label or id; the others are still filled. */
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_BUFFER_TOO_SMALL)
        return p11_fail(err, rv, "cannot read an object on %s", tok->uri);
    obj->id_len = attrs[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? 0 : attrs[1].ulValueLen;
    if (attrs[2].ulValueLen != CK_UNAVAILABLE_INFORMATION)
        obj->label[attrs[2].ulValueLen] = '\0';
    else
        obj->label[0] = '\0';

    if (obj->cls == CKO_PRIVATE_KEY || obj->cls == CKO_PUBLIC_KEY) {
        CK_ATTRIBUTE kt = {CKA_KEY_TYPE, &obj->key_type, sizeof(obj->key_type)};
        P11_CALL(tok->mod, C_GetAttributeValue, session, h, &kt, 1);
    } else if (obj->cls == CKO_CERTIFICATE || obj->cls == CKO_DATA) {
        CK_ATTRIBUTE v = {CKA_VALUE, NULL, 0};
        rv = P11_CALL(tok->mod, C_GetAttributeValue, session, h, &v, 1);
        if (rv == CKR_OK && v.ulValueLen > 0 && v.ulValueLen <= VALUE_MAX &&
            (v.pValue = malloc(v.ulValueLen)) != NULL) {
            if (P11_CALL(tok->mod, C_GetAttributeValue, session, h, &v, 1) == CKR_OK) {
                obj->value = v.pValue;
                obj->value_len = v.ulValueLen;
            } else {
                free(v.pValue);
            }
        }
    }
    obj->handle = h;
    obj->epoch = atomic_load(&tok->epoch);
    obj->uri = p11_object_uri(tok, obj->cls, obj->id, obj->id_len, obj->label);
    if (obj->uri == NULL) {
        object_clear(obj);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    return SKS_OK;
}

static bool wanted_class(CK_OBJECT_CLASS cls)
{
    return cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY || cls == CKO_CERTIFICATE;
}

static sks_status find_once(struct p11_token *tok, P11KitUri *uri, bool want_private,
                            p11_object_cb cb, void *arg, unsigned long long *epoch,
                            struct sks_error *err)
{
    CK_ATTRIBUTE *uattrs, *cls_attr, *tmpl = NULL;
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG nattrs = 0;
    CK_OBJECT_HANDLE *handles = NULL;
    struct p11_object *objs = NULL;
    size_t count = 0, nobjs = 0, i;
    bool login;
    sks_status st;

    st = p11_module_check_fork(tok->mod, err);
    if (st != SKS_OK)
        return st;
    uattrs = p11_kit_uri_get_attributes(uri, &nattrs);
    /* Token objects only: session objects (our signing copies) are not listed. */
    tmpl = calloc(nattrs + 1, sizeof(*tmpl));
    if (tmpl == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    memcpy(tmpl, uattrs, nattrs * sizeof(*tmpl));
    tmpl[nattrs] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    cls_attr = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    if (cls_attr != NULL && cls_attr->ulValueLen == sizeof(CK_OBJECT_CLASS))
        login = *(CK_OBJECT_CLASS *)cls_attr->pValue == CKO_PRIVATE_KEY;
    else
        login = want_private;

    pthread_mutex_lock(&tok->lock);
    *epoch = atomic_load(&tok->epoch);
    st = p11_token_anchor_locked(tok, err);
    if (st == SKS_OK && login) {
        /* Without a PIN, an untyped search still lists what is public. */
        if (cls_attr == NULL && tok->pin_source == NULL && tok->pin == NULL)
            login = false;
        else
            st = p11_token_login_locked(tok, err);
    }
    if (st == SKS_OK)
        st = find_handles(tok, tok->anchor, tmpl, nattrs + 1, &handles, &count, err);
    if (st == SKS_OK && count > 0 && (objs = calloc(count, sizeof(*objs))) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    for (i = 0; st == SKS_OK && i < count; i++) {
        st = read_object(tok, tok->anchor, handles[i], &objs[nobjs], err);
        if (st == SKS_OK && wanted_class(objs[nobjs].cls))
            nobjs++;
        else if (st == SKS_OK)
            object_clear(&objs[nobjs]);
    }
    pthread_mutex_unlock(&tok->lock);

    /* Callbacks run without the lock: they may do anything, including fork. */
    for (i = 0; st == SKS_OK && i < nobjs; i++) {
        if (cb(tok, &objs[i], arg) != 0)
            break;
    }
    for (i = 0; i < nobjs; i++)
        object_clear(&objs[i]);
    free(objs);
    free(handles);
    free(tmpl);
    return st;
}

sks_status p11_objects_find(struct p11_token *tok, P11KitUri *uri, bool want_private,
                            p11_object_cb cb, void *arg, struct sks_error *err)
{
    unsigned long long epoch = 0;
    sks_status st = find_once(tok, uri, want_private, cb, arg, &epoch, err);

    /* A token that restarted since the last use: one retry after recovery. */
    if (st != SKS_OK && err != NULL && p11_token_recover(tok, epoch, err->ckr))
        st = find_once(tok, uri, want_private, cb, arg, &epoch, err);
    return st;
}
