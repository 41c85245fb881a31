/*
 * The ACME client's requests (RFC 8555 6): the directory, nonces, signed
 * POSTs with the bounded badNonce retry, and problem documents turned into
 * errors.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/internal.h"

void acme_config_init(struct acme_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = ACME_TIMEOUT_MS_DEFAULT;
    cfg->poll_max_seconds = ACME_POLL_MAX_SECONDS_DEFAULT;
    cfg->bad_nonce_retries = ACME_BAD_NONCE_RETRIES_DEFAULT;
}

#define ACME_ERROR_PREFIX "urn:ietf:params:acme:error:"

/* The stable code of an ACME error type (RFC 8555 6.7). */
static const char *problem_code(const char *type)
{
    static const struct {
        const char *type, *code;
    } codes[] = {
        {ACME_ERROR_PREFIX "badNonce", "acme-bad-nonce"},
        {ACME_ERROR_PREFIX "rateLimited", "acme-rate-limited"},
        {ACME_ERROR_PREFIX "unauthorized", "acme-unauthorized"},
        {ACME_ERROR_PREFIX "externalAccountRequired", "acme-eab-required"},
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (type != NULL && strcmp(type, codes[i].type) == 0)
            return codes[i].code;
    return "acme-problem";
}

static sks_status status_of(long http)
{
    if (http == 401 || http == 403)
        return SKS_ERR_AUTH;
    if (http == 404)
        return SKS_ERR_NOT_FOUND;
    if (http == 429 || http >= 500)
        return SKS_ERR_UNAVAILABLE;
    return SKS_ERR_POLICY;
}

/* The type of the problem document in |f|, NULL when it is none. */
static const char *problem_type(const struct sks_fetched *f, json_t **doc)
{
    json_t *t;

    *doc = NULL;
    if (f->data == NULL || strncmp(f->content_type, "application/problem+json", 24) != 0)
        return NULL;
    *doc = json_loadb((const char *)f->data, f->len, 0, NULL);
    t = json_object_get(*doc, "type");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* The error for an answer whose status is not 2xx: its problem document, named. */
static sks_status problem_error(const char *url, const struct sks_fetched *f, struct sks_error *err)
{
    json_t *doc = NULL;
    const char *type = problem_type(f, &doc);
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    sks_status st;

    if (type == NULL)
        st = sks_fail_field(err, status_of(f->status), "acme-protocol", "acme",
                            "ACME server: %s: HTTP status %ld without a problem document (%s)", url,
                            f->status, f->content_type[0] ? f->content_type : "no type");
    else {
        char later[64] = "";

        if (f->retry_after >= 0)
            snprintf(later, sizeof(later), "; the server asks to retry in %ld s", f->retry_after);
        st = sks_fail_field(err, status_of(f->status), problem_code(type), "acme",
                            "ACME server: %s: %s (HTTP status %ld at %s%s)",
                            strncmp(type, ACME_ERROR_PREFIX, strlen(ACME_ERROR_PREFIX)) == 0
                                ? type + strlen(ACME_ERROR_PREFIX)
                                : type,
                            detail != NULL ? detail : "no detail", f->status, url, later);
    }
    json_decref(doc);
    return st;
}

sks_status acme_dir_url(struct acme_client *c, const char *name, const char **url,
                        struct sks_error *err)
{
    json_t *v = json_object_get(c->dir, name);

    if (!json_is_string(v))
        return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                              "ACME directory %s names no %s", c->directory_url, name);
    *url = json_string_value(v);
    return SKS_OK;
}

/* The answer's nonce, for the next request. */
static void keep_nonce(struct acme_client *c, const struct sks_fetched *f)
{
    if (f->replay_nonce[0] != '\0')
        snprintf(c->nonce, sizeof(c->nonce), "%s", f->replay_nonce);
}

/* RFC 8555 7.2: a fresh nonce from newNonce, when none is kept. */
static sks_status fresh_nonce(struct acme_client *c, struct sks_error *err)
{
    struct sks_fetch_request head = {.method = "HEAD", .any_status = true};
    struct sks_fetched f;
    const char *url;
    sks_status st;

    if (c->nonce[0] != '\0')
        return SKS_OK;
    if ((st = acme_dir_url(c, "newNonce", &url, err)) != SKS_OK)
        return st;
    if ((st = sks_fetch_request(&c->fetch, url, &head, &f, err)) != SKS_OK)
        return st;
    keep_nonce(c, &f);
    if (f.status != 200 && f.status != 204)
        st = problem_error(url, &f, err);
    else if (c->nonce[0] == '\0')
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "ACME server: %s gave no Replay-Nonce", url);
    sks_fetched_clear(&f);
    return st;
}

sks_status acme_post(struct acme_client *c, const char *url, const char *payload,
                     struct p11_key *key, bool use_jwk, const char *accept, struct sks_fetched *out,
                     struct sks_error *err)
{
    struct sks_fetch_request req = {.method = "POST",
                                    .content_type = "application/jose+json",
                                    .accept = accept,
                                    .any_status = true};
    unsigned int tries = 0;
    sks_status st;

    if (key == NULL)
        key = c->key;
    if (key == NULL)
        return sks_fail(err, SKS_ERR_INTERNAL, "no ACME account key to sign with");
    if (!use_jwk && c->kid == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "no ACME account: run sksctl acme register");
    for (;;) {
        char *jws = NULL;
        json_t *doc = NULL;
        const char *type;
        bool bad_nonce;

        struct timespec t0, t1;

        if ((st = fresh_nonce(c, err)) != SKS_OK)
            return st;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = acme_jws_es256(key, use_jwk ? NULL : c->kid, c->nonce, url, payload, &jws, err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        c->stats.signing_seconds +=
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        c->stats.requests++;
        /* A nonce is good for one request (RFC 8555 6.5). */
        c->nonce[0] = '\0';
        if (st != SKS_OK)
            return st;
        req.body = jws;
        req.body_len = strlen(jws);
        st = sks_fetch_request(&c->fetch, url, &req, out, err);
        free(jws);
        if (st != SKS_OK)
            return st;
        keep_nonce(c, out);
        if (out->status >= 200 && out->status <= 299)
            return SKS_OK;
        /* RFC 8555 6.5: a badNonce answer carries a fresh nonce to retry with. */
        type = problem_type(out, &doc);
        bad_nonce = type != NULL && strcmp(type, ACME_ERROR_PREFIX "badNonce") == 0;
        json_decref(doc);
        if (bad_nonce && tries < c->cfg.bad_nonce_retries) {
            tries++;
            sks_fetched_clear(out);
            continue;
        }
        st = problem_error(url, out, err);
        if (bad_nonce)
            sks_error_prefix(err, "after %u retries", tries);
        sks_fetched_clear(out);
        return st;
    }
}

/* The JSON object in the body of |f|. */
static sks_status body_object(const char *url, const struct sks_fetched *f, json_t **obj,
                              struct sks_error *err)
{
    json_error_t je;

    *obj = json_loadb((const char *)f->data, f->len, JSON_REJECT_DUPLICATES, &je);
    if (*obj != NULL && json_is_object(*obj))
        return SKS_OK;
    json_decref(*obj);
    *obj = NULL;
    return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                          "ACME server: %s: the answer is not a JSON object (%s)", url,
                          f->len == 0 ? "empty" : je.text);
}

sks_status acme_post_json(struct acme_client *c, const char *url, const char *payload, bool use_jwk,
                          struct sks_fetched *out, json_t **obj, struct sks_error *err)
{
    sks_status st = acme_post(c, url, payload, NULL, use_jwk, NULL, out, err);

    *obj = NULL;
    if (st == SKS_OK && (st = body_object(url, out, obj, err)) != SKS_OK)
        sks_fetched_clear(out);
    return st;
}

sks_status acme_post_object(struct acme_client *c, const char *url, json_t *payload, bool use_jwk,
                            struct sks_fetched *out, json_t **obj, struct sks_error *err)
{
    char *text = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
    sks_status st;

    json_decref(payload);
    if (text == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    st = acme_post_json(c, url, text, use_jwk, out, obj, err);
    free(text);
    return st;
}

sks_status acme_client_new(const struct acme_config *cfg, struct p11_key *account_key,
                           const char *account_url, struct acme_client **out, struct sks_error *err)
{
    struct acme_client *c = calloc(1, sizeof(*c));
    struct sks_fetched f;
    sks_status st;

    *out = NULL;
    if (c == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    c->cfg = *cfg;
    sks_fetch_opts_init(&c->fetch);
    c->fetch.max_bytes = ACME_MAX_BYTES;
    c->fetch.timeout_ms = cfg->timeout_ms;
    c->fetch.connect_timeout_ms = cfg->timeout_ms < SKS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT
                                      ? cfg->timeout_ms
                                      : SKS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT;
    c->fetch.ca_file = cfg->ca_file;
    c->fetch.allow_private = cfg->allow_private;
    c->cfg.ca_file = NULL; /* only c->fetch uses it: the caller's string (acme.h) */
    c->key = account_key != NULL ? p11_key_ref(account_key) : NULL;
    if (cfg->directory_url == NULL || (c->directory_url = strdup(cfg->directory_url)) == NULL ||
        (account_url != NULL && (c->kid = strdup(account_url)) == NULL)) {
        st = cfg->directory_url == NULL ? sks_fail(err, SKS_ERR_INPUT, "no ACME directory URL")
                                        : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto fail;
    }
    c->cfg.directory_url = c->directory_url;
    st = sks_fetch(&c->fetch, c->directory_url, &f, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "ACME directory");
        goto fail;
    }
    st = body_object(c->directory_url, &f, &c->dir, err);
    sks_fetched_clear(&f);
    if (st != SKS_OK)
        goto fail;
    if (!json_is_string(json_object_get(c->dir, "newNonce")) ||
        !json_is_string(json_object_get(c->dir, "newAccount")) ||
        !json_is_string(json_object_get(c->dir, "newOrder"))) {
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "%s is not an ACME directory (no newNonce, newAccount and newOrder)",
                            c->directory_url);
        goto fail;
    }
    *out = c;
    return SKS_OK;
fail:
    acme_client_free(c);
    return st;
}

void acme_client_set_key(struct acme_client *c, struct p11_key *account_key)
{
    p11_key_put(c->key);
    c->key = account_key != NULL ? p11_key_ref(account_key) : NULL;
}

void acme_client_free(struct acme_client *c)
{
    if (c == NULL)
        return;
    json_decref(c->dir);
    free(c->directory_url);
    free(c->kid);
    p11_key_put(c->key);
    free(c);
}

const char *acme_terms_of_service(const struct acme_client *c)
{
    return json_string_value(json_object_get(json_object_get(c->dir, "meta"), "termsOfService"));
}

bool acme_eab_required(const struct acme_client *c)
{
    return json_is_true(
        json_object_get(json_object_get(c->dir, "meta"), "externalAccountRequired"));
}

const char *acme_account_url(const struct acme_client *c)
{
    return c->kid;
}

struct p11_key *acme_client_key(const struct acme_client *c)
{
    return c->key;
}

void acme_client_stats(const struct acme_client *c, struct acme_stats *out)
{
    *out = c->stats;
}
