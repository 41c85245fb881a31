/*
 * The ACME account in the token, beside the key store's records: its key,
 * a P-256 key pair generated in the token from the key store's templates
 * (sign-only, sensitive, never extractable), and a CKO_DATA object of
 * application "shaken-sks/acme" whose label holds the record, JSON
 * {"directory", "account", "key"} (the key's CKA_ID in hex).  The label is
 * rewritten in one C_SetAttributeValue, as the key store writes its
 * records, so a key rollover switches keys atomically.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "acme/store.h"

#define ACCOUNT_APPLICATION "shaken-sks/acme"
#define ACCOUNT_RECORD_MAX (16 * 1024)

static void hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static bool unhex(const char *s, unsigned char *out, size_t len)
{
    if (s == NULL || strlen(s) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned int b;

        if (sscanf(s + 2 * i, "%2x", &b) != 1)
            return false;
        out[i] = (unsigned char)b;
    }
    return true;
}

sks_status acme_key_generate(struct p11_token *tok, unsigned char id[ACME_KEY_ID_LEN],
                             struct p11_key **key, struct sks_error *err)
{
    char *uri = NULL;
    sks_status st;

    if (RAND_bytes(id, ACME_KEY_ID_LEN) != 1)
        return sks_fail(err, SKS_ERR_SYSTEM, "no randomness for a CKA_ID");
    st = p11_generate_p256(tok, ACME_KEY_LABEL, id, ACME_KEY_ID_LEN, &uri, err);
    free(uri);
    if (st == SKS_OK && (st = acme_key_load(tok, id, key, err)) != SKS_OK)
        acme_key_destroy(tok, id, NULL);
    return st;
}

/* The one object of |cls| with CKA_ID |id| and the account key's label. */
static sks_status find_one(struct p11_token *tok, p11_class cls, const unsigned char *id,
                           p11_handle *h, struct sks_error *err)
{
    struct p11_template t;
    p11_handle *hs = NULL;
    size_t n = 0;
    sks_status st;

    p11_template_find_object(&t, cls, id, ACME_KEY_ID_LEN, ACME_KEY_LABEL);
    st = p11_store_find(tok, &t, &hs, &n, err);
    if (st == SKS_OK && n != 1)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "the ACME account key %s is %s on %s", ACME_KEY_LABEL,
                      n == 0 ? "not" : "more than once", p11_token_uri(tok));
    if (st == SKS_OK)
        *h = hs[0];
    free(hs);
    return st;
}

sks_status acme_key_load(struct p11_token *tok, const unsigned char id[ACME_KEY_ID_LEN],
                         struct p11_key **key, struct sks_error *err)
{
    unsigned char pub[SKS_P256_POINT_LEN];
    p11_handle hpriv, hpub;
    sks_status st;

    st = find_one(tok, P11_PRIVATE_KEY, id, &hpriv, err);
    if (st == SKS_OK)
        st = find_one(tok, P11_PUBLIC_KEY, id, &hpub, err);
    if (st == SKS_OK)
        st = p11_store_get_ec_point(tok, hpub, pub, err);
    if (st == SKS_OK)
        st = p11_key_from_handle(tok, hpriv, id, ACME_KEY_ID_LEN, ACME_KEY_LABEL, pub, key, err);
    return st;
}

sks_status acme_key_destroy(struct p11_token *tok, const unsigned char id[ACME_KEY_ID_LEN],
                            struct sks_error *err)
{
    struct p11_template t;
    p11_handle *hs = NULL;
    size_t n = 0;
    sks_status st;

    p11_template_find_id(&t, id, ACME_KEY_ID_LEN);
    st = p11_store_find(tok, &t, &hs, &n, err);
    for (size_t i = 0; st == SKS_OK && i < n; i++)
        st = p11_store_destroy(tok, hs[i], err);
    free(hs);
    return st;
}

/* The record |h| holds, parsed. */
static sks_status read_record(struct p11_token *tok, p11_handle h, struct acme_account *a,
                              struct sks_error *err)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    json_t *o;
    const char *dir, *url;
    sks_status st =
        p11_store_get_value(tok, h, P11_ATTR_LABEL, ACCOUNT_RECORD_MAX, &raw, &len, err);

    if (st != SKS_OK)
        return st;
    o = json_loadb((const char *)raw, len, 0, NULL);
    dir = json_string_value(json_object_get(o, "directory"));
    url = json_string_value(json_object_get(o, "account"));
    memset(a, 0, sizeof(*a));
    if (dir == NULL || url == NULL || strlen(dir) >= sizeof(a->directory) ||
        strlen(url) >= sizeof(a->url) ||
        !unhex(json_string_value(json_object_get(o, "key")), a->key_id, ACME_KEY_ID_LEN))
        st = sks_fail(err, SKS_ERR_INPUT, "an ACME account record on %s is malformed",
                      p11_token_uri(tok));
    else {
        strcpy(a->directory, dir);
        strcpy(a->url, url);
        a->handle = h;
    }
    json_decref(o);
    free(raw);
    return st;
}

sks_status acme_account_find(struct p11_token *tok, const char *directory, struct acme_account *a,
                             struct sks_error *err)
{
    struct p11_template t;
    p11_handle *hs = NULL;
    size_t n = 0, found = 0;
    sks_status st;

    p11_template_find_data(&t, ACCOUNT_APPLICATION, NULL, 0);
    st = p11_store_find(tok, &t, &hs, &n, err);
    for (size_t i = 0; st == SKS_OK && i < n; i++) {
        struct acme_account one;

        if ((st = read_record(tok, hs[i], &one, err)) != SKS_OK)
            break;
        if (directory == NULL || strcmp(directory, one.directory) == 0) {
            *a = one;
            found++;
        }
    }
    free(hs);
    if (st != SKS_OK)
        return st;
    if (found == 0)
        return sks_fail_field(err, SKS_ERR_NOT_FOUND, "acme-no-account", "directory",
                              "no ACME account%s%s on %s: run sksctl acme register",
                              directory ? " for " : "", directory ? directory : "",
                              p11_token_uri(tok));
    if (found > 1)
        return sks_fail_field(err, SKS_ERR_INPUT, "acme-no-account", "directory",
                              "%zu ACME accounts on %s: name one with --directory", found,
                              p11_token_uri(tok));
    return SKS_OK;
}

sks_status acme_account_save(struct p11_token *tok, struct acme_account *a, struct sks_error *err)
{
    char id[2 * ACME_KEY_ID_LEN + 1];
    struct p11_template t;
    json_t *o;
    char *raw;
    sks_status st;

    hex(a->key_id, ACME_KEY_ID_LEN, id);
    o = json_pack("{s:s, s:s, s:s}", "directory", a->directory, "account", a->url, "key", id);
    raw = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (raw == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (a->handle == P11_NO_HANDLE) {
        p11_template_data(&t, ACCOUNT_APPLICATION, raw, strlen(raw));
        st = p11_store_create(tok, &t, &a->handle, err);
    } else {
        p11_template_label(&t, raw, strlen(raw));
        st = p11_store_set(tok, a->handle, &t, err);
    }
    free(raw);
    return st;
}

sks_status acme_account_remove(struct p11_token *tok, const struct acme_account *a,
                               struct sks_error *err)
{
    sks_status st = p11_store_destroy(tok, a->handle, err);

    if (st == SKS_OK)
        st = acme_key_destroy(tok, a->key_id, err);
    return st;
}
