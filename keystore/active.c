/*
 * The signing path: the active version of an identity, from a cache.
 *
 * A hit costs a hash lookup under a mutex and a reference count, whatever
 * the number of identities.  Changes by other processes are seen through
 * the change marker: one token read every max_age_ms tells whether any
 * record changed, and only then do cached identities re-read their own
 * record.  On a token without a marker each identity re-reads its record at
 * most every max_age_ms.  With a marker a record is still re-read every
 * KS_RECORD_RECHECK_MS: a writer killed between its record and the marker
 * leaves a change the marker never announces.  Identities that do not exist
 * are cached too, so that requests for them cannot make the token search
 * again and again.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keystore/internal.h"

/* How long a cached record is trusted on the marker's word alone. */
#define KS_RECORD_RECHECK_MS 30000
/* How often a lost marker is looked for again. */
#define KS_MARKER_RETRY_MS 1000

struct ks_snap {
    struct sks_active pub;
    _Atomic int refs;
    unsigned char id[KS_ID_LEN];
};

struct ks_entry {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    p11_handle slots[KS_SLOTS]; /* the record slots, once found */
    size_t nslots;
    unsigned char *raw; /* the record the snapshot was made from */
    size_t raw_len;
    struct ks_snap *snap; /* NULL when |miss| says why there is none */
    struct sks_error miss;
    uint64_t generation; /* the cache generation it was checked at */
    int64_t checked_ms;
    bool valid, busy;
    unsigned int held; /* a version sks_keystore_hold() stopped; 0: none */
    struct sks_error held_why;
};

static void snap_put(struct ks_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    p11_key_put(s->pub.key);
    X509_free(s->pub.cert);
    free(s);
}

void sks_active_put(struct sks_active *a)
{
    /* pub is the first member: the snapshot starts where the public part does. */
    snap_put((struct ks_snap *)a);
}

static void entry_free(void *p)
{
    struct ks_entry *e = p;

    snap_put(e->snap);
    free(e->raw);
    free(e);
}

void ks_cache_clear(struct ks_cache *c)
{
    ks_map_clear(&c->entries, entry_free);
}

/* A snapshot of version |v| (ks->index_lock held). */
static sks_status snap_make(struct sks_keystore *ks, const char *name, const struct ks_record *rec,
                            const struct ks_version *v, struct ks_snap **out, struct sks_error *err)
{
    struct ks_snap *s;
    struct ks_index *idx;
    p11_handle h;
    char label[P11_LABEL_MAX];
    unsigned char pub[SKS_P256_POINT_LEN];
    sks_status st;

    st = ks_index_get(ks, &idx, err);
    if (st != SKS_OK)
        return st;
    if (ks_version_key(idx, name, v) == P11_NO_HANDLE) {
        st = ks_index_find_id(ks, idx, v->id, err);
        if (st != SKS_OK)
            return st;
    }
    if ((h = ks_version_key(idx, name, v)) == P11_NO_HANDLE)
        return sks_fail(err, SKS_ERR_NOT_FOUND,
                        "identity %s: the private key of active version %u is missing from %s",
                        name, v->n, p11_token_uri(ks->tok));
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    atomic_init(&s->refs, 1);
    st = ks_version_cert(ks, name, v, &s->pub.cert, s->pub.x5u, err);
    if (st == SKS_OK && !ks_cert_point(s->pub.cert, pub))
        st = sks_fail(err, SKS_ERR_POLICY,
                      "identity %s version %u: the certificate key is not "
                      "an uncompressed P-256 point",
                      name, v->n);
    ks_version_label(label, sizeof(label), name, v->n);
    if (st == SKS_OK)
        st = p11_key_from_handle(ks->tok, h, v->id, KS_ID_LEN, label, pub, &s->pub.key, err);
    if (st != SKS_OK) {
        snap_put(s);
        return st;
    }
    memcpy(s->id, v->id, KS_ID_LEN);
    strcpy(s->pub.spc, rec->spc);
    s->pub.version = v->n;
    *out = s;
    return SKS_OK;
}

/*
 * The record slots of |name| (index_lock held): from the index, or from a
 * search for record slots the index does not know when it knows none for
 * this name, or only slots that no longer read (|stale|).
 */
static sks_status find_record(struct sks_keystore *ks, const char *name, bool stale,
                              p11_handle slots[KS_SLOTS], size_t *n, struct sks_error *err)
{
    struct ks_index *idx;
    struct ks_data *d;
    bool fresh = ks->index == NULL || ks->index->epoch != p11_token_epoch(ks->tok);
    sks_status st;

    st = ks_index_get(ks, &idx, err);
    if (st != SKS_OK)
        return st;
    d = ks_map_get(&idx->by_name, name, strlen(name));
    if (!fresh && (d == NULL || d->nslots == 0 || stale)) {
        st = ks_index_find_records(ks, idx, err);
        if (st != SKS_OK)
            return st;
        d = ks_map_get(&idx->by_name, name, strlen(name));
    }
    if (d == NULL || d->nslots == 0)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "no identity %s on %s", name,
                        p11_token_uri(ks->tok));
    memcpy(slots, d->slot, d->nslots * sizeof(slots[0]));
    *n = d->nslots;
    return SKS_OK;
}

/* What a refresh works from and produces, copied out of the entry. */
struct refresh {
    const char *name;
    p11_handle slots[KS_SLOTS];
    size_t nslots;
    unsigned char *raw;
    size_t raw_len;
    struct ks_snap *snap; /* in: the current one (not owned); out: a new reference */
};

static sks_status read_record(struct sks_keystore *ks, struct refresh *r, struct ks_record *rec,
                              struct sks_error *err)
{
    bool stale = false;
    sks_status st;
    int attempt;

    /* The cached slots first; the index, and then a search, when they no longer read. */
    for (attempt = 0; attempt < 3; attempt++) {
        if (r->nslots > 0) {
            st = ks_slots_newest(ks, r->slots, r->nslots, &r->raw, &r->raw_len, rec, err);
            if (st != SKS_ERR_NOT_FOUND)
                return st;
            stale = true;
        }
        pthread_mutex_lock(&ks->index_lock);
        st = find_record(ks, r->name, stale, r->slots, &r->nslots, err);
        pthread_mutex_unlock(&ks->index_lock);
        if (st != SKS_OK)
            return st;
    }
    return sks_fail(err, SKS_ERR_UNAVAILABLE,
                    "the record of identity %s does not read; see sksctl list", r->name);
}

static sks_status refresh(struct sks_keystore *ks, struct refresh *r, struct sks_error *err)
{
    struct ks_record rec;
    struct ks_version *v;
    struct ks_snap *cur = r->snap;
    sks_status st;

    r->snap = NULL;
    r->raw = NULL;
    st = read_record(ks, r, &rec, err);
    if (st != SKS_OK)
        return st;
    if (rec.active == 0 || (v = ks_record_find(&rec, rec.active)) == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no active key version", r->name);
    if (cur != NULL && cur->pub.version == v->n && memcmp(cur->id, v->id, KS_ID_LEN) == 0 &&
        strcmp(cur->pub.spc, rec.spc) == 0) {
        atomic_fetch_add(&cur->refs, 1);
        r->snap = cur;
        return SKS_OK;
    }
    pthread_mutex_lock(&ks->index_lock);
    st = snap_make(ks, r->name, &rec, v, &r->snap, err);
    pthread_mutex_unlock(&ks->index_lock);
    return st;
}

/*
 * The marker's handle (from the index) and value; false when the token has
 * none or cannot be read now (then |err|, if given, says why).
 */
static bool marker_find(struct sks_keystore *ks, p11_handle *h,
                        unsigned char value[KS_MARKER_VALUE_MAX], size_t *len,
                        struct sks_error *err)
{
    struct ks_index *idx;
    bool has = false;
    sks_status st;

    *h = P11_NO_HANDLE;
    pthread_mutex_lock(&ks->index_lock);
    st = ks_index_get(ks, &idx, err);
    if (st == SKS_OK) {
        has = idx->has_marker;
        *h = idx->marker;
    }
    pthread_mutex_unlock(&ks->index_lock);
    if (st != SKS_OK)
        return false;
    return has && ks_marker_read(ks, *h, value, len);
}

/* The cache reads the marker |h| from now on, |value| its last value, read at |now|. */
static void marker_take(struct ks_cache *c, p11_handle h, const unsigned char *value, size_t len,
                        int64_t now)
{
    c->has_marker = true;
    c->marker = h;
    memcpy(c->marker_value, value, len);
    c->marker_len = len;
    c->marker_checked_ms = now;
}

/*
 * Before the first lookup: the index (one scan of the token) and the
 * marker's value.  The value is read before any record, so that a change
 * made after a record was read always shows as a new marker value.
 */
static sks_status cache_start(struct sks_keystore *ks, struct sks_error *err)
{
    struct ks_cache *c = &ks->cache;
    unsigned char value[KS_MARKER_VALUE_MAX];
    struct sks_error why;
    size_t len = 0;
    p11_handle h;
    bool has;

    sks_error_clear(&why);
    has = marker_find(ks, &h, value, &len, &why);
    if (!has && why.status != SKS_OK) {
        if (err != NULL)
            *err = why;
        return why.status;
    }
    pthread_mutex_lock(&ks->lock);
    if (!c->has_baseline) {
        c->has_baseline = true;
        c->has_marker = false;
        if (has)
            marker_take(c, h, value, len, ks_monotonic_ms());
        else
            c->marker_checked_ms = ks_monotonic_ms();
    }
    pthread_mutex_unlock(&ks->lock);
    return SKS_OK;
}

/*
 * No marker: there was none at the first lookup (the key store was empty),
 * or it could not be read (the token went away, a session was lost).
 * Entries re-read their records meanwhile, and every KS_MARKER_RETRY_MS one
 * lookup looks for the marker again, so that the cache goes back to one
 * read per max_age_ms once there is one to read.
 */
static void marker_retry(struct sks_keystore *ks, int64_t now)
{
    struct ks_cache *c = &ks->cache;
    unsigned char value[KS_MARKER_VALUE_MAX];
    struct sks_error why;
    size_t len = 0;
    p11_handle h;
    bool ok;

    if (now < c->marker_retry_ms)
        return;
    c->marker_retry_ms = now + KS_MARKER_RETRY_MS;
    c->marker_busy = true;
    pthread_mutex_unlock(&ks->lock);
    sks_error_clear(&why);
    ok = marker_find(ks, &h, value, &len, &why);
    pthread_mutex_lock(&ks->lock);
    c->marker_busy = false;
    if (!ok)
        return;
    marker_take(c, h, value, len, now);
    /* What changed while the marker was away is not known: everything once. */
    c->generation++;
}

/* Reads the marker at most every |max_age_ms|; bumps the generation when it changed. */
static void marker_poll(struct sks_keystore *ks, long max_age_ms, int64_t now)
{
    struct ks_cache *c = &ks->cache;
    unsigned char value[KS_MARKER_VALUE_MAX];
    size_t len = 0;
    p11_handle h;
    bool ok;

    if (c->marker_busy)
        return;
    if (!c->has_marker) {
        marker_retry(ks, now);
        return;
    }
    if (now - c->marker_checked_ms < max_age_ms)
        return;
    c->marker_busy = true;
    h = c->marker;
    pthread_mutex_unlock(&ks->lock);
    ok = ks_marker_read(ks, h, value, &len);
    pthread_mutex_lock(&ks->lock);
    c->marker_busy = false;
    c->marker_checked_ms = now;
    if (!ok) {
        /* Gone: per-identity polling until marker_retry() finds it; everything once now. */
        c->has_marker = false;
        c->marker_retry_ms = now + KS_MARKER_RETRY_MS;
        c->generation++;
        return;
    }
    if (len != c->marker_len || memcmp(value, c->marker_value, len) != 0) {
        memcpy(c->marker_value, value, len);
        c->marker_len = len;
        c->generation++;
    }
}

static bool entry_fresh(const struct ks_cache *c, const struct ks_entry *e, long max_age_ms,
                        int64_t now)
{
    if (!e->valid || e->generation != c->generation)
        return false;
    if (c->has_marker && now - e->checked_ms < KS_RECORD_RECHECK_MS)
        return true;
    return now - e->checked_ms < max_age_ms;
}

/* The entry's answer: a new reference to its snapshot, or its error. */
static sks_status answer(struct ks_entry *e, struct sks_active **out, struct sks_error *err)
{
    const struct sks_error *why = e->snap == NULL                   ? &e->miss
                                  : e->snap->pub.version == e->held ? &e->held_why
                                                                    : NULL;

    if (why != NULL) {
        if (err != NULL)
            *err = *why;
        return why->status;
    }
    atomic_fetch_add(&e->snap->refs, 1);
    *out = &e->snap->pub;
    return SKS_OK;
}

static struct ks_entry *entry_get(struct ks_cache *c, const char *name)
{
    struct ks_entry *e = ks_map_get(&c->entries, name, strlen(name));

    if (e != NULL)
        return e;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    strcpy(e->name, name);
    if (!ks_map_put(&c->entries, e->name, strlen(e->name), e)) {
        free(e);
        return NULL;
    }
    return e;
}

sks_status sks_keystore_active(struct sks_keystore *ks, const char *identity, long max_age_ms,
                               struct sks_active **out, struct sks_error *err)
{
    struct ks_cache *c = &ks->cache;
    struct refresh r = {identity, {P11_NO_HANDLE, P11_NO_HANDLE}, 0, NULL, 0, NULL};
    struct sks_error rerr;
    struct ks_entry *e;
    int64_t now = ks_monotonic_ms();
    uint64_t gen;
    sks_status st;

    if (!sks_identity_name_ok(identity))
        return sks_fail(err, SKS_ERR_INPUT, "\"%.80s\" is not an identity name", identity);
    pthread_mutex_lock(&ks->lock);
    if (!c->has_baseline) {
        pthread_mutex_unlock(&ks->lock);
        st = cache_start(ks, err);
        if (st != SKS_OK)
            return st;
        pthread_mutex_lock(&ks->lock);
    }
    marker_poll(ks, max_age_ms, now);
    if ((e = entry_get(c, identity)) == NULL) {
        pthread_mutex_unlock(&ks->lock);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    if (entry_fresh(c, e, max_age_ms, now) || (e->busy && e->snap != NULL)) {
        /* Fresh, or being refreshed by another thread: the current answer will do. */
        st = answer(e, out, err);
        pthread_mutex_unlock(&ks->lock);
        return st;
    }
    e->busy = true;
    gen = c->generation;
    memcpy(r.slots, e->slots, sizeof(r.slots));
    r.nslots = e->nslots;
    r.snap = e->snap;
    if (r.snap != NULL)
        atomic_fetch_add(&r.snap->refs, 1);
    pthread_mutex_unlock(&ks->lock);

    {
        struct ks_snap *held = r.snap;
        sks_error_clear(&rerr);
        st = refresh(ks, &r, &rerr);
        snap_put(held);
    }

    pthread_mutex_lock(&ks->lock);
    snap_put(e->snap);
    e->snap = st == SKS_OK ? r.snap : NULL;
    e->miss = rerr;
    memcpy(e->slots, r.slots, sizeof(e->slots));
    e->nslots = r.nslots;
    free(e->raw);
    e->raw = r.raw;
    e->raw_len = r.raw_len;
    e->generation = gen;
    e->checked_ms = now;
    e->valid = true;
    e->busy = false;
    st = answer(e, out, err);
    pthread_mutex_unlock(&ks->lock);
    return st;
}

sks_status sks_keystore_hold(struct sks_keystore *ks, const char *identity, unsigned int version,
                             const struct sks_error *why, struct sks_error *err)
{
    struct ks_entry *e;

    if (!sks_identity_name_ok(identity))
        return sks_fail(err, SKS_ERR_INPUT, "\"%.80s\" is not an identity name", identity);
    pthread_mutex_lock(&ks->lock);
    e = entry_get(&ks->cache, identity);
    if (e != NULL && why != NULL) {
        e->held = version;
        e->held_why = *why;
    } else if (e != NULL && e->held == version) {
        e->held = 0;
    }
    pthread_mutex_unlock(&ks->lock);
    return e != NULL ? SKS_OK : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
}
