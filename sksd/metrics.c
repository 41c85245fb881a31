/*
 * /metrics (Prometheus text exposition format 0.0.4) and /healthz.
 *
 * Counters are lock-free atomics bumped on the request path.  The key store
 * part (identities, active versions, days until each certificate expires)
 * comes from a view of the key store that is listed again only when its
 * change marker moved: a scrape or a health check asks the token one thing,
 * whatever the number of identities, and still describes the token as it is.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "keystore/renewal.h"
#include "p11/p11.h"
#include "sksd/sksd.h"

/* Upper bounds of the latency buckets, microseconds. */
static const unsigned long latency_le_us[SKSD_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};

/* The status codes counted one by one; anything else lands in the last slot. */
static const unsigned int status_slots[SKSD_STATUS_SLOTS - 1] = {
    200, 201, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 500, 503, 0,
};

static const char *const api_names[SKSD_API_COUNT] = {"signing", "verification", "import", "other"};

static unsigned int status_slot(unsigned int status)
{
    unsigned int i;

    for (i = 0; i < SKSD_STATUS_SLOTS - 1; i++) {
        if (status_slots[i] == status)
            return i;
    }
    return SKSD_STATUS_SLOTS - 1;
}

void sksd_metrics_request(struct sksd_metrics *m, enum sksd_api api, unsigned int status)
{
    atomic_fetch_add_explicit(&m->requests[api][status_slot(status)], 1, memory_order_relaxed);
}

void sksd_metrics_observe(struct sksd_histogram *h, unsigned long long ns)
{
    unsigned long us = (unsigned long)(ns / 1000);
    unsigned int i;

    for (i = 0; i < SKSD_LATENCY_BUCKETS && us > latency_le_us[i]; i++)
        ;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static void write_requests(FILE *f, struct sksd_metrics *m)
{
    unsigned int a, s;

    fprintf(f, "# HELP sksd_requests_total HTTP requests answered, by API and status code.\n"
               "# TYPE sksd_requests_total counter\n");
    for (a = 0; a < SKSD_API_COUNT; a++) {
        for (s = 0; s < SKSD_STATUS_SLOTS; s++) {
            unsigned long n = atomic_load_explicit(&m->requests[a][s], memory_order_relaxed);

            if (n == 0)
                continue;
            if (s < SKSD_STATUS_SLOTS - 1)
                fprintf(f, "sksd_requests_total{api=\"%s\",code=\"%u\"} %lu\n", api_names[a],
                        status_slots[s], n);
            else
                fprintf(f, "sksd_requests_total{api=\"%s\",code=\"other\"} %lu\n", api_names[a], n);
        }
    }
}

static void write_histogram(FILE *f, const char *name, const char *help, struct sksd_histogram *h)
{
    unsigned long cum = 0;
    unsigned int i;

    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (i = 0; i < SKSD_LATENCY_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        fprintf(f, "%s_bucket{le=\"%g\"} %lu\n", name, latency_le_us[i] / 1e6, cum);
    }
    cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    fprintf(f, "%s_bucket{le=\"+Inf\"} %lu\n", name, cum);
    fprintf(f, "%s_sum %.9f\n", name, atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
    fprintf(f, "%s_count %lu\n", name, cum);
}

static void write_signer(FILE *f, struct sksd *d)
{
    struct sksd_metrics *m = &d->metrics;
    struct sksd_pool_gauges g;

    sksd_pool_gauges(d->signer, &g);
    fprintf(f,
            "# HELP sksd_hsm_sessions Token sessions that may sign at once (hsm_sessions).\n"
            "# TYPE sksd_hsm_sessions gauge\nsksd_hsm_sessions %u\n"
            "# HELP sksd_hsm_sessions_busy Token sessions signing now.\n"
            "# TYPE sksd_hsm_sessions_busy gauge\nsksd_hsm_sessions_busy %u\n"
            "# HELP sksd_sign_queue_depth Signing requests waiting for a token session.\n"
            "# TYPE sksd_sign_queue_depth gauge\nsksd_sign_queue_depth %zu\n"
            "# HELP sksd_sign_queue_limit Signing requests that may wait (sign_queue).\n"
            "# TYPE sksd_sign_queue_limit gauge\nsksd_sign_queue_limit %zu\n"
            "# HELP sksd_sign_rejected_total Signing requests refused with 503 because the "
            "queue was full.\n"
            "# TYPE sksd_sign_rejected_total counter\nsksd_sign_rejected_total %lu\n"
            "# HELP sksd_sign_timeouts_total Signing requests answered 503 because they were not "
            "signed within sign_timeout_ms.\n"
            "# TYPE sksd_sign_timeouts_total counter\nsksd_sign_timeouts_total %lu\n",
            g.sessions, g.busy, g.queued, g.depth,
            atomic_load_explicit(&m->sign_rejected, memory_order_relaxed),
            atomic_load_explicit(&m->sign_timeouts, memory_order_relaxed));
}

/*
 * The figures of one fetch cache as sksd_NAME_*: |holds| says what its
 * entries are ("Certificate chains"), |fetched| what it fetches ("x5u").
 */
static void write_cache(FILE *f, const char *name, const char *holds, const char *fetched,
                        const struct sks_fetch_cache_stats *cs)
{
    fprintf(f,
            "# HELP sksd_%s_cache_entries %s in the %s cache.\n"
            "# TYPE sksd_%s_cache_entries gauge\nsksd_%s_cache_entries %zu\n"
            "# HELP sksd_%s_cache_bytes What the %s cache holds, bytes as it counts them.\n"
            "# TYPE sksd_%s_cache_bytes gauge\nsksd_%s_cache_bytes %zu\n"
            "# HELP sksd_%s_fetches_total %s fetches made.\n"
            "# TYPE sksd_%s_fetches_total counter\nsksd_%s_fetches_total %llu\n"
            "# HELP sksd_%s_cache_hits_total %s lookups answered from the cache, by kind.\n"
            "# TYPE sksd_%s_cache_hits_total counter\n"
            "sksd_%s_cache_hits_total{kind=\"fresh\"} %llu\n"
            "sksd_%s_cache_hits_total{kind=\"stale\"} %llu\n"
            "sksd_%s_cache_hits_total{kind=\"negative\"} %llu\n"
            "# HELP sksd_%s_cache_evictions_total %s dropped for the cache's bounds.\n"
            "# TYPE sksd_%s_cache_evictions_total counter\nsksd_%s_cache_evictions_total %llu\n",
            name, holds, fetched, name, name, cs->entries, name, fetched, name, name, cs->bytes,
            name, fetched, name, name, cs->fetches, name, fetched, name, name, cs->hits, name,
            cs->stale_hits, name, cs->negative_hits, name, holds, name, name, cs->evictions);
}

/* The verification pool, its answers and its caches; nothing without [verify]. */
static void write_verifier(FILE *f, struct sksd *d)
{
    static const char *const verstats[3] = {"TN-Validation-Passed", "TN-Validation-Failed",
                                            "No-TN-Validation"};
    struct sksd_metrics *m = &d->metrics;
    struct sks_fetch_cache_stats x5u, crl;
    struct sksd_pool_gauges g;
    unsigned int i;
    bool crls;

    if (d->verifier == NULL)
        return;
    sksd_pool_gauges(d->verifier, &g);
    crls = sksd_verify_cache_stats(d, &x5u, &crl);
    fprintf(f, "# HELP sksd_verifications_total Identity headers judged, by verstat.\n"
               "# TYPE sksd_verifications_total counter\n");
    for (i = 0; i < 3; i++)
        fprintf(f, "sksd_verifications_total{verstat=\"%s\"} %lu\n", verstats[i],
                atomic_load_explicit(&m->verstat[i], memory_order_relaxed));
    fprintf(f,
            "# HELP sksd_verify_threads Verification threads ([verify] threads).\n"
            "# TYPE sksd_verify_threads gauge\nsksd_verify_threads %u\n"
            "# HELP sksd_verify_threads_busy Verification threads at work now.\n"
            "# TYPE sksd_verify_threads_busy gauge\nsksd_verify_threads_busy %u\n"
            "# HELP sksd_verify_queue_depth Verification requests waiting for a thread.\n"
            "# TYPE sksd_verify_queue_depth gauge\nsksd_verify_queue_depth %zu\n"
            "# HELP sksd_verify_rejected_total Verification requests refused with 503 because "
            "the queue was full.\n"
            "# TYPE sksd_verify_rejected_total counter\nsksd_verify_rejected_total %lu\n"
            "# HELP sksd_verify_timeouts_total Verification requests answered 503 because they "
            "were not done within [verify] timeout_ms.\n"
            "# TYPE sksd_verify_timeouts_total counter\nsksd_verify_timeouts_total %lu\n",
            g.sessions, g.busy, g.queued,
            atomic_load_explicit(&m->verify_rejected, memory_order_relaxed),
            atomic_load_explicit(&m->verify_timeouts, memory_order_relaxed));
    write_cache(f, "x5u", "Certificate chains", "x5u", &x5u);
    if (crls)
        write_cache(f, "crl", "CRLs", "CRL", &crl);
    write_histogram(f, "sksd_verification_duration_seconds",
                    "Verification requests, from arrival to answer.", &m->verifying);
}

/* ---- the key store as /metrics and /healthz show it --------------------------- */

/*
 * Per-identity series and the /healthz list stop at this many identities:
 * past it every scrape would cost what the number of identities does, and a
 * series per identity is no way to watch ten thousand of them.  The summary
 * gauges stand for them then.
 */
#define LISTED_IDENTITIES_MAX 100
/* A token without a change marker tells of no change: the view is listed again after this. */
#define UNMARKED_VIEW_MS 5000

struct view_version {
    unsigned int version;
    enum sks_version_state state;
    time_t not_after;
};

struct view_identity {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    char spc[SKS_SPC_MAX + 1];
    unsigned int active;
    size_t nversions;
    struct view_version *versions;
};

/*
 * One list of the key store, kept until the change marker moves, so that a
 * scrape or a health check costs one attribute read whatever the number of
 * identities.  Certificate expiry is kept as a time and turned into days at
 * each scrape.
 */
struct view {
    struct sks_keystore *ks;
    sks_status status; /* of the list */
    struct sks_error err;
    unsigned char marker[SKS_MARKER_MAX]; /* read before the list */
    size_t marker_len;
    unsigned long long listed_ns;
    size_t identities, active;
    time_t soonest; /* the earliest expiry of an active version; 0: none */
    bool listed;    /* |ids| holds every identity */
    struct view_identity *ids;
    size_t nids;
    /* The renewal records (sksctl acme renew), read with the list; only while |listed|. */
    struct sks_renewal *renewals;
    size_t nrenewals;
};

/*
 * sksd runs one daemon per process (main.c): one view.  |lock| guards |cur|
 * and is held while it is read; |list_lock| lets one thread list at a time
 * while the others keep answering from the view they have.
 */
static struct {
    pthread_mutex_t lock;
    pthread_mutex_t list_lock;
    struct view *cur;
} views = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, NULL};

/* Drops the per-identity part: past LISTED_IDENTITIES_MAX only the counts are kept. */
static void view_unlist(struct view *v)
{
    size_t i;

    free(v->renewals);
    v->renewals = NULL;
    v->nrenewals = 0;
    for (i = 0; i < v->nids; i++)
        free(v->ids[i].versions);
    free(v->ids);
    v->ids = NULL;
    v->nids = 0;
    v->listed = false;
}

static void view_free(struct view *v)
{
    if (v == NULL)
        return;
    view_unlist(v);
    free(v);
}

/* Identity names are [A-Za-z0-9._-]: they need no escaping in a label value. */
static int view_identity(const struct sks_identity_info *info, void *arg)
{
    struct view *v = arg;
    struct view_identity *id;
    size_t i;

    v->identities++;
    v->active += info->active != 0;
    for (i = 0; i < info->nversions; i++) {
        const struct sks_version_info *ver = &info->versions[i];

        if (ver->state == SKS_VERSION_ACTIVE && ver->not_after != 0 &&
            (v->soonest == 0 || ver->not_after < v->soonest))
            v->soonest = ver->not_after;
    }
    if (!v->listed)
        return 0;
    if (v->nids == LISTED_IDENTITIES_MAX) {
        view_unlist(v);
        return 0;
    }
    id = &v->ids[v->nids];
    memset(id, 0, sizeof(*id));
    snprintf(id->name, sizeof(id->name), "%s", info->name);
    snprintf(id->spc, sizeof(id->spc), "%s", info->spc);
    id->active = info->active;
    if (info->nversions > 0 &&
        (id->versions = calloc(info->nversions, sizeof(*id->versions))) == NULL) {
        view_unlist(v);
        return 0;
    }
    for (i = 0; i < info->nversions; i++) {
        if (info->versions[i].not_after == 0)
            continue;
        id->versions[id->nversions++] = (struct view_version){
            info->versions[i].version, info->versions[i].state, info->versions[i].not_after};
    }
    v->nids++;
    return 0;
}

/* A renewal record into the view; past LISTED_IDENTITIES_MAX none are kept. */
static void view_renewal(const struct sks_renewal *r, void *arg)
{
    struct view *v = arg;

    /* The name goes into label values as it is: only a valid identity name is taken. */
    if (!v->listed || v->nrenewals == LISTED_IDENTITIES_MAX || !sks_identity_name_ok(r->identity))
        return;
    if (v->renewals == NULL &&
        (v->renewals = calloc(LISTED_IDENTITIES_MAX, sizeof(*v->renewals))) == NULL)
        return;
    v->renewals[v->nrenewals++] = *r;
}

/* A new view from a list of the key store; NULL when out of memory. */
static struct view *view_make(struct sks_keystore *ks, const unsigned char *marker, size_t len)
{
    struct view *v = calloc(1, sizeof(*v));

    if (v == NULL)
        return NULL;
    v->ks = ks;
    memcpy(v->marker, marker, len);
    v->marker_len = len;
    v->listed = (v->ids = calloc(LISTED_IDENTITIES_MAX, sizeof(*v->ids))) != NULL;
    sks_error_clear(&v->err);
    v->status = sks_keystore_list(ks, view_identity, v, &v->err);
    if (v->status == SKS_OK && v->listed)
        v->status = sks_renewal_each(ks, view_renewal, v, &v->err);
    v->listed_ns = sksd_now_ns();
    return v;
}

static bool view_fresh(const struct view *v, struct sks_keystore *ks, const unsigned char *marker,
                       size_t len)
{
    if (v == NULL || v->ks != ks || v->status != SKS_OK || v->marker_len != len ||
        memcmp(v->marker, marker, len) != 0)
        return false;
    return len > 0 || sksd_now_ns() - v->listed_ns < UNMARKED_VIEW_MS * 1000000ULL;
}

/*
 * Calls |use| with the current view (views.lock held), listing the key store
 * first only when the change marker moved since the view was made.  Fails
 * when the token does not answer the marker read or the list failed.
 */
static sks_status view_use(struct sksd *d, void (*use)(const struct view *, void *), void *arg,
                           struct sks_error *err)
{
    unsigned char marker[SKS_MARKER_MAX];
    size_t len = 0;
    struct view *made;
    sks_status st;

    st = sks_keystore_marker(d->ks, marker, &len, err);
    if (st != SKS_OK)
        return st;
    pthread_mutex_lock(&views.lock);
    if (!view_fresh(views.cur, d->ks, marker, len)) {
        bool busy = pthread_mutex_trylock(&views.list_lock) != 0;

        if (!busy || views.cur == NULL || views.cur->status != SKS_OK) {
            /* Nothing to answer from while another thread lists: wait for its view. */
            pthread_mutex_unlock(&views.lock);
            if (busy)
                pthread_mutex_lock(&views.list_lock);
            pthread_mutex_lock(&views.lock);
            made = NULL;
            if (!view_fresh(views.cur, d->ks, marker, len)) {
                pthread_mutex_unlock(&views.lock);
                made = view_make(d->ks, marker, len);
                pthread_mutex_lock(&views.lock);
            }
            if (made != NULL) {
                view_free(views.cur);
                views.cur = made;
            }
            pthread_mutex_unlock(&views.list_lock);
        }
    }
    if (views.cur == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    } else if ((st = views.cur->status) != SKS_OK) {
        if (err != NULL)
            *err = views.cur->err;
    } else {
        use(views.cur, arg);
    }
    pthread_mutex_unlock(&views.lock);
    return st;
}

static void write_keystore_up(FILE *f, int up)
{
    fprintf(f,
            "# HELP sksd_keystore_up Whether the last scrape could read the key store.\n"
            "# TYPE sksd_keystore_up gauge\nsksd_keystore_up %d\n",
            up);
}

/* A stable code is [a-z0-9-]; anything else is left out of a label value. */
static const char *label_safe(const char *code, char *buf, size_t size)
{
    size_t n = 0;

    for (; *code != '\0' && n + 1 < size; code++)
        if ((*code >= 'a' && *code <= 'z') || (*code >= '0' && *code <= '9') || *code == '-' ||
            *code == '_' || *code == '.')
            buf[n++] = *code;
    buf[n] = '\0';
    return buf;
}

/* The last renewal attempt per identity (sksctl acme renew's records). */
static void scrape_renewals(FILE *f, const struct view *v)
{
    char code[SKS_RENEWAL_CODE_MAX + 1];
    size_t i;

    fprintf(f, "# HELP sksd_renewal_last_result The result of the last renewal attempt of each "
               "identity (ok, failed, running), with the failure's code.\n"
               "# TYPE sksd_renewal_last_result gauge\n");
    for (i = 0; i < v->nrenewals; i++)
        fprintf(f, "sksd_renewal_last_result{identity=\"%s\",result=\"%s\",code=\"%s\"} 1\n",
                v->renewals[i].identity, sks_renewal_result_name(v->renewals[i].result),
                label_safe(v->renewals[i].code, code, sizeof(code)));
    fprintf(f, "# HELP sksd_renewal_last_attempt_timestamp_seconds When the last renewal attempt "
               "of each identity started.\n"
               "# TYPE sksd_renewal_last_attempt_timestamp_seconds gauge\n");
    for (i = 0; i < v->nrenewals; i++)
        fprintf(f, "sksd_renewal_last_attempt_timestamp_seconds{identity=\"%s\"} %lld\n",
                v->renewals[i].identity, (long long)v->renewals[i].attempt);
    fprintf(f, "# HELP sksd_renewal_failures Failed renewal attempts of each identity in a row.\n"
               "# TYPE sksd_renewal_failures gauge\n");
    for (i = 0; i < v->nrenewals; i++)
        fprintf(f, "sksd_renewal_failures{identity=\"%s\"} %u\n", v->renewals[i].identity,
                v->renewals[i].failures);
    fprintf(f, "# HELP sksd_renewal_next_attempt_timestamp_seconds No renewal attempt of each "
               "identity before this time (its back-off; 0: none).\n"
               "# TYPE sksd_renewal_next_attempt_timestamp_seconds gauge\n");
    for (i = 0; i < v->nrenewals; i++)
        fprintf(f, "sksd_renewal_next_attempt_timestamp_seconds{identity=\"%s\"} %lld\n",
                v->renewals[i].identity, (long long)v->renewals[i].next);
}

struct scrape {
    FILE *f;
    time_t now;
};

static void scrape_view(const struct view *v, void *arg)
{
    struct scrape *s = arg;
    size_t i, j;

    write_keystore_up(s->f, 1);
    fprintf(s->f,
            "# HELP sksd_identities Identities in the key store.\n"
            "# TYPE sksd_identities gauge\nsksd_identities %zu\n"
            "# HELP sksd_identities_without_active_version Identities that cannot sign.\n"
            "# TYPE sksd_identities_without_active_version gauge\n"
            "sksd_identities_without_active_version %zu\n",
            v->identities, v->identities - v->active);
    fprintf(s->f,
            "# HELP sksd_identities_listed Whether each identity has its own series (at most "
            "%d identities).\n# TYPE sksd_identities_listed gauge\nsksd_identities_listed %d\n",
            LISTED_IDENTITIES_MAX, v->listed);
    fprintf(s->f, "# HELP sksd_certificate_expiry_days_min Days until the first certificate of "
                  "an active version expires (negative: expired).\n"
                  "# TYPE sksd_certificate_expiry_days_min gauge\n");
    if (v->soonest != 0)
        fprintf(s->f, "sksd_certificate_expiry_days_min %.3f\n",
                difftime(v->soonest, s->now) / 86400.0);
    fprintf(s->f, "# HELP sksd_active_key_version The active key version of each identity (0: "
                  "none).\n# TYPE sksd_active_key_version gauge\n");
    for (i = 0; i < v->nids; i++)
        fprintf(s->f, "sksd_active_key_version{identity=\"%s\"} %u\n", v->ids[i].name,
                v->ids[i].active);
    fprintf(s->f, "# HELP sksd_certificate_expiry_days Days until the certificate of each key "
                  "version expires (negative: expired).\n"
                  "# TYPE sksd_certificate_expiry_days gauge\n");
    for (i = 0; i < v->nids; i++) {
        for (j = 0; j < v->ids[i].nversions; j++) {
            const struct view_version *ver = &v->ids[i].versions[j];

            fprintf(s->f,
                    "sksd_certificate_expiry_days{identity=\"%s\",version=\"%u\",state=\"%s\"} "
                    "%.3f\n",
                    v->ids[i].name, ver->version, sks_version_state_name(ver->state),
                    difftime(ver->not_after, s->now) / 86400.0);
        }
    }
    scrape_renewals(s->f, v);
}

/* The key store part: when the token cannot be read, say so in sksd_keystore_up. */
static void write_keystore(FILE *f, struct sksd *d)
{
    struct scrape s = {f, time(NULL)};
    struct sks_error err;

    if (view_use(d, scrape_view, &s, &err) == SKS_OK)
        return;
    write_keystore_up(f, 0);
}

static struct MHD_Response *text_response(char *text, size_t len, const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

    if (resp == NULL) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return resp;
}

struct MHD_Response *sksd_metrics_response(struct sksd *d)
{
    struct sksd_metrics *m = &d->metrics;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return NULL;
    write_requests(f, m);
    write_histogram(f, "sksd_signing_latency_seconds",
                    "Time from a signing request's arrival to its signed answer.", &m->signing);
    write_histogram(f, "sksd_hsm_sign_latency_seconds",
                    "Time the token takes to make one signature (hash, C_SignInit, C_Sign).",
                    &m->hsm);
    write_signer(f, d);
    write_verifier(f, d);
    fprintf(f,
            "# HELP sksd_hsm_errors_total Signing requests that failed in the token.\n"
            "# TYPE sksd_hsm_errors_total counter\nsksd_hsm_errors_total %lu\n",
            atomic_load_explicit(&m->hsm_errors, memory_order_relaxed));
    fprintf(f,
            "# HELP sksd_inflight_requests Requests received and not yet answered.\n"
            "# TYPE sksd_inflight_requests gauge\nsksd_inflight_requests %ld\n",
            atomic_load(&d->inflight));
    write_keystore(f, d);
    sksd_crl_watch_metrics(d, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text_response(text, len, "text/plain; version=0.0.4; charset=utf-8");
}

struct health {
    json_t *body;
};

static void health_view(const struct view *v, void *arg)
{
    struct health *h = arg;
    json_t *ids;
    size_t i;

    json_object_set_new(h->body, "identityCount", json_integer((json_int_t)v->identities));
    json_object_set_new(h->body, "activeIdentityCount", json_integer((json_int_t)v->active));
    if (!v->listed)
        return;
    ids = json_array();
    for (i = 0; i < v->nids; i++) {
        if (v->ids[i].active == 0)
            continue;
        json_array_append_new(ids, json_pack("{s:s, s:s, s:I}", "name", v->ids[i].name, "spc",
                                             v->ids[i].spc, "activeVersion",
                                             (json_int_t)v->ids[i].active));
    }
    json_object_set_new(h->body, "identities", ids);
}

/*
 * 200 when the token answers, its user is logged in and the key store could
 * be listed; 503 otherwise, with the reason.  The token is asked one thing
 * (the change marker); the key store is listed again only after a change.
 */
unsigned int sksd_health(struct sksd *d, json_t **body)
{
    struct health h = {json_pack("{s:s, s:s}", "status", "ok", "token", p11_token_uri(d->tok))};
    struct sks_error err;
    sks_status st;

    sks_error_clear(&err);
    st = p11_token_login(d->tok, &err);
    if (st == SKS_OK)
        st = view_use(d, health_view, &h, &err);
    if (st != SKS_OK) {
        json_decref(h.body);
        *body = json_pack("{s:s, s:s, s:s}", "status", "unavailable", "token",
                          p11_token_uri(d->tok), "reason", err.msg);
        return 503;
    }
    *body = h.body;
    return 200;
}
