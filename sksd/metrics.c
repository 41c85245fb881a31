/*
 * /metrics (Prometheus text exposition format 0.0.4) and /healthz.
 *
 * Counters are lock-free atomics bumped on the request path; the per-identity
 * gauges (active version, days until each certificate expires) are read from
 * the key store when scraped, so they always describe the token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

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

static const char *const api_names[SKSD_API_COUNT] = {"signing", "import", "other"};

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

void sksd_metrics_signing_latency(struct sksd_metrics *m, unsigned long long ns)
{
    unsigned long us = (unsigned long)(ns / 1000);
    unsigned int i;

    for (i = 0; i < SKSD_LATENCY_BUCKETS && us > latency_le_us[i]; i++)
        ;
    atomic_fetch_add_explicit(&m->latency_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
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

static void write_latency(FILE *f, struct sksd_metrics *m)
{
    unsigned long cum = 0;
    unsigned int i;

    fprintf(f, "# HELP sksd_signing_latency_seconds Time from a signing request's arrival to "
               "its signed answer.\n"
               "# TYPE sksd_signing_latency_seconds histogram\n");
    for (i = 0; i < SKSD_LATENCY_BUCKETS; i++) {
        cum += atomic_load_explicit(&m->latency_bucket[i], memory_order_relaxed);
        fprintf(f, "sksd_signing_latency_seconds_bucket{le=\"%g\"} %lu\n", latency_le_us[i] / 1e6,
                cum);
    }
    cum += atomic_load_explicit(&m->latency_bucket[i], memory_order_relaxed);
    fprintf(f, "sksd_signing_latency_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    fprintf(f, "sksd_signing_latency_seconds_sum %.9f\n",
            atomic_load_explicit(&m->latency_sum_ns, memory_order_relaxed) / 1e9);
    fprintf(f, "sksd_signing_latency_seconds_count %lu\n", cum);
}

struct scrape {
    FILE *active;
    FILE *expiry;
    time_t now;
};

/* Identity names are [A-Za-z0-9._-]: they need no escaping in a label value. */
static int scrape_identity(const struct sks_identity_info *info, void *arg)
{
    struct scrape *s = arg;
    size_t i;

    fprintf(s->active, "sksd_active_key_version{identity=\"%s\"} %u\n", info->name, info->active);
    for (i = 0; i < info->nversions; i++) {
        const struct sks_version_info *v = &info->versions[i];

        if (v->not_after == 0)
            continue;
        fprintf(s->expiry,
                "sksd_certificate_expiry_days{identity=\"%s\",version=\"%u\",state=\"%s\"} "
                "%.3f\n",
                info->name, v->version, sks_version_state_name(v->state),
                difftime(v->not_after, s->now) / 86400.0);
    }
    return 0;
}

/* The key store part: when the token cannot be read, say so in sksd_keystore_up. */
static void write_keystore(FILE *f, struct sksd *d)
{
    struct scrape s = {NULL, NULL, time(NULL)};
    char *active = NULL, *expiry = NULL;
    size_t alen = 0, elen = 0;
    struct sks_error err;
    sks_status st = SKS_ERR_SYSTEM;

    s.active = open_memstream(&active, &alen);
    s.expiry = open_memstream(&expiry, &elen);
    if (s.active != NULL && s.expiry != NULL)
        st = sks_keystore_list(d->ks, scrape_identity, &s, &err);
    if (s.active != NULL)
        fclose(s.active);
    if (s.expiry != NULL)
        fclose(s.expiry);
    fprintf(f,
            "# HELP sksd_keystore_up Whether the last scrape could read the key store.\n"
            "# TYPE sksd_keystore_up gauge\nsksd_keystore_up %d\n",
            st == SKS_OK);
    fprintf(f, "# HELP sksd_active_key_version The active key version of each identity (0: "
               "none).\n# TYPE sksd_active_key_version gauge\n");
    if (st == SKS_OK && active != NULL)
        fputs(active, f);
    fprintf(f, "# HELP sksd_certificate_expiry_days Days until the certificate of each key "
               "version expires (negative: expired).\n"
               "# TYPE sksd_certificate_expiry_days gauge\n");
    if (st == SKS_OK && expiry != NULL)
        fputs(expiry, f);
    free(active);
    free(expiry);
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
    write_latency(f, m);
    fprintf(f,
            "# HELP sksd_hsm_errors_total Signing requests that failed in the token.\n"
            "# TYPE sksd_hsm_errors_total counter\nsksd_hsm_errors_total %lu\n",
            atomic_load_explicit(&m->hsm_errors, memory_order_relaxed));
    fprintf(f,
            "# HELP sksd_inflight_requests Requests received and not yet answered.\n"
            "# TYPE sksd_inflight_requests gauge\nsksd_inflight_requests %ld\n",
            atomic_load(&d->inflight));
    write_keystore(f, d);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text_response(text, len, "text/plain; version=0.0.4; charset=utf-8");
}

struct health {
    json_t *identities;
};

static int health_identity(const struct sks_identity_info *info, void *arg)
{
    struct health *h = arg;

    if (info->active == 0)
        return 0;
    json_array_append_new(h->identities,
                          json_pack("{s:s, s:s, s:I}", "name", info->name, "spc", info->spc,
                                    "activeVersion", (json_int_t)info->active));
    return 0;
}

/*
 * 200 when the token answers, its user is logged in and the key store can be
 * listed; 503 otherwise, with the reason.
 */
unsigned int sksd_health(struct sksd *d, json_t **body)
{
    struct health h = {json_array()};
    struct sks_error err;
    sks_status st;

    sks_error_clear(&err);
    st = p11_token_login(d->tok, &err);
    if (st == SKS_OK)
        st = sks_keystore_list(d->ks, health_identity, &h, &err);
    if (st != SKS_OK) {
        json_decref(h.identities);
        *body = json_pack("{s:s, s:s, s:s}", "status", "unavailable", "token",
                          p11_token_uri(d->tok), "reason", err.msg);
        return 503;
    }
    *body = json_pack("{s:s, s:s, s:o}", "status", "ok", "token", p11_token_uri(d->tok),
                      "identities", h.identities);
    return 200;
}
