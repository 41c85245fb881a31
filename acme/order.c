/*
 * An order from newOrder to the certificate chain (RFC 8555 7.4, 7.5), and
 * revocation (7.6).  The identifiers and the challenge answered are the
 * caller's: pebble's "dns" with "{}", SHAKEN's "TNAuthList" with
 * tkauth-01's {"atc": TOKEN} take the same path.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/internal.h"
#include "profile/tnauthlist.h"
#include "shaken/b64url.h"
#include "shaken/rules.h"

static time_t monotonic_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static const char *status_of(const json_t *obj)
{
    const char *s = json_string_value(json_object_get(obj, "status"));

    return s != NULL ? s : "";
}

/* The error an "invalid" object carries (RFC 8555 7.1.4, 8: "error", a problem). */
static sks_status invalid_error(const char *what, const char *url, const json_t *obj,
                                struct sks_error *err)
{
    const json_t *e = json_object_get(obj, "error");
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *detail = json_string_value(json_object_get(e, "detail"));

    /* An authorization's error is in the challenge that failed. */
    if (e == NULL) {
        size_t i;
        json_t *ch;

        json_array_foreach(json_object_get(obj, "challenges"), i, ch)
        {
            if ((e = json_object_get(ch, "error")) != NULL) {
                type = json_string_value(json_object_get(e, "type"));
                detail = json_string_value(json_object_get(e, "detail"));
                break;
            }
        }
    }
    return sks_fail_field(err, SKS_ERR_POLICY, "acme-invalid", "acme",
                          "ACME server: the %s %s is invalid: %s: %s", what, url,
                          type != NULL ? type : "no error type", detail != NULL ? detail : "");
}

/*
 * POST-as-GET |url| until its status is one of |done| (space-separated),
 * waiting between polls as Retry-After says (1 s when absent), within
 * |deadline| (monotonic).  "invalid" ends it with the object's error.
 */
static sks_status poll(struct acme_client *c, const char *what, const char *url, const char *done,
                       time_t deadline, json_t **obj, struct sks_error *err)
{
    for (;;) {
        struct sks_fetched f = {0};
        char padded[64];
        long wait;
        sks_status st = acme_post_json(c, url, NULL, false, &f, obj, err);

        if (st != SKS_OK)
            return st;
        wait = f.retry_after >= 0 ? f.retry_after : 1;
        sks_fetched_clear(&f);
        snprintf(padded, sizeof(padded), " %s ", status_of(*obj));
        if (strstr(done, padded) != NULL)
            return SKS_OK;
        if (strcmp(status_of(*obj), "invalid") == 0) {
            st = invalid_error(what, url, *obj, err);
            json_decref(*obj);
            *obj = NULL;
            return st;
        }
        json_decref(*obj);
        *obj = NULL;
        if (monotonic_now() + wait > deadline)
            return sks_fail_field(err, SKS_ERR_UNAVAILABLE, "acme-timeout", "acme",
                                  "ACME server: the %s %s is still not done after the %ld s "
                                  "allowed (next poll in %ld s)",
                                  what, url, c->cfg.poll_max_seconds, wait);
        sleep((unsigned int)wait);
    }
}

/* The answer to the one challenge of |req|'s type in |authz|, POSTed. */
static sks_status answer(struct acme_client *c, const struct acme_order_request *req,
                         const char *authz_url, const json_t *authz, struct sks_error *err)
{
    const json_t *challenge = NULL, *ch;
    char offered[256] = "";
    char *payload = NULL;
    json_t *obj = NULL;
    struct sks_fetched f = {0};
    const char *url;
    size_t i;
    sks_status st;

    json_array_foreach(json_object_get(authz, "challenges"), i, ch)
    {
        const char *type = json_string_value(json_object_get(ch, "type"));
        size_t used = strlen(offered);

        if (type != NULL && strcmp(type, req->challenge_type) == 0)
            challenge = ch;
        else if (type != NULL)
            snprintf(offered + used, sizeof(offered) - used, "%s%s", used ? ", " : "", type);
    }
    if (challenge == NULL)
        return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                              "ACME server: the authorization %s offers no %s challenge (only %s)",
                              authz_url, req->challenge_type, offered[0] ? offered : "none");
    url = json_string_value(json_object_get(challenge, "url"));
    if (url == NULL)
        return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                              "ACME server: the %s challenge of %s has no URL", req->challenge_type,
                              authz_url);
    if (strcmp(status_of(challenge), "pending") != 0)
        return SKS_OK; /* already answered: processing, valid or invalid, which the poll reads */
    if (req->answer_fn != NULL)
        st = req->answer_fn(req->answer_arg, authz, challenge, &payload, err);
    else
        st = (payload = strdup(req->answer != NULL ? req->answer : "{}")) != NULL
                 ? SKS_OK
                 : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (st == SKS_OK)
        st = acme_post_json(c, url, payload, false, &f, &obj, err);
    sks_fetched_clear(&f);
    json_decref(obj);
    free(payload);
    return st;
}

/* Every authorization of |order|: answered, then polled until valid. */
static sks_status authorize(struct acme_client *c, const struct acme_order_request *req,
                            const json_t *order, time_t deadline, struct sks_error *err)
{
    const json_t *authzs = json_object_get(order, "authorizations");
    const json_t *a;
    size_t i;

    if (!json_is_array(authzs) || json_array_size(authzs) == 0)
        return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                              "ACME server: the order has no authorizations");
    json_array_foreach(authzs, i, a)
    {
        const char *url = json_string_value(a);
        struct sks_fetched f = {0};
        json_t *authz = NULL;
        sks_status st;

        if (url == NULL)
            return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                                  "ACME server: an authorization of the order is not a URL");
        st = acme_post_json(c, url, NULL, false, &f, &authz, err);
        sks_fetched_clear(&f);
        if (st == SKS_OK && strcmp(status_of(authz), "valid") != 0)
            st = strcmp(status_of(authz), "invalid") == 0
                     ? invalid_error("authorization", url, authz, err)
                     : answer(c, req, url, authz, err);
        json_decref(authz);
        authz = NULL;
        if (st == SKS_OK)
            st = poll(c, "authorization", url, " valid ", deadline, &authz, err);
        json_decref(authz);
        if (st != SKS_OK)
            return st;
    }
    return SKS_OK;
}

/* The chain at the order's certificate URL: PEM, leaf first, that parses. */
static sks_status download(struct acme_client *c, const char *url, char **chain, size_t *len,
                           struct sks_error *err)
{
    struct sks_fetched f = {0};
    BIO *b = NULL;
    X509 *x = NULL;
    sks_status st =
        acme_post(c, url, NULL, NULL, false, "application/pem-certificate-chain", &f, err);

    if (st != SKS_OK)
        return st;
    if (strncmp(f.content_type, "application/pem-certificate-chain", 33) != 0) {
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "ACME server: the certificate %s is %s, not "
                            "application/pem-certificate-chain",
                            url, f.content_type[0] ? f.content_type : "of no content type");
    } else if ((b = BIO_new_mem_buf(f.data, (int)f.len)) == NULL ||
               (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "ACME server: the certificate %s is not a PEM certificate chain", url);
    } else {
        *chain = (char *)f.data;
        *len = f.len;
        f.data = NULL;
    }
    X509_free(x);
    BIO_free(b);
    sks_fetched_clear(&f);
    return st;
}

sks_status acme_order_certificate(struct acme_client *c, const struct acme_order_request *req,
                                  char **chain, size_t *chain_len, char **order_url,
                                  struct sks_error *err)
{
    time_t deadline = monotonic_now() + c->cfg.poll_max_seconds;
    json_t *payload = NULL, *ids = json_array(), *order = NULL;
    struct sks_fetched f = {0};
    char *url = NULL, *csr64 = NULL;
    const char *new_order, *finalize, *cert;
    sks_status st;

    *chain = NULL;
    *chain_len = 0;
    if (order_url != NULL)
        *order_url = NULL;
    if (ids == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    for (size_t i = 0; i < req->nidentifiers; i++)
        json_array_append_new(ids, json_pack("{s:s, s:s}", "type", req->identifiers[i].type,
                                             "value", req->identifiers[i].value));
    payload = json_pack("{s:o}", "identifiers", ids);
    if (req->resume_url != NULL) {
        json_decref(payload);
        if ((url = strdup(req->resume_url)) == NULL)
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        else
            st = acme_post_json(c, url, NULL, false, &f, &order, err);
    } else {
        st = acme_dir_url(c, "newOrder", &new_order, err);
        if (st == SKS_OK)
            st = acme_post_object(c, new_order, payload, false, &f, &order, err);
        else
            json_decref(payload);
        if (st == SKS_OK && (f.location == NULL || (url = strdup(f.location)) == NULL))
            st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                                "ACME server: %s gave no order URL (Location)", new_order);
        if (st == SKS_OK && req->created != NULL)
            st = req->created(req->created_arg, url, err);
    }
    sks_fetched_clear(&f);
    if (st == SKS_OK && strcmp(status_of(order), "invalid") == 0)
        st = invalid_error("order", url, order, err);
    if (st == SKS_OK && strcmp(status_of(order), "pending") == 0)
        st = authorize(c, req, order, deadline, err);
    json_decref(order);
    order = NULL;
    /* RFC 8555 7.4: finalize once every authorization is valid and the order is "ready". */
    if (st == SKS_OK)
        st = poll(c, "order", url, " ready valid processing ", deadline, &order, err);
    if (st == SKS_OK && strcmp(status_of(order), "ready") == 0) {
        if ((finalize = json_string_value(json_object_get(order, "finalize"))) == NULL) {
            st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                                "ACME server: the order %s has no finalize URL", url);
        } else if ((csr64 = malloc(b64url_encoded_len(req->csr_len) + 1)) == NULL) {
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        } else {
            json_t *done = NULL;

            b64url_encode(req->csr_der, req->csr_len, csr64);
            st = acme_post_object(c, finalize, json_pack("{s:s}", "csr", csr64), false, &f, &done,
                                  err);
            sks_fetched_clear(&f);
            json_decref(done);
        }
    }
    json_decref(order);
    order = NULL;
    if (st == SKS_OK)
        st = poll(c, "order", url, " valid ", deadline, &order, err);
    if (st == SKS_OK && (cert = json_string_value(json_object_get(order, "certificate"))) == NULL)
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "ACME server: the valid order %s names no certificate", url);
    if (st == SKS_OK)
        st = download(c, cert, chain, chain_len, err);
    json_decref(order);
    free(csr64);
    if (st == SKS_OK && order_url != NULL)
        *order_url = url;
    else
        free(url);
    return st;
}

sks_status acme_tnauthlist_value(const char *spc, char **value, struct sks_error *err)
{
    struct sks_tn_entry entry = {SKS_TN_SPC, spc, 0};
    unsigned char *der = NULL;
    size_t len = 0;
    sks_status st;

    *value = NULL;
    if (!sks_spc_valid(spc))
        return sks_fail(err, SKS_ERR_INPUT, "spc: \"%.80s\" is not 1-%d of 0-9 and A-Z",
                        spc != NULL ? spc : "", SKS_SPC_MAX);
    if ((st = sks_tnauthlist_encode(&entry, 1, &der, &len, err)) != SKS_OK)
        return st;
    if ((*value = malloc(b64url_encoded_len(len) + 1)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    else
        b64url_encode(der, len, *value);
    OPENSSL_free(der);
    return st;
}

int acme_reason_code(const char *name)
{
    /* RFC 5280 5.3.1; 7 is not used. */
    static const char *const names[] = {
        "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
        "superseded",    "cessationOfOperation", "certificateHold", NULL,
        "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
    };

    for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

sks_status acme_revoke(struct acme_client *c, X509 *cert, int reason, struct p11_key *cert_key,
                       struct sks_error *err)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    char *der64 = NULL, *text = NULL;
    struct sks_fetched f = {0};
    const char *url;
    json_t *payload;
    sks_status st = acme_dir_url(c, "revokeCert", &url, err);

    if (st != SKS_OK) {
        OPENSSL_free(der);
        return st;
    }
    if (len <= 0 || (der64 = malloc(b64url_encoded_len((size_t)len) + 1)) == NULL) {
        OPENSSL_free(der);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot encode the certificate");
    }
    b64url_encode(der, (size_t)len, der64);
    payload = json_pack("{s:s, s:i}", "certificate", der64, "reason", reason);
    if (payload == NULL || (text = json_dumps(payload, JSON_COMPACT)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (st == SKS_OK)
        st = acme_post(c, url, text, cert_key, cert_key != NULL, NULL, &f, err);
    sks_fetched_clear(&f);
    json_decref(payload);
    free(text);
    free(der64);
    OPENSSL_free(der);
    return st;
}
