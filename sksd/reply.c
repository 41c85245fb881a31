/*
 * Replies of sksd: the one mapping from a library failure (sks_status) to an
 * HTTP status, and the one writer of error bodies,
 * {"error":{"code":...,"field":...,"message":...}} (on the signing API with
 * error_body = vesper, {"signingResponse":{"code":...,"message":...}}).  The
 * code and the field come with the failure (struct sks_error): nothing here
 * re-derives them.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sksd/sksd.h"

#define REQUEST_ID_MAX 256

unsigned int sksd_http_status(sks_status st)
{
    switch (st) {
    case SKS_OK:
        return 200;
    case SKS_ERR_INPUT:
        return 400;
    case SKS_ERR_NOT_FOUND:
        return 404;
    case SKS_ERR_AUTH:
        return 403;
    case SKS_ERR_UNAVAILABLE:
    case SKS_ERR_TOKEN:
        return 503;
    case SKS_ERR_POLICY:
    case SKS_ERR_VERIFY:
        return 422;
    case SKS_ERR_SYSTEM:
    case SKS_ERR_INTERNAL:
        break;
    }
    return 500;
}

/*
 * The request ID the client sent in header |name| (X-RequestID, or vesper's
 * Trace-Id), if it is one we can echo safely.
 */
static const char *request_id(struct MHD_Connection *c, const char *name)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    size_t i;

    if (id == NULL)
        return NULL;
    for (i = 0; id[i] != '\0'; i++) {
        if (i >= REQUEST_ID_MAX || id[i] < 0x20 || id[i] == 0x7f)
            return NULL;
    }
    return id;
}

/* Queues |resp| (which may be NULL: out of memory) and records the status. */
enum MHD_Result sksd_reply_queue(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                 struct MHD_Response *resp)
{
    static const char *const id_headers[] = {"X-RequestID", "Trace-Id"};
    enum MHD_Result ret;
    size_t i;

    if (resp == NULL)
        return MHD_NO;
    for (i = 0; i < sizeof(id_headers) / sizeof(id_headers[0]); i++) {
        const char *id = request_id(c, id_headers[i]);

        if (id != NULL)
            MHD_add_response_header(resp, id_headers[i], id);
    }
    if (r != NULL && (r->close || (r->d != NULL && atomic_load(&r->d->draining))))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (r != NULL) {
        r->status = status;
        r->answered = true;
    }
    return ret;
}

/* A response carrying |body| (reference taken); NULL when out of memory. */
static struct MHD_Response *json_response(json_t *body)
{
    struct MHD_Response *resp;
    char *text;

    if (body == NULL)
        return NULL;
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return NULL;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return resp;
}

enum MHD_Result sksd_reply_json(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                json_t *body)
{
    struct MHD_Response *resp = json_response(body);

    if (resp != NULL && status == 503 && r != NULL && r->d != NULL) {
        char secs[16];

        pthread_rwlock_rdlock(&r->d->conf_lock);
        snprintf(secs, sizeof(secs), "%u", r->d->conf->retry_after);
        pthread_rwlock_unlock(&r->d->conf_lock);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    return sksd_reply_queue(r, c, status, resp);
}

/* The error body of request |r| (NULL: none yet), in the shape its API's configuration asks for. */
static json_t *error_body(const struct sksd_req *r, const char *code, const char *field,
                          const char *message)
{
    enum sksd_error_body shape = SKSD_ERRORS_ATIS;
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);

    if (r != NULL && r->d != NULL && r->api == SKSD_API_SIGNING) {
        pthread_rwlock_rdlock(&r->d->conf_lock);
        shape = r->d->conf->error_body;
        pthread_rwlock_unlock(&r->d->conf_lock);
    }
    if (shape == SKSD_ERRORS_VESPER)
        return json_pack("{s:o}", "signingResponse", e);
    if (e != NULL && field != NULL && field[0] != '\0')
        json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o}", "error", e);
}

enum MHD_Result sksd_reply_error(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                 const char *code, const char *field, const char *message)
{
    return sksd_reply_json(r, c, status, error_body(r, code, field, message));
}

enum MHD_Result sksd_reply_failure(struct sksd_req *r, struct MHD_Connection *c,
                                   const struct sks_error *err)
{
    return sksd_reply_error(r, c, sksd_http_status(err->status), sks_error_code(err), err->field,
                            err->msg);
}

enum MHD_Result sksd_reply_errorf(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                  const char *code, const char *field, const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sksd_reply_error(r, c, status, code, field, msg);
}

enum MHD_Result sksd_reply_method_not_allowed(struct sksd_req *r, struct MHD_Connection *c,
                                              const char *method, const char *url,
                                              const char *allow)
{
    char msg[256];
    struct MHD_Response *resp;

    snprintf(msg, sizeof(msg), "%.16s is not allowed on %.64s: use %s", method, url, allow);
    resp = json_response(error_body(r, "method-not-allowed", NULL, msg));
    if (resp != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return sksd_reply_queue(r, c, 405, resp);
}
