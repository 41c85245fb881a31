/* The renewal state records (renewal.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "keystore/internal.h"
#include "keystore/renewal.h"

#define RECORD_MAX (16 * 1024)

static const char *const result_names[] = {"none", "ok", "failed", "running"};

const char *sks_renewal_result_name(enum sks_renewal_result r)
{
    return (unsigned int)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r]
                                                                            : "none";
}

/* |s| into |out| of |size| bytes; false when it is missing or does not fit. */
static bool copy_string(const json_t *o, const char *key, char *out, size_t size, bool required)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (s == NULL) {
        out[0] = '\0';
        return !required;
    }
    if (strlen(s) >= size)
        return false;
    strcpy(out, s);
    return true;
}

static bool parse_record(const unsigned char *raw, size_t len, struct sks_renewal *r)
{
    json_t *o = json_loadb((const char *)raw, len, 0, NULL);
    const char *result;
    bool ok;

    memset(r, 0, sizeof(*r));
    r->handle = P11_NO_HANDLE;
    result = json_string_value(json_object_get(o, "result"));
    ok = o != NULL && copy_string(o, "identity", r->identity, sizeof(r->identity), true) &&
         copy_string(o, "code", r->code, sizeof(r->code), false) &&
         copy_string(o, "order", r->order, sizeof(r->order), false) &&
         copy_string(o, "csr", r->csr, sizeof(r->csr), false) && result != NULL;
    for (size_t i = 0; ok && i < sizeof(result_names) / sizeof(result_names[0]); i++)
        if (strcmp(result, result_names[i]) == 0)
            r->result = (enum sks_renewal_result)i;
    if (ok) {
        r->attempt = (time_t)json_integer_value(json_object_get(o, "attempt"));
        r->next = (time_t)json_integer_value(json_object_get(o, "next"));
        r->failures = (unsigned int)json_integer_value(json_object_get(o, "failures"));
        r->pending = (unsigned int)json_integer_value(json_object_get(o, "pending"));
        r->generating = (unsigned int)json_integer_value(json_object_get(o, "generating"));
    }
    json_decref(o);
    return ok;
}

/* Every record's handle, and |cb| for each that parses. */
static sks_status scan(struct p11_token *tok, const char *identity, struct sks_renewal *found,
                       sks_renewal_cb cb, void *arg, struct sks_error *err)
{
    struct p11_template t;
    p11_handle *hs = NULL;
    size_t n = 0;
    sks_status st;

    p11_template_find_data(&t, SKS_RENEWAL_APPLICATION, NULL, 0);
    st = p11_store_find(tok, &t, &hs, &n, err);
    for (size_t i = 0; st == SKS_OK && i < n; i++) {
        unsigned char *raw = NULL;
        size_t len = 0;
        struct sks_renewal r;

        st = p11_store_get_value(tok, hs[i], P11_ATTR_LABEL, RECORD_MAX, &raw, &len, err);
        if (st == SKS_OK && parse_record(raw, len, &r)) {
            r.handle = hs[i];
            if (cb != NULL)
                cb(&r, arg);
            if (identity != NULL && strcmp(r.identity, identity) == 0)
                *found = r;
        }
        free(raw);
    }
    free(hs);
    return st;
}

sks_status sks_renewal_get(struct sks_keystore *ks, const char *identity, struct sks_renewal *r,
                           struct sks_error *err)
{
    sks_status st;

    memset(r, 0, sizeof(*r));
    r->handle = P11_NO_HANDLE;
    if (strlen(identity) >= sizeof(r->identity))
        return sks_fail(err, SKS_ERR_INPUT, "identity name too long");
    st = scan(ks->tok, identity, r, NULL, NULL, err);
    if (st != SKS_OK)
        return st;
    snprintf(r->identity, sizeof(r->identity), "%s", identity);
    return SKS_OK;
}

sks_status sks_renewal_each(struct sks_keystore *ks, sks_renewal_cb cb, void *arg,
                            struct sks_error *err)
{
    return scan(ks->tok, NULL, NULL, cb, arg, err);
}

sks_status sks_renewal_put(struct sks_keystore *ks, struct sks_renewal *r, struct sks_error *err)
{
    struct p11_template t;
    json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "identity", r->identity, "attempt",
                          (json_int_t)r->attempt, "result", sks_renewal_result_name(r->result),
                          "failures", (json_int_t)r->failures, "next", (json_int_t)r->next);
    char *raw = NULL;
    sks_status st;

    if (o != NULL && r->code[0] != '\0')
        json_object_set_new(o, "code", json_string(r->code));
    if (o != NULL && r->order[0] != '\0')
        json_object_set_new(o, "order", json_string(r->order));
    if (o != NULL && r->generating != 0)
        json_object_set_new(o, "generating", json_integer(r->generating));
    if (o != NULL && r->pending != 0) {
        json_object_set_new(o, "pending", json_integer(r->pending));
        json_object_set_new(o, "csr", json_string(r->csr));
    }
    raw = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (raw == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (r->handle == P11_NO_HANDLE) {
        p11_template_data(&t, SKS_RENEWAL_APPLICATION, raw, strlen(raw));
        st = p11_store_create(ks->tok, &t, &r->handle, err);
    } else {
        p11_template_label(&t, raw, strlen(raw));
        st = p11_store_set(ks->tok, r->handle, &t, err);
    }
    if (st == SKS_OK)
        st = ks_marker_touch(ks, err);
    if (st != SKS_OK)
        sks_error_prefix(err, "the renewal record of %s", r->identity);
    free(raw);
    return st;
}

sks_status sks_renewal_lock(struct sks_keystore *ks, const char *identity, int *fd, long *holder,
                            struct sks_error *err)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char path[sizeof(ks->lock_path) + 64], hex[17], pid[32];
    size_t base = strlen(ks->lock_path);
    ssize_t n;
    int lfd, rc;

    *fd = -1;
    *holder = 0;
    /* The name hashed: an identity name may hold characters a file name should not. */
    SHA256((const unsigned char *)identity, strlen(identity), md);
    OPENSSL_buf2hexstr_ex(hex, sizeof(hex), NULL, md, 8, '\0');
    if (base > 5 && strcmp(ks->lock_path + base - 5, ".lock") == 0)
        base -= 5;
    snprintf(path, sizeof(path), "%.*s.renew-%s.lock", (int)base, ks->lock_path, hex);
    if ((lfd = ks_lock_open(ks, path, err)) < 0)
        return err->status;
    while ((rc = flock(lfd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (rc != 0 && errno == EWOULDBLOCK) {
        n = pread(lfd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        *holder = strtol(pid, NULL, 10);
        close(lfd);
        return SKS_OK;
    }
    if (rc != 0) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot lock %s: %s", path, strerror(errno));
        close(lfd);
        return err->status;
    }
    /* Who holds it, for a run that finds it held (which may read the last holder's pid before
     * this). */
    n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(lfd, 0) != 0 || pwrite(lfd, pid, (size_t)n, 0) != n) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        close(lfd);
        return err->status;
    }
    *fd = lfd;
    return SKS_OK;
}

void sks_renewal_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
