/*
 * Where identity records live: two record slots per identity, each a
 * CKO_DATA object (application "shaken-sks") whose label holds the
 * record.  A change rewrites the slot that does not hold the newest record
 * with one C_SetAttributeValue, so that:
 *
 * - it is one attribute write, atomic as far as the token is concerned.
 *   The label, because PKCS#11 keeps a data object's value read-only
 *   after creation (SoftHSM enforces it) and the label is the one attribute
 *   of a data object that may be modified.
 * - a write torn by a crash inside the token library (SoftHSM rewrites an
 *   object file in place: truncate, then write) can only damage the older
 *   record; readers take the newest record that reads.
 * - handles stay: records are never destroyed and recreated, which on
 *   SoftHSM costs a listing of the whole token directory per destroy.
 *
 * Readers take the slot with the highest sequence number that parses.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "keystore/internal.h"

static sks_status slot_read(struct sks_keystore *ks, p11_handle h, unsigned char **raw, size_t *len,
                            struct ks_record *rec, struct sks_error *err)
{
    sks_status st = p11_store_get_value(ks->tok, h, P11_ATTR_LABEL, KS_RECORD_MAX, raw, len, err);

    if (st != SKS_OK)
        return st;
    st = ks_record_parse(*raw, *len, rec, err);
    if (st != SKS_OK) {
        free(*raw);
        *raw = NULL;
    }
    return st;
}

static bool gone(sks_status st, const struct sks_error *err)
{
    return st != SKS_OK && err != NULL && err->ckr == CKR_OBJECT_HANDLE_INVALID;
}

sks_status ks_slots_newest(struct sks_keystore *ks, const p11_handle *slots, size_t n,
                           unsigned char **raw, size_t *len, struct ks_record *rec,
                           struct sks_error *err)
{
    unsigned char *best = NULL, *r = NULL;
    size_t best_len = 0, l = 0, i;
    struct ks_record one;
    sks_status st = SKS_ERR_NOT_FOUND;

    for (i = 0; i < n; i++) {
        sks_status s = slot_read(ks, slots[i], &r, &l, &one, err);
        if (s == SKS_OK && (best == NULL || one.seq > rec->seq)) {
            free(best);
            best = r;
            best_len = l;
            *rec = one;
            st = SKS_OK;
        } else if (s == SKS_OK) {
            free(r);
        } else if (!gone(s, err) && s != SKS_ERR_INPUT && s != SKS_ERR_NOT_FOUND) {
            /* The token failed, not the record: say so rather than "not found". */
            free(best);
            return s;
        }
    }
    if (st != SKS_OK)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "no readable record");
    *raw = best;
    *len = best_len;
    return SKS_OK;
}

/* ---- the index of records ------------------------------------------------------------ */

void ks_data_free(void *p)
{
    struct ks_data *d = p;

    if (d == NULL)
        return;
    free(d->raw);
    free(d->extra);
    free(d);
}

static struct ks_data *data_get(struct ks_index *idx, const char *name, struct sks_error *err)
{
    struct ks_data *d = ks_map_get(&idx->by_name, name, strlen(name));

    if (d != NULL)
        return d;
    if ((d = calloc(1, sizeof(*d))) == NULL) {
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    strcpy(d->name, name);
    if (!ks_map_put(&idx->by_name, d->name, strlen(d->name), d)) {
        free(d);
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        return NULL;
    }
    return d;
}

/*
 * Slot |h| of |d| holds |raw| (taken over) with sequence |seq|.  A third
 * slot can only come from writers on two hosts creating one at once; it is
 * kept aside for sweep.
 */
static sks_status data_slot(struct ks_index *idx, struct ks_data *d, p11_handle h,
                            unsigned char *raw, size_t len, unsigned long long seq,
                            struct sks_error *err)
{
    size_t i;

    for (i = 0; i < d->nslots && d->slot[i] != h; i++)
        ;
    if (i == d->nslots) {
        if (d->nslots == KS_SLOTS) {
            p11_handle *grown = realloc(d->extra, (d->nextra + 1) * sizeof(*grown));
            free(raw);
            if (grown == NULL)
                return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
            d->extra = grown;
            d->extra[d->nextra++] = h;
            return SKS_OK;
        }
        d->slot[d->nslots++] = h;
        if (!ks_map_put(&idx->by_handle, &h, sizeof(h), d)) {
            free(raw);
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        }
    }
    if (raw == NULL || (d->raw != NULL && seq <= d->seq)) {
        free(raw);
        return SKS_OK;
    }
    free(d->raw);
    d->raw = raw;
    d->raw_len = len;
    d->seq = seq;
    d->cur = i;
    return SKS_OK;
}

sks_status ks_record_found(struct sks_keystore *ks, struct ks_index *idx, p11_handle h,
                           struct sks_error *err)
{
    struct ks_record rec;
    unsigned char *raw = NULL;
    size_t len = 0;
    struct ks_data *d;

    /* A slot that does not parse (torn, or not ours) cannot be tied to an identity. */
    if (slot_read(ks, h, &raw, &len, &rec, NULL) != SKS_OK)
        return SKS_OK;
    if ((d = data_get(idx, rec.name, err)) == NULL) {
        free(raw);
        return SKS_ERR_SYSTEM;
    }
    return data_slot(idx, d, h, raw, len, rec.seq, err);
}

sks_status ks_index_find_records(struct sks_keystore *ks, struct ks_index *idx,
                                 struct sks_error *err)
{
    struct p11_template match;
    p11_handle *handles = NULL;
    size_t count = 0, i;
    sks_status st;

    p11_template_find_data(&match, KS_APPLICATION, NULL, 0);
    st = p11_store_find(ks->tok, &match, &handles, &count, err);
    for (i = 0; st == SKS_OK && i < count; i++)
        if (ks_map_get(&idx->by_handle, &handles[i], sizeof(handles[i])) == NULL)
            st = ks_record_found(ks, idx, handles[i], err);
    free(handles);
    return st;
}

/* Drops slot |i| of |d|, whose object is gone. */
static void slot_forget(struct ks_index *idx, struct ks_data *d, size_t i)
{
    ks_map_del(&idx->by_handle, &d->slot[i], sizeof(d->slot[i]));
    d->slot[i] = d->slot[--d->nslots];
    if (d->cur >= d->nslots)
        d->cur = 0;
}

/* Re-reads every slot of |d|: the index may be older than another process's change. */
static sks_status data_refresh(struct sks_keystore *ks, struct ks_index *idx, struct ks_data *d,
                               struct ks_record *rec, struct sks_error *err)
{
    unsigned long long best = 0;
    size_t i = 0;
    sks_status st;

    free(d->raw);
    d->raw = NULL;
    d->seq = 0;
    while (i < d->nslots) {
        unsigned char *raw = NULL;
        size_t len = 0;
        struct ks_record one;
        st = slot_read(ks, d->slot[i], &raw, &len, &one, err);
        if (gone(st, err)) {
            slot_forget(idx, d, i);
            continue;
        }
        if (st == SKS_OK && (d->raw == NULL || one.seq > best)) {
            free(d->raw);
            d->raw = raw;
            d->raw_len = len;
            d->seq = best = one.seq;
            d->cur = i;
            *rec = one;
        } else {
            free(raw);
        }
        i++;
    }
    return d->raw != NULL ? SKS_OK : SKS_ERR_NOT_FOUND;
}

/* ---- reading and writing an identity --------------------------------------------------- */

/*
 * Another process (sksctl next to sksd) may have created record slots since
 * the index last looked: an identity it created would otherwise look new
 * here and get a second record, and a slot it added would escape the
 * compare-and-set.  Searches for them unless the marker says none came.
 */
static sks_status records_catch_up(struct sks_keystore *ks, struct ks_index *idx,
                                   struct sks_error *err)
{
    unsigned char value[KS_MARKER_VALUE_MAX];
    size_t len = 0;
    bool has = idx->has_marker && ks_marker_read(ks, idx->marker, value, &len);
    sks_status st;

    if (has && idx->seen_len == len && memcmp(value, idx->seen, len) == 0)
        return SKS_OK;
    /* The value read before the search: a slot created after it shows as a new value. */
    idx->seen_len = 0;
    st = ks_index_find_records(ks, idx, err);
    if (st == SKS_OK && has) {
        memcpy(idx->seen, value, len);
        idx->seen_len = len;
    }
    return st;
}

sks_status ks_ident_load(struct sks_keystore *ks, const char *name, struct ks_ident *id,
                         struct sks_error *err)
{
    struct ks_index *idx;
    struct ks_data *d;
    sks_status st;

    memset(id, 0, sizeof(*id));
    if (!sks_identity_name_ok(name))
        return sks_fail(err, SKS_ERR_INPUT,
                        "identity name \"%.80s\" is not 1-%d of A-Z a-z 0-9 . _ - starting with "
                        "a letter or digit",
                        name, SKS_IDENTITY_NAME_MAX);
    strcpy(id->name, name);
    id->rec.next = 1;
    st = ks_index_get(ks, &idx, err);
    if (st == SKS_OK)
        st = records_catch_up(ks, idx, err);
    if (st != SKS_OK)
        return st;
    d = ks_map_get(&idx->by_name, name, strlen(name));
    /*
     * Version objects without a readable record: writing a new record would
     * orphan them and the next sweep would destroy keys.  Stop instead.
     */
    if ((d == NULL || d->nslots == 0) && ks_index_has_versions_of(idx, name))
        return sks_fail(err, SKS_ERR_INPUT,
                        "identity %s has key objects on %s (labelled %s/N) but no readable "
                        "record; nothing was written: inspect them with pkcs11-tool -O",
                        name, p11_token_uri(ks->tok), name);
    if (d == NULL)
        return SKS_OK;
    st = data_refresh(ks, idx, d, &id->rec, err);
    if (st == SKS_ERR_NOT_FOUND && d->nslots > 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "identity %s: none of its %zu records on %s reads; see pkcs11-tool -O",
                        name, d->nslots, p11_token_uri(ks->tok));
    if (st == SKS_ERR_NOT_FOUND)
        return SKS_OK;
    if (st == SKS_OK)
        id->exists = true;
    return st;
}

static sks_status changed_meanwhile(const struct ks_ident *id, struct sks_error *err)
{
    return sks_fail(err, SKS_ERR_UNAVAILABLE,
                    "identity %s was changed by another process while this command ran; "
                    "nothing was written: run the command again",
                    id->name);
}

static sks_status not_stored(struct sks_keystore *ks, const char *what, struct sks_error *err);
static void record_lost(struct sks_keystore *ks, struct ks_data *d);

/*
 * The slot with the record this process wrote or read last no longer reads
 * while the other one does: the token dropped that write (a token library
 * can notice only later that its storage refused it).  Not another writer:
 * those rewrite the older slot, never the newest.
 */
static bool own_write_lost(struct sks_keystore *ks, struct ks_data *d, struct sks_error *err)
{
    unsigned char *raw = NULL;
    struct ks_record rec;
    char what[SKS_IDENTITY_NAME_MAX + 32];
    size_t len = 0;
    struct sks_error e;
    sks_status st;

    if (d->nslots < 2)
        return false;
    sks_error_clear(&e);
    st = slot_read(ks, d->slot[d->cur], &raw, &len, &rec, &e);
    free(raw);
    if (!gone(st, &e))
        return false;
    snprintf(what, sizeof(what), "the record of identity %s", d->name);
    not_stored(ks, what, err);
    record_lost(ks, d);
    return true;
}

static sks_status slot_create(struct sks_keystore *ks, const unsigned char *raw, size_t len,
                              p11_handle *h, struct sks_error *err)
{
    struct p11_template t;

    p11_template_data(&t, KS_APPLICATION, raw, len);
    return p11_store_create(ks->tok, &t, h, err);
}

/* Writes |raw| into the slot that does not hold the newest record, or a new slot. */
static sks_status slot_write(struct sks_keystore *ks, struct ks_data *d, const unsigned char *raw,
                             size_t len, p11_handle *h, struct sks_error *err)
{
    struct p11_template label;
    sks_status st = SKS_ERR_NOT_FOUND;

    if (d->nslots == KS_SLOTS) {
        *h = d->slot[1 - d->cur];
        p11_template_label(&label, raw, len);
        st = p11_store_set(ks->tok, *h, &label, err);
        if (!gone(st, err))
            return st;
        slot_forget(ks->index, d, 1 - d->cur);
    }
    /* First, so that a writer killed right after the create still leaves a new marker value. */
    ks_marker_announce(ks);
    st = slot_create(ks, raw, len, h, err);
    return st != SKS_OK ? st : data_slot(ks->index, d, *h, NULL, 0, 0, err);
}

sks_status ks_ident_save(struct sks_keystore *ks, struct ks_ident *id, struct sks_error *err)
{
    struct ks_data *d = ks_map_get(&ks->index->by_name, id->name, strlen(id->name));
    struct ks_record now;
    unsigned char *raw = NULL, *copy = NULL;
    p11_handle h = P11_NO_HANDLE;
    size_t len = 0;
    sks_status st;

    if (d != NULL && d->raw != NULL && !id->exists)
        return changed_meanwhile(id, err);
    if (d != NULL && d->raw != NULL) {
        /* Compare and set: the newest record must still be the one this change started from. */
        st = ks_slots_newest(ks, d->slot, d->nslots, &raw, &len, &now, err);
        if (st != SKS_OK || len != d->raw_len || memcmp(raw, d->raw, len) != 0) {
            free(raw);
            return st == SKS_OK && own_write_lost(ks, d, err) ? SKS_ERR_UNAVAILABLE
                                                              : changed_meanwhile(id, err);
        }
        free(raw);
        raw = NULL;
    }
    if (d == NULL && (d = data_get(ks->index, id->name, err)) == NULL)
        return SKS_ERR_SYSTEM;
    strcpy(id->rec.name, id->name);
    id->rec.seq = d->seq + 1;
    st = ks_record_encode(&id->rec, &raw, &len, err);
    if (st == SKS_OK && (copy = malloc(len)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (st == SKS_OK)
        st = slot_write(ks, d, raw, len, &h, err);
    if (st != SKS_OK) {
        free(raw);
        free(copy);
        sks_error_prefix(err, "cannot write the record of identity %s", id->name);
        return st;
    }
    memcpy(copy, raw, len);
    free(raw);
    free(d->raw);
    d->raw = copy;
    d->raw_len = len;
    d->seq = id->rec.seq;
    for (d->cur = 0; d->cur < d->nslots && d->slot[d->cur] != h; d->cur++)
        ;
    id->exists = true;
    ks_marker_announce(ks);
    return SKS_OK;
}

sks_status ks_ident_drop(struct sks_keystore *ks, struct ks_ident *id, struct sks_error *err)
{
    struct ks_data *d = ks_map_get(&ks->index->by_name, id->name, strlen(id->name));
    sks_status st = SKS_OK;

    if (!id->exists || id->rec.n > 0)
        return SKS_OK;
    st = ks_ident_drop_extra(ks, id->name, err);
    while (st == SKS_OK && d != NULL && d->nslots > 0) {
        st = p11_store_destroy(ks->tok, d->slot[d->nslots - 1], err);
        if (st == SKS_ERR_NOT_FOUND)
            st = SKS_OK;
        if (st == SKS_OK)
            slot_forget(ks->index, d, d->nslots - 1);
    }
    if (st != SKS_OK)
        return st;
    ks_data_free(ks_map_del(&ks->index->by_name, id->name, strlen(id->name)));
    id->exists = false;
    ks_marker_announce(ks);
    return SKS_OK;
}

sks_status ks_ident_drop_extra(struct sks_keystore *ks, const char *name, struct sks_error *err)
{
    struct ks_data *d = ks_map_get(&ks->index->by_name, name, strlen(name));
    sks_status st;

    while (d != NULL && d->nextra > 0) {
        st = p11_store_destroy(ks->tok, d->extra[d->nextra - 1], err);
        if (st != SKS_OK && st != SKS_ERR_NOT_FOUND)
            return st;
        d->nextra--;
    }
    return SKS_OK;
}

/* ---- the change marker ---------------------------------------------------------------------- */

bool ks_marker_read(struct sks_keystore *ks, p11_handle h, unsigned char value[KS_MARKER_VALUE_MAX],
                    size_t *len)
{
    size_t got;

    if (p11_store_read(ks->tok, h, P11_ATTR_LABEL, value, KS_MARKER_VALUE_MAX, &got, NULL) !=
            SKS_OK ||
        got == P11_UNAVAILABLE || got > KS_MARKER_VALUE_MAX)
        return false;
    *len = got;
    return true;
}

/* The marker's handle for sks_keystore_marker(): P11_NO_HANDLE when the token has none. */
static sks_status watch_find(struct sks_keystore *ks, p11_handle *h, struct sks_error *err)
{
    struct p11_template match;
    p11_handle *handles = NULL;
    unsigned long long epoch = p11_token_epoch(ks->tok);
    size_t count = 0;
    sks_status st;

    p11_template_find_data(&match, KS_MARKER_APPLICATION, NULL, 0);
    st = p11_store_find(ks->tok, &match, &handles, &count, err);
    *h = st == SKS_OK && count > 0 ? handles[0] : P11_NO_HANDLE;
    free(handles);
    if (st == SKS_OK) {
        pthread_mutex_lock(&ks->lock);
        ks->watch_marker = *h;
        ks->watch_epoch = epoch;
        pthread_mutex_unlock(&ks->lock);
    }
    return st;
}

sks_status sks_keystore_marker(struct sks_keystore *ks, unsigned char value[SKS_MARKER_MAX],
                               size_t *len, struct sks_error *err)
{
    p11_handle h;
    size_t got;
    sks_status st;
    bool known;
    int attempt;

    *len = 0;
    for (attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&ks->lock);
        /* After a reset the token may hand out the same handle for another object. */
        known = ks->watch_marker != P11_NO_HANDLE && ks->watch_epoch == p11_token_epoch(ks->tok);
        h = ks->watch_marker;
        pthread_mutex_unlock(&ks->lock);
        if (!known && (st = watch_find(ks, &h, err)) != SKS_OK)
            return st;
        if (h == P11_NO_HANDLE)
            return SKS_OK;
        st = p11_store_read(ks->tok, h, P11_ATTR_LABEL, value, SKS_MARKER_MAX, &got, err);
        if (st == SKS_OK) {
            /* A marker without a readable label tells of no change: the caller lists. */
            if (got != P11_UNAVAILABLE && got <= SKS_MARKER_MAX)
                *len = got;
            return SKS_OK;
        }
        if (!gone(st, err) && st != SKS_ERR_NOT_FOUND)
            return st;
        /* Destroyed and made anew by a writer, or the token restarted: search again. */
        pthread_mutex_lock(&ks->lock);
        if (ks->watch_marker == h)
            ks->watch_marker = P11_NO_HANDLE;
        pthread_mutex_unlock(&ks->lock);
        sks_error_clear(err);
    }
    return sks_fail(err, SKS_ERR_UNAVAILABLE, "the change marker on %s vanished twice in a row",
                    p11_token_uri(ks->tok));
}

/*
 * The marker another process created after this index was made: a second
 * marker would split writers and readers between two objects.
 */
static sks_status marker_find(struct sks_keystore *ks, struct sks_error *err)
{
    struct p11_template match;
    p11_handle *handles = NULL;
    size_t count = 0;
    sks_status st;

    p11_template_find_data(&match, KS_MARKER_APPLICATION, NULL, 0);
    st = p11_store_find(ks->tok, &match, &handles, &count, err);
    if (st == SKS_OK && count > 0) {
        ks->index->marker = handles[0];
        ks->index->has_marker = true;
    }
    free(handles);
    return st;
}

sks_status ks_marker_touch(struct sks_keystore *ks, struct sks_error *err)
{
    unsigned char rnd[16];
    char value[2 * sizeof(rnd) + 1];
    struct p11_template t;
    sks_status st;

    if (ks->index == NULL)
        return SKS_OK;
    /* Random, not a counter: two writers can never leave the value they both read. */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return sks_fail(err, SKS_ERR_SYSTEM, "no randomness for the change marker");
    OPENSSL_buf2hexstr_ex(value, sizeof(value), NULL, rnd, sizeof(rnd), '\0');
    if (!ks->index->has_marker && (st = marker_find(ks, err)) != SKS_OK)
        return st;
    if (ks->index->has_marker) {
        p11_template_label(&t, value, 2 * sizeof(rnd));
        st = p11_store_set(ks->tok, ks->index->marker, &t, err);
    }
    if (!ks->index->has_marker || gone(st, err)) {
        p11_template_data(&t, KS_MARKER_APPLICATION, value, 2 * sizeof(rnd));
        st = p11_store_create(ks->tok, &t, &ks->index->marker, err);
        ks->index->has_marker = st == SKS_OK;
    }
    /* Writers hold the write lock and ks_ident_load() caught up: the index knows every slot. */
    ks->index->seen_len = 0;
    if (st == SKS_OK) {
        memcpy(ks->index->seen, value, 2 * sizeof(rnd));
        ks->index->seen_len = 2 * sizeof(rnd);
    }
    return st;
}

/* Attempts at rewriting the marker before falling back to destroying it. */
#define KS_MARKER_TRIES 3

void ks_marker_announce(struct sks_keystore *ks)
{
    struct sks_error err;
    sks_status st = SKS_OK;
    int i;

    if (ks->index == NULL)
        return;
    for (i = 0; i < KS_MARKER_TRIES; i++) {
        sks_error_clear(&err);
        if ((st = ks_marker_touch(ks, &err)) == SKS_OK)
            return;
    }
    ks_warn(ks, "cannot rewrite the change marker: %s", err.msg);
    if (!ks->index->has_marker)
        return;
    /* Without a marker, readers re-read each record every key_max_age_ms. */
    sks_error_clear(&err);
    st = p11_store_destroy(ks->tok, ks->index->marker, &err);
    if (st == SKS_OK || st == SKS_ERR_NOT_FOUND) {
        ks->index->has_marker = false;
        ks_warn(ks, "destroyed the change marker; readers now read each record");
        return;
    }
    ks_warn(ks,
            "cannot destroy the change marker either (%s): other processes see this change "
            "only when they restart",
            err.msg);
}

void ks_warn(struct sks_keystore *ks, const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    if (ks->cfg.warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ks->cfg.warn(msg, ks->cfg.warn_arg);
}

/* ---- checking what the token stored ------------------------------------------------------ */

static sks_status not_stored(struct sks_keystore *ks, const char *what, struct sks_error *err)
{
    return sks_fail(err, SKS_ERR_UNAVAILABLE,
                    "the token did not store %s; is its storage full? (%s reported success, but "
                    "a fresh start of the module does not find it)",
                    what, p11_token_uri(ks->tok));
}

/*
 * The slot holding the record this process wrote last did not reach the
 * token's storage: destroyed (so that the token library frees what it kept)
 * and forgotten, so that this process, like any other, reads the record
 * that the other slot holds.
 */
static void record_lost(struct sks_keystore *ks, struct ks_data *d)
{
    if (d->nslots > 0) {
        p11_store_destroy(ks->tok, d->slot[d->cur], NULL);
        slot_forget(ks->index, d, d->cur);
    }
    free(d->raw);
    d->raw = NULL;
    d->seq = 0;
}

#define KS_VERIFY_MAX (SKS_CHAIN_MAX + 8)

sks_status ks_verify_stored(struct sks_keystore *ks, const char *name, const struct ks_version *v,
                            struct sks_error *err)
{
    struct ks_data *d = ks_map_get(&ks->index->by_name, name, strlen(name));
    struct p11_template e[KS_VERIFY_MAX];
    struct ks_obj *objs[KS_VERIFY_MAX], *o;
    size_t n = 0, nrecord = KS_VERIFY_MAX, nmarker = KS_VERIFY_MAX, missing;
    char what[P11_LABEL_MAX + 64];
    bool checked;
    sks_status st;

    if (d != NULL && d->raw != NULL) {
        p11_template_find_data(&e[n], KS_APPLICATION, d->raw, d->raw_len);
        nrecord = n++;
    }
    for (o = v != NULL ? ks_index_objects(ks->index, v->id) : NULL;
         o != NULL && n < KS_VERIFY_MAX - 1; o = o->next) {
        objs[n] = o;
        p11_template_find_object(&e[n], o->cls, o->id, KS_ID_LEN, o->label);
        n++;
    }
    /* Last: a lost marker value is not worth failing a change that is stored. */
    if (ks->index->has_marker && ks->index->seen_len > 0) {
        p11_template_find_data(&e[n], KS_MARKER_APPLICATION, ks->index->seen, ks->index->seen_len);
        nmarker = n++;
    }
    st = p11_store_verify(ks->tok, e, n, &missing, &checked, err);
    if (st != SKS_OK && !checked) {
        /* What this process wrote stands, as it did before the check existed. */
        ks_warn(ks, "identity %s: the change is kept unchecked: %s", name, err->msg);
        sks_error_clear(err);
        return SKS_OK;
    }
    if (st == SKS_OK || missing == n) {
        if (st != SKS_OK)
            sks_error_prefix(err, "identity %s", name);
        return st;
    }
    if (missing == nmarker) {
        /* Readers must not trust a marker that did not change on the token. */
        ks_warn(ks, "the token did not store the new change marker value; is its storage full?");
        sks_error_clear(err);
        if (p11_store_destroy(ks->tok, ks->index->marker, NULL) == SKS_OK)
            ks->index->has_marker = false;
        return SKS_OK;
    }
    if (missing == nrecord) {
        record_lost(ks, d);
        ks_marker_announce(ks);
        snprintf(what, sizeof(what), "the record of identity %s", name);
    } else {
        snprintf(what, sizeof(what), "object %s", objs[missing]->label);
    }
    return not_stored(ks, what, err);
}
