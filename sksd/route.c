/*
 * Routing of sksd: libmicrohttpd's callbacks, which take each request from
 * its first call to its answer on the API it names.
 *
 * Signing listener: each connection owns one buffer, made on its first
 * signing or verification request and reused for every later one on that
 * keep-alive connection: it holds the request body and then the response.  Idle
 * connections own nothing but a small header.  The import API is never
 * served on the signing port.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "sksd/sksd.h"

#define SIGNING_PATH "/stir/v1/signing"
#define VERIFICATION_PATH "/stir/v1/verification"
/* {"signingResponse":{"identity":"..."}} */
#define RESPONSE_MAX (SKS_IDENTITY_MAX + 64)

enum route {
    ROUTE_NONE,
    ROUTE_SIGN,
    ROUTE_VERIFY,
    ROUTE_IMPORT,
};

/* Per connection on the signing listener. */
struct conn {
    struct sksd_req req;
    struct sksd_job *job; /* body then RESPONSE_MAX bytes of response */
};

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* The connection's job, made on its first signing or verification request. */
static bool conn_job(struct sksd *d, struct conn *k)
{
    size_t cap;

    if (k->job != NULL)
        return true;
    pthread_rwlock_rdlock(&d->conf_lock);
    cap = d->conf->max_body;
    pthread_rwlock_unlock(&d->conf_lock);
    k->job = sksd_job_new(cap, RESPONSE_MAX);
    return k->job != NULL;
}

/* A POST of JSON to |path|, for a pool: its body goes into the connection's buffer. */
static enum MHD_Result begin_job(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                 const char *method, const char *path)
{
    const char *ctype =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct conn *k = conn_of(c);

    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return sksd_reply_method_not_allowed(r, c, method, path, "POST");
    if (ctype == NULL || !sksd_media_type_is(ctype, "application/json"))
        return sksd_reply_errorf(r, c, 415, "unsupported-media-type", "Content-Type",
                                 "Content-Type must be application/json, not %.64s",
                                 ctype != NULL ? ctype : "(none)");
    if (!sksd_accepts_json(c))
        return sksd_reply_errorf(r, c, 406, "not-acceptable", "Accept",
                                 "the response is application/json, which Accept does not allow");
    if (k == NULL || !conn_job(d, k))
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    if (sksd_body_declared_too_big(c, sksd_job_cap(k->job)))
        return sksd_body_too_big(r, c, sksd_job_cap(k->job));
    r->body = sksd_job_body(k->job);
    r->body_cap = sksd_job_cap(k->job);
    return MHD_YES;
}

/* The identity named by ?identity=, checked like a configured name. */
static bool named_identity(struct MHD_Connection *c, const char **out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "identity");

    *out = v;
    if (v == NULL)
        return true;
    return sks_identity_name_ok(v);
}

/* The body is complete: off to |pool|, the connection suspended until it is done. */
static enum MHD_Result submit(struct sksd_pool *pool, struct MHD_Connection *c, struct sksd_req *r,
                              const char *identity)
{
    switch (sksd_pool_submit(pool, conn_of(c)->job, c, identity, r->body_len)) {
    case SKSD_SUBMIT_QUEUED:
        r->submitted = true;
        return MHD_YES;
    case SKSD_SUBMIT_FULL:
        if (r->route == ROUTE_VERIFY)
            return sksd_reply_error(r, c, 503, "overloaded", "",
                                    "every verification thread is busy and the verification "
                                    "queue is full: try again");
        return sksd_reply_error(r, c, 503, "overloaded", "",
                                "every token session is busy and the signing queue is full: "
                                "try again");
    default:
        return sksd_reply_error(r, c, 503, "shutting-down", "",
                                "sksd is stopping: send the request to another replica");
    }
}

static enum MHD_Result submit_signing(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r)
{
    const char *identity;

    if (!named_identity(c, &identity))
        return sksd_reply_error(
            r, c, 400, "invalid-identity", "identity",
            "identity must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit");
    return submit(d->signer, c, r, identity);
}

/*
 * A SHAKEN (or div) PASSporT and the ppt=rcd PASSporT with its Rich Call
 * Data: identity as always, and the rcd PASSporT in rcdIdentity, both to be
 * sent as Identity headers of the call (RFC 9795).
 */
static enum MHD_Result signed_two(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                  const struct sksd_sign_result *res)
{
    json_t *body =
        json_pack("{s:{s:s%,s:s%}}", "signingResponse", "identity", res->identity,
                  res->identity_len, "rcdIdentity", res->rcd_identity, res->rcd_identity_len);

    if (body == NULL)
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    sksd_metrics_observe(&d->metrics.signing, sksd_now_ns() - r->t0_ns);
    return sksd_reply_json(r, c, 200, body);
}

/* The connection was resumed: the job is signed, refused or out of time. */
static enum MHD_Result finish_signing(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r)
{
    struct conn *k = conn_of(c);
    const struct sksd_sign_result *res;
    struct MHD_Response *resp;
    char *out;
    int n;

    if (sksd_job_outcome(&k->job) == SKSD_JOB_TIMED_OUT)
        return sksd_reply_error(r, c, 503, "sign-timeout", "",
                                "the token did not sign within sign_timeout_ms: try again");
    res = sksd_job_sign_result(k->job);
    if (res->err.status != SKS_OK)
        return sksd_reply_failure(r, c, &res->err);
    if (res->rcd_identity_len > 0)
        return signed_two(d, c, r, res);
    /* The header is base64url, URI characters and ';=<>': nothing JSON must escape. */
    out = sksd_job_body(k->job) + sksd_job_cap(k->job);
    n = snprintf(out, RESPONSE_MAX, "{\"signingResponse\":{\"identity\":\"%s\"}}", res->identity);
    if (n < 0 || n >= RESPONSE_MAX)
        return sksd_reply_error(r, c, 500, "internal-error", "", "the response does not fit");
    resp = MHD_create_response_from_buffer((size_t)n, out, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    sksd_metrics_observe(&d->metrics.signing, sksd_now_ns() - r->t0_ns);
    return sksd_reply_queue(r, c, 200, resp);
}

/*
 * Rich Call Data, judged apart (RFC 9795): "rcd": {"result", the claims as
 * signed ("rcd", "crn") and, unless verified, the "code" and "message"}.
 */
static void add_rcd(json_t *out, const struct sks_verify_result *res)
{
    json_t *rcd = json_pack("{s:s}", "result", sks_rcd_verdict_name(res->rcd));

    if (rcd == NULL)
        return;
    json_object_set_new(rcd, "rcd", json_loads(res->passport.rcd, 0, NULL));
    if (res->passport.crn[0] != '\0')
        json_object_set_new(rcd, "crn", json_string(res->passport.crn));
    if (res->rcd != SKS_RCD_VERIFIED) {
        json_object_set_new(rcd, "code", json_string(sks_error_code(&res->rcd_err)));
        json_object_set_new(rcd, "message", json_string(res->rcd_err.msg));
    }
    json_object_set_new(out, "rcd", rcd);
}

/* A diverted call's diversions, as the div PASSporTs claim them, with each signer's SPC. */
static json_t *diversions(const struct sks_verify_set *set)
{
    json_t *out = json_array(), *dest, *link;
    size_t i;
    unsigned int k;

    for (i = 0; out != NULL && i < set->nlinks; i++) {
        const struct sks_verify_link *l = &set->links[i];

        if ((dest = json_array()) == NULL)
            break;
        for (k = 0; k < l->ndest; k++)
            json_array_append_new(dest, json_string(l->dest[k]));
        link = json_pack("{s:{s:s},s:{s:o}}", "div", "tn", l->div, "dest", "tn", dest);
        if (link != NULL && l->chain_checked)
            json_object_set_new(link, "spc", json_string(l->spc));
        json_array_append_new(out, link);
    }
    return out;
}

/*
 * The verificationResponse: the verstat and, for a PASSporT that did not
 * pass, the SIP response RFC 8224 gives it (reasonCode, reasonString) and
 * what is wrong (code, message); for one that passed with Rich Call Data,
 * its verdict.  For an identity array, the diversions of a call that
 * passed, or the index of the value at fault (identityIndex).
 */
static json_t *verification_body(const struct sksd_verification *v)
{
    const struct sks_verify_result *res = &v->set.res;
    json_t *out = json_pack("{s:s}", "verstat", sks_verstat(res->sip_code));

    if (out == NULL)
        return NULL;
    if (res->sip_code == SKS_SIP_OK) {
        if (res->passport.ppt == SKS_PPT_SHAKEN)
            json_object_set_new(out, "attest", json_stringn(&res->passport.attest, 1));
        if (res->chain_checked)
            json_object_set_new(out, "spc", json_string(res->spc));
        if (res->rcd != SKS_RCD_NONE)
            add_rcd(out, res);
        if (v->several)
            json_object_set_new(out, "diversions", diversions(&v->set));
    } else {
        json_object_set_new(out, "reasonCode", json_integer(res->sip_code));
        json_object_set_new(out, "reasonString", json_string(res->sip_reason));
        json_object_set_new(out, "code", json_string(sks_error_code(&v->err)));
        json_object_set_new(out, "message", json_string(v->err.msg));
        if (v->several && v->set.at_fault != SKS_VERIFY_NO_VALUE)
            json_object_set_new(out, "identityIndex", json_integer((json_int_t)v->set.at_fault));
    }
    return json_pack("{s:o}", "verificationResponse", out);
}

/* True when |s| goes into a JSON string as it is: printable ASCII, no quote or backslash. */
static bool json_plain(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return false;
    }
    return true;
}

/*
 * A pass, written into the connection's response buffer as a signing
 * answer is, byte for byte what verification_body() and json_dumps() make:
 * building and dumping that tree cost more than the rest of the answer.
 * NULL when the SPC or attest would need escaping, or for Rich Call Data:
 * then the tree is built.
 */
static struct MHD_Response *passed_response(struct conn *k, const struct sks_verify_result *res)
{
    char *out = sksd_job_body(k->job) + sksd_job_cap(k->job);
    bool shaken = res->passport.ppt == SKS_PPT_SHAKEN;
    struct MHD_Response *resp;
    int n;

    if (res->rcd != SKS_RCD_NONE || (shaken && !json_plain(&res->passport.attest, 1)) ||
        (res->chain_checked && !json_plain(res->spc, strlen(res->spc))))
        return NULL;
    n = snprintf(out, RESPONSE_MAX, "{\"verificationResponse\":{\"verstat\":\"%s\"%s%.*s%s%s%s%s}}",
                 sks_verstat(res->sip_code), shaken ? ",\"attest\":\"" : "", shaken ? 1 : 0,
                 &res->passport.attest, shaken ? "\"" : "", res->chain_checked ? ",\"spc\":\"" : "",
                 res->chain_checked ? res->spc : "", res->chain_checked ? "\"" : "");
    if (n < 0 || n >= RESPONSE_MAX)
        return NULL;
    resp = MHD_create_response_from_buffer((size_t)n, out, MHD_RESPMEM_PERSISTENT);
    if (resp != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return resp;
}

static enum MHD_Result answer_verification(struct sksd *d, struct MHD_Connection *c,
                                           struct sksd_req *r, const struct sksd_verification *v)
{
    struct conn *k = conn_of(c);
    struct MHD_Response *resp;
    json_t *body;

    if (!v->judged)
        return sksd_reply_failure(r, c, &v->err);
    if (v->set.res.sip_code == SKS_SIP_OK && !v->several && k != NULL && k->job != NULL &&
        (resp = passed_response(k, &v->set.res)) != NULL) {
        sksd_metrics_observe(&d->metrics.verifying, sksd_now_ns() - r->t0_ns);
        return sksd_reply_queue(r, c, 200, resp);
    }
    if ((body = verification_body(v)) == NULL)
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    sksd_metrics_observe(&d->metrics.verifying, sksd_now_ns() - r->t0_ns);
    return sksd_reply_json(r, c, 200, body);
}

/*
 * The body is complete.  A verification whose x5u is cached is CPU work
 * alone, answered here; one that needs a fetch goes to the verification
 * pool, whose threads may wait for a certificate server.
 */
static enum MHD_Result submit_verification(struct sksd *d, struct MHD_Connection *c,
                                           struct sksd_req *r)
{
    struct sksd_verification v;

    if (sksd_verify_request(d, r->body, r->body_len, false, &v))
        return answer_verification(d, c, r, &v);
    return submit(d->verifier, c, r, NULL);
}

/* The connection was resumed: the verification pool is done, or out of time. */
static enum MHD_Result finish_verification(struct sksd *d, struct MHD_Connection *c,
                                           struct sksd_req *r)
{
    struct conn *k = conn_of(c);

    if (sksd_job_outcome(&k->job) == SKSD_JOB_TIMED_OUT)
        return sksd_reply_error(r, c, 503, "verify-timeout", "",
                                "no verification within [verify] timeout_ms: try again");
    return answer_verification(d, c, r, sksd_job_verification(k->job));
}

static enum MHD_Result serve_health(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r)
{
    json_t *body = NULL;
    unsigned int status = sksd_health(d, &body);

    return sksd_reply_json(r, c, status, body);
}

static enum MHD_Result begin_other(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                   const char *url, const char *method)
{
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;

    r->api = SKSD_API_OTHER;
    if (strcmp(url, "/healthz") == 0)
        return get ? serve_health(d, c, r)
                   : sksd_reply_method_not_allowed(r, c, method, url, "GET");
    if (strcmp(url, "/metrics") == 0)
        return get ? sksd_reply_queue(r, c, 200, sksd_metrics_response(d))
                   : sksd_reply_method_not_allowed(r, c, method, url, "GET");
    return sksd_reply_errorf(r, c, 404, "not-found", "",
                             "no resource %.128s here: the signing API is POST " SIGNING_PATH
                             ", the verification API POST " VERIFICATION_PATH,
                             url);
}

/* ---- the import listeners ----------------------------------------------------- */

static enum MHD_Result begin_import(struct sksd_listener *l, struct MHD_Connection *c,
                                    struct sksd_req *r)
{
    size_t max;
    enum MHD_Result ret;

    r->api = SKSD_API_IMPORT;
    if (!sksd_import_authenticate(l->d, c, l->kind == SKSD_LISTEN_IMPORT_TLS, &r->peer, r, &ret))
        return ret;
    pthread_rwlock_rdlock(&l->d->conf_lock);
    max = l->d->conf->max_import_body;
    pthread_rwlock_unlock(&l->d->conf_lock);
    if (sksd_body_declared_too_big(c, max))
        return sksd_body_too_big(r, c, max);
    r->body = malloc(max);
    if (r->body == NULL)
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    r->body_cap = max;
    r->route = ROUTE_IMPORT;
    return MHD_YES;
}

/* ---- libmicrohttpd callbacks --------------------------------------------------- */

static struct sksd_req *new_request(struct sksd_listener *l, struct MHD_Connection *c)
{
    struct sksd_req *r;

    if (l->kind == SKSD_LISTEN_SIGNING && conn_of(c) != NULL) {
        r = &conn_of(c)->req;
        memset(r, 0, sizeof(*r));
    } else {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return NULL;
        r->heap = true;
    }
    r->d = l->d;
    r->t0_ns = sksd_now_ns();
    atomic_fetch_add(&l->d->inflight, 1);
    return r;
}

static enum MHD_Result begin(struct sksd_listener *l, struct MHD_Connection *c, const char *url,
                             const char *method, struct sksd_req *r)
{
    enum MHD_Result ret;

    if (sksd_body_framing_refused(r, c, &ret)) {
        if (l->kind != SKSD_LISTEN_SIGNING)
            r->api = SKSD_API_IMPORT;
        else
            r->api = strcmp(url, SIGNING_PATH) == 0        ? SKSD_API_SIGNING
                     : strcmp(url, VERIFICATION_PATH) == 0 ? SKSD_API_VERIFICATION
                                                           : SKSD_API_OTHER;
        return ret;
    }
    if (l->kind != SKSD_LISTEN_SIGNING)
        return begin_import(l, c, r);
    if (strcmp(url, SIGNING_PATH) == 0) {
        r->api = SKSD_API_SIGNING;
        r->route = ROUTE_SIGN;
        return begin_job(l->d, c, r, method, SIGNING_PATH);
    }
    if (strcmp(url, VERIFICATION_PATH) == 0) {
        r->api = SKSD_API_VERIFICATION;
        if (l->d->verifier == NULL)
            return sksd_reply_error(r, c, 404, "verification-not-configured", "",
                                    "verification is not configured: [sksd] verify names the "
                                    "section that sets it up (sksd(8))");
        r->route = ROUTE_VERIFY;
        return begin_job(l->d, c, r, method, VERIFICATION_PATH);
    }
    return begin_other(l->d, c, r, url, method);
}

enum MHD_Result sksd_route_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **req_cls)
{
    struct sksd_listener *l = cls;
    struct sksd_req *r = *req_cls;

    if (r == NULL) {
        r = new_request(l, c);
        if (r == NULL)
            return MHD_NO;
        *req_cls = r;
        return begin(l, c, url, method, r);
    }
    if (*upload_size != 0) {
        size_t n = *upload_size;

        *upload_size = 0;
        if (r->answered)
            return MHD_YES;
        return sksd_body_take(r, upload, n) ? MHD_YES : MHD_NO;
    }
    if (r->answered)
        return MHD_YES;
    if (r->too_big)
        return sksd_body_too_big(r, c, r->body_cap);
    if (r->route == ROUTE_SIGN)
        return r->submitted ? finish_signing(l->d, c, r) : submit_signing(l->d, c, r);
    if (r->route == ROUTE_VERIFY)
        return r->submitted ? finish_verification(l->d, c, r) : submit_verification(l->d, c, r);
    return sksd_import_handle(l->d, c, r, method, url, r->body, r->body_len);
}

void sksd_route_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct sksd_req *r = *req_cls;

    if (r == NULL)
        return;
    *req_cls = NULL;
    sksd_metrics_request(&r->d->metrics, r->api, r->status);
    atomic_fetch_sub(&r->d->inflight, 1);
    if (r->heap) {
        if (r->body != NULL)
            OPENSSL_cleanse(r->body, r->body_len);
        free(r->body);
        free(r);
    }
}

void sksd_route_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code)
{
    struct conn *k = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn));
        return;
    }
    if (k != NULL) {
        if (k->job != NULL)
            sksd_job_put(k->job);
        free(k);
    }
    *socket_context = NULL;
}
