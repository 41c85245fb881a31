/*
 * The HTTP side of sksd (libmicrohttpd): listeners, request bodies, limits,
 * routing and the one place that turns a library failure into a status.
 *
 * Signing listener: a pool of epoll worker threads, one per core, each
 * serving its connections to completion (the token signs in the worker).
 * Each connection owns one buffer, made on its first signing request and
 * reused for every later one on that keep-alive connection: it holds the
 * request body and then the response.  Idle connections own nothing but a
 * small header.
 *
 * Hostile clients: bodies over the limit are refused by Content-Length
 * before they are read, or while they stream; idle and slow connections are
 * closed after the connection timeout; the connection count and the memory
 * each may use are bounded.  None of them holds a worker.  A request whose
 * body length is ambiguous (RFC 9112 section 6.3) is refused before routing,
 * on every listener, and its connection closed: whatever follows it on the
 * connection cannot be told apart from its body.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "sksd/sksd.h"

#define SIGNING_PATH "/stir/v1/signing"
#define IMPORT_PREFIX "/sks/v1/"
/* A chunked body past the limit is read and dropped up to this much more, then cut. */
#define DISCARD_MAX (1024 * 1024)
#define REQUEST_ID_MAX 256
/* {"signingResponse":{"identity":"..."}} */
#define RESPONSE_MAX (SKS_IDENTITY_MAX + 64)
#define LISTEN_BACKLOG 1024

enum listener_kind { LISTEN_SIGNING, LISTEN_IMPORT_TLS, LISTEN_IMPORT_UNIX };

enum route {
    ROUTE_NONE,
    ROUTE_SIGN,
    ROUTE_IMPORT,
    ROUTE_ANSWERED, /* a response is queued already: drop whatever body follows */
};

struct listener {
    struct sksd *d;
    enum listener_kind kind;
};

/* Per connection on the signing listener. */
struct conn {
    struct sksd_req req;
    char *buf; /* body (cap bytes) then RESPONSE_MAX bytes of response */
    size_t cap;
};

static struct listener listeners[3];

/* ---- status and error bodies ------------------------------------------------ */

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

const char *sksd_error_code(sks_status st)
{
    switch (st) {
    case SKS_OK:
        return "ok";
    case SKS_ERR_INPUT:
        return "invalid-input";
    case SKS_ERR_NOT_FOUND:
        return "not-found";
    case SKS_ERR_AUTH:
        return "forbidden";
    case SKS_ERR_UNAVAILABLE:
        return "hsm-unavailable";
    case SKS_ERR_TOKEN:
        return "hsm-error";
    case SKS_ERR_POLICY:
        return "policy-violation";
    case SKS_ERR_VERIFY:
        return "verification-failed";
    case SKS_ERR_SYSTEM:
    case SKS_ERR_INTERNAL:
        break;
    }
    return "internal-error";
}

/* The request ID the client sent, if it is one we can echo safely. */
static const char *request_id(struct MHD_Connection *c)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-RequestID");
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
static enum MHD_Result queue(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                             struct MHD_Response *resp)
{
    const char *id = request_id(c);
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    if (id != NULL)
        MHD_add_response_header(resp, "X-RequestID", id);
    if (r != NULL && (r->close || (r->d != NULL && atomic_load(&r->d->draining))))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    if (r != NULL) {
        r->status = status;
        r->route = ROUTE_ANSWERED;
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
    return queue(r, c, status, resp);
}

enum MHD_Result sksd_reply_error(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                 const char *code, const char *field, const char *message)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);

    if (e != NULL && field != NULL && field[0] != '\0')
        json_object_set_new(e, "field", json_string(field));
    return sksd_reply_json(r, c, status, json_pack("{s:o}", "error", e));
}

static enum MHD_Result reply_errorf(struct sksd_req *r, struct MHD_Connection *c,
                                    unsigned int status, const char *code, const char *field,
                                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result reply_errorf(struct sksd_req *r, struct MHD_Connection *c,
                                    unsigned int status, const char *code, const char *field,
                                    const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sksd_reply_error(r, c, status, code, field, msg);
}

static enum MHD_Result method_not_allowed(struct sksd_req *r, struct MHD_Connection *c,
                                          const char *method, const char *url, const char *allow)
{
    char msg[256];
    struct MHD_Response *resp;

    snprintf(msg, sizeof(msg), "%.16s is not allowed on %.64s: use %s", method, url, allow);
    resp = json_response(
        json_pack("{s:{s:s, s:s}}", "error", "code", "method-not-allowed", "message", msg));
    if (resp != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(r, c, 405, resp);
}

/* ---- content negotiation ---------------------------------------------------- */

static bool media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);

    while (*value == ' ' || *value == '\t')
        value++;
    if (strncasecmp(value, type, n) != 0)
        return false;
    value += n;
    while (*value == ' ' || *value == '\t')
        value++;
    return *value == '\0' || *value == ';' || *value == ',';
}

/* q=0 means "not this one" (RFC 9110 section 12.4.2). */
static bool range_refused(const char *range, size_t len)
{
    const char *q = range;

    while ((q = memchr(q, ';', len - (size_t)(q - range))) != NULL) {
        q++;
        while (*q == ' ')
            q++;
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
            return strtod(q + 2, NULL) <= 0.0;
    }
    return false;
}

/* Accept absent, or a media range that admits application/json. */
static bool accepts_json(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    const char *p;

    if (accept == NULL || accept[0] == '\0')
        return true;
    for (p = accept; p != NULL; p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 : NULL) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if ((media_type_is(p, "application/json") || media_type_is(p, "application/*") ||
             media_type_is(p, "*/*")) &&
            !range_refused(p, len))
            return true;
    }
    return false;
}

/* ---- bodies ----------------------------------------------------------------- */

/* Content-Length over |max|: refuse before reading a byte of the body. */
static bool declared_too_big(struct MHD_Connection *c, size_t max, unsigned long long *declared)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;

    if (cl == NULL)
        return false;
    errno = 0;
    *declared = strtoull(cl, &end, 10);
    return errno != 0 || *end != '\0' || *declared > max;
}

/* Returns false when the client keeps streaming far past the limit: cut it off. */
static bool take_body(struct sksd_req *r, const char *data, size_t len)
{
    if (!r->too_big && len <= r->body_cap - r->body_len) {
        memcpy(r->body + r->body_len, data, len);
        r->body_len += len;
        return true;
    }
    r->too_big = true;
    r->discarded += len;
    return r->discarded <= DISCARD_MAX;
}

/* The body is left unread: the connection closes after the answer. */
static enum MHD_Result too_big(struct sksd_req *r, struct MHD_Connection *c, size_t max)
{
    r->close = true;
    return reply_errorf(r, c, 413, "body-too-large", "body",
                        "the request body is larger than the limit of %zu bytes", max);
}

/* ---- framing (RFC 9112 section 6.3) ------------------------------------------ */

struct framing {
    unsigned int n_length, n_encoding;
    const char *encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;

    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->n_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->n_encoding++;
        f->encoding = value;
    }
    return MHD_YES;
}

/*
 * Refuses a request whose body length two parsers could read differently:
 * repeated Content-Length, any Transfer-Encoding but one "chunked", or both
 * headers (RFC 9112 6.3 items 3 and 5: 400, then close).  libmicrohttpd
 * reads only the first of each, and none of Content-Length once there is a
 * Transfer-Encoding; a lone Content-Length that is not digits it refuses
 * itself (400, or 413 past 64 bits) before sksd sees the request.  Returns
 * true when it queued the refusal (|*ret|).
 */
static bool framing_refused(struct sksd_req *r, struct MHD_Connection *c, enum MHD_Result *ret)
{
    struct framing f = {0};
    char msg[160];

    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.n_encoding > 1)
        snprintf(msg, sizeof(msg), "repeated Transfer-Encoding header: send one, chunked");
    else if (f.n_encoding == 1 && f.n_length > 0)
        snprintf(msg, sizeof(msg),
                 "both Transfer-Encoding and Content-Length headers: send one of them");
    else if (f.n_encoding == 1 && strcasecmp(f.encoding, "chunked") != 0)
        snprintf(msg, sizeof(msg), "Transfer-Encoding must be chunked alone, not %.64s",
                 f.encoding);
    else if (f.n_length > 1)
        snprintf(msg, sizeof(msg), "repeated Content-Length header: send one");
    else
        return false;
    r->close = true;
    *ret = sksd_reply_error(
        r, c, 400, "invalid-framing",
        f.n_encoding > 0 ? MHD_HTTP_HEADER_TRANSFER_ENCODING : MHD_HTTP_HEADER_CONTENT_LENGTH, msg);
    return true;
}

/* ---- the signing listener ------------------------------------------------------- */

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* The connection's buffer, made on its first signing request. */
static bool conn_buffer(struct sksd *d, struct conn *k)
{
    size_t cap;

    if (k->buf != NULL)
        return true;
    pthread_rwlock_rdlock(&d->conf_lock);
    cap = d->conf->max_body;
    pthread_rwlock_unlock(&d->conf_lock);
    k->buf = malloc(cap + RESPONSE_MAX);
    if (k->buf == NULL)
        return false;
    k->cap = cap;
    return true;
}

static enum MHD_Result begin_signing(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                     const char *method)
{
    const char *ctype =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    struct conn *k = conn_of(c);
    unsigned long long declared = 0;

    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return method_not_allowed(r, c, method, SIGNING_PATH, "POST");
    if (ctype == NULL || !media_type_is(ctype, "application/json"))
        return reply_errorf(r, c, 415, "unsupported-media-type", "Content-Type",
                            "Content-Type must be application/json, not %.64s",
                            ctype != NULL ? ctype : "(none)");
    if (!accepts_json(c))
        return reply_errorf(r, c, 406, "not-acceptable", "Accept",
                            "the response is application/json, which Accept does not allow");
    if (k == NULL || !conn_buffer(d, k))
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    if (declared_too_big(c, k->cap, &declared))
        return too_big(r, c, k->cap);
    r->body = k->buf;
    r->body_cap = k->cap;
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

static enum MHD_Result finish_signing(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r)
{
    struct sksd_sign_result res;
    struct MHD_Response *resp;
    const char *identity;
    char *out;
    int n;

    if (!named_identity(c, &identity))
        return sksd_reply_error(
            r, c, 400, "invalid-identity", "identity",
            "identity must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit");
    sksd_sign_request(d, r->body, r->body_len, identity, &res);
    if (res.http != 200)
        return sksd_reply_error(r, c, res.http, res.code, res.field, res.err.msg);
    /* The header is base64url, URI characters and ';=<>': nothing JSON must escape. */
    out = r->body + r->body_cap;
    n = snprintf(out, RESPONSE_MAX, "{\"signingResponse\":{\"identity\":\"%s\"}}", res.identity);
    if (n < 0 || n >= RESPONSE_MAX)
        return sksd_reply_error(r, c, 500, "internal-error", "", "the response does not fit");
    resp = MHD_create_response_from_buffer((size_t)n, out, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    sksd_metrics_signing_latency(&d->metrics, sksd_now_ns() - r->t0_ns);
    return queue(r, c, 200, resp);
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
        return get ? serve_health(d, c, r) : method_not_allowed(r, c, method, url, "GET");
    if (strcmp(url, "/metrics") == 0)
        return get ? queue(r, c, 200, sksd_metrics_response(d))
                   : method_not_allowed(r, c, method, url, "GET");
    return reply_errorf(r, c, 404, "not-found", "",
                        "no resource %.128s here: the signing API is POST " SIGNING_PATH, url);
}

/* ---- the import listeners ----------------------------------------------------- */

static enum MHD_Result begin_import(struct listener *l, struct MHD_Connection *c,
                                    struct sksd_req *r)
{
    unsigned long long declared = 0;
    size_t max;
    enum MHD_Result ret;

    r->api = SKSD_API_IMPORT;
    if (!sksd_import_authenticate(l->d, c, l->kind == LISTEN_IMPORT_TLS, &r->peer, r, &ret))
        return ret;
    pthread_rwlock_rdlock(&l->d->conf_lock);
    max = l->d->conf->max_import_body;
    pthread_rwlock_unlock(&l->d->conf_lock);
    if (declared_too_big(c, max, &declared))
        return too_big(r, c, max);
    r->body = malloc(max);
    if (r->body == NULL)
        return sksd_reply_error(r, c, 503, "overloaded", "", "out of memory: try again");
    r->body_cap = max;
    r->route = ROUTE_IMPORT;
    return MHD_YES;
}

/* ---- libmicrohttpd callbacks --------------------------------------------------- */

static struct sksd_req *new_request(struct listener *l, struct MHD_Connection *c)
{
    struct sksd_req *r;

    if (l->kind == LISTEN_SIGNING && conn_of(c) != NULL) {
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

static enum MHD_Result begin(struct listener *l, struct MHD_Connection *c, const char *url,
                             const char *method, struct sksd_req *r)
{
    enum MHD_Result ret;

    if (framing_refused(r, c, &ret)) {
        if (l->kind != LISTEN_SIGNING)
            r->api = SKSD_API_IMPORT;
        else
            r->api = strcmp(url, SIGNING_PATH) == 0 ? SKSD_API_SIGNING : SKSD_API_OTHER;
        return ret;
    }
    if (l->kind != LISTEN_SIGNING)
        return begin_import(l, c, r);
    if (strcmp(url, SIGNING_PATH) == 0) {
        r->api = SKSD_API_SIGNING;
        r->route = ROUTE_SIGN;
        return begin_signing(l->d, c, r, method);
    }
    return begin_other(l->d, c, r, url, method);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct listener *l = cls;
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
        if (r->route == ROUTE_ANSWERED)
            return MHD_YES;
        return take_body(r, upload, n) ? MHD_YES : MHD_NO;
    }
    if (r->route == ROUTE_ANSWERED)
        return MHD_YES;
    if (r->too_big)
        return too_big(r, c, r->body_cap);
    if (r->route == ROUTE_SIGN)
        return finish_signing(l->d, c, r);
    return sksd_import_handle(l->d, c, r, method, url, r->body, r->body_len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
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

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct conn *k = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct conn));
        return;
    }
    if (k != NULL) {
        free(k->buf);
        free(k);
    }
    *socket_context = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sksd_log(SKSD_LOG_WARNING, "http: %s", msg);
}

/* ---- listening sockets ----------------------------------------------------------- */

static void describe(const struct sockaddr *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else {
        snprintf(out, size, "?");
    }
}

static sks_status listen_tcp(const struct sksd_listen *where, const char *what, int *out,
                             struct sks_error *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    char port[8], name[INET6_ADDRSTRLEN + 8];
    const char *host = strcmp(where->host, "*") == 0 ? NULL : where->host;
    int fd = -1, one = 1, rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", where->port);
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        return sks_fail(err, SKS_ERR_INPUT, "%s: cannot resolve %s: %s", what, where->host,
                        gai_strerror(rc));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return sks_fail(err, SKS_ERR_SYSTEM, "%s: cannot listen on %s:%u: %s", what, where->host,
                        where->port, strerror(e));
    }
    freeaddrinfo(ai);
    describe((struct sockaddr *)&bound, name, sizeof(name));
    /* Tests and operators read the port from this line when they asked for port 0. */
    sksd_log(SKSD_LOG_INFO, "%s listening on %s", what, name);
    *out = fd;
    return SKS_OK;
}

/*
 * World-connectable on purpose: the uid allow-list decides, so that every
 * refused attempt reaches the audit log rather than dying at connect().
 */
static sks_status listen_unix(const char *path, int *out, struct sks_error *err)
{
    struct sockaddr_un sun = {0};
    struct stat st;
    int fd;

    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return sks_fail(err, SKS_ERR_INPUT,
                            "import socket %s exists and is not a socket: remove it or choose "
                            "another path",
                            path);
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, 0666) != 0 ||
        listen(fd, 64) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot listen on import socket %s: %s", path,
                        strerror(e));
    }
    sksd_log(SKSD_LOG_INFO, "import API listening on unix:%s", path);
    *out = fd;
    return SKS_OK;
}

/* ---- starting and stopping --------------------------------------------------------- */

static unsigned int worker_threads(const struct sksd_conf *conf)
{
    long n;

    if (conf->threads > 0)
        return conf->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned int)n : 1;
}

static sks_status start_signing(struct sksd *d, struct sks_error *err)
{
    const struct sksd_conf *conf = d->conf;
    unsigned int threads = worker_threads(conf);
    int fd;

    if (listen_tcp(&conf->signing, "signing API", &fd, err) != SKS_OK)
        return SKS_ERR_SYSTEM;
    listeners[LISTEN_SIGNING] = (struct listener){d, LISTEN_SIGNING};
    d->signing = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, &listeners[LISTEN_SIGNING], MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        conf->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, conf->connection_memory,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, NULL, MHD_OPTION_END);
    if (d->signing == NULL) {
        close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "libmicrohttpd could not start the signing API");
    }
    sksd_log(SKSD_LOG_INFO, "signing API: %u worker threads, up to %u connections", threads,
             conf->connection_limit);
    return SKS_OK;
}

/* The TLS key is read into memory for GnuTLS and cleansed once it has its copy. */
static sks_status read_pem(const char *path, char **out, size_t *len, struct sks_error *err)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "cannot read %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 1024 * 1024 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = calloc(1, (size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return sks_fail(err, SKS_ERR_INPUT, "cannot read %s (a PEM file of at most 1 MiB)", path);
    }
    fclose(f);
    *out = buf;
    *len = (size_t)n;
    return SKS_OK;
}

static sks_status start_import_tls(struct sksd *d, struct sks_error *err)
{
    const struct sksd_conf *conf = d->conf;
    char *cert = NULL, *key = NULL, *ca = NULL;
    size_t cert_len = 0, key_len = 0, ca_len = 0;
    sks_status st;
    int fd = -1;

    if ((st = read_pem(conf->tls_cert, &cert, &cert_len, err)) != SKS_OK ||
        (st = read_pem(conf->tls_key, &key, &key_len, err)) != SKS_OK ||
        (st = read_pem(conf->tls_client_ca, &ca, &ca_len, err)) != SKS_OK ||
        (st = sksd_client_ca_load(conf->tls_client_ca, &d->client_ca, err)) != SKS_OK ||
        (st = listen_tcp(&conf->import_tls, "import API (TLS)", &fd, err)) != SKS_OK)
        goto done;
    listeners[LISTEN_IMPORT_TLS] = (struct listener){d, LISTEN_IMPORT_TLS};
    d->import_tls = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TLS |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, &listeners[LISTEN_IMPORT_TLS], MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_TRUST, ca, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_LIMIT, 64U,
        MHD_OPTION_CONNECTION_TIMEOUT, conf->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_END);
    if (d->import_tls == NULL) {
        close(fd);
        st = sks_fail(err, SKS_ERR_INPUT,
                      "libmicrohttpd could not start the TLS import API: check %s and %s",
                      conf->tls_cert, conf->tls_key);
    }
done:
    if (key != NULL)
        OPENSSL_cleanse(key, key_len);
    free(key);
    free(cert);
    free(ca);
    return st;
}

static sks_status start_import_unix(struct sksd *d, struct sks_error *err)
{
    int fd;

    if (listen_unix(d->conf->import_socket, &fd, err) != SKS_OK)
        return SKS_ERR_SYSTEM;
    snprintf(d->unix_path, sizeof(d->unix_path), "%s", d->conf->import_socket);
    listeners[LISTEN_IMPORT_UNIX] = (struct listener){d, LISTEN_IMPORT_UNIX};
    d->import_unix = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, &listeners[LISTEN_IMPORT_UNIX], MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT,
        d->conf->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
    if (d->import_unix == NULL) {
        close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "libmicrohttpd could not start the import socket");
    }
    return SKS_OK;
}

sks_status sksd_http_start(struct sksd *d, struct sks_error *err)
{
    if (start_signing(d, err) != SKS_OK)
        return err->status;
    if (d->conf->tls_cert != NULL && start_import_tls(d, err) != SKS_OK)
        return err->status;
    if (d->conf->import_socket != NULL && start_import_unix(d, err) != SKS_OK)
        return err->status;
    return SKS_OK;
}

static void quiesce(struct MHD_Daemon *daemon)
{
    MHD_socket fd;

    if (daemon == NULL)
        return;
    fd = MHD_quiesce_daemon(daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void sksd_http_drain(struct sksd *d)
{
    unsigned long long deadline;
    unsigned int secs;

    pthread_rwlock_rdlock(&d->conf_lock);
    secs = d->conf->drain_seconds;
    pthread_rwlock_unlock(&d->conf_lock);
    atomic_store(&d->draining, true);
    quiesce(d->signing);
    quiesce(d->import_tls);
    quiesce(d->import_unix);
    deadline = sksd_now_ns() + (unsigned long long)secs * 1000000000ULL;
    while (atomic_load(&d->inflight) > 0 && sksd_now_ns() < deadline)
        usleep(10 * 1000);
    if (atomic_load(&d->inflight) > 0)
        sksd_log(SKSD_LOG_WARNING, "%ld requests still in flight after %u s: stopping anyway",
                 atomic_load(&d->inflight), secs);
}

void sksd_http_stop(struct sksd *d)
{
    if (d->signing != NULL)
        MHD_stop_daemon(d->signing);
    if (d->import_tls != NULL)
        MHD_stop_daemon(d->import_tls);
    if (d->import_unix != NULL)
        MHD_stop_daemon(d->import_unix);
    d->signing = d->import_tls = d->import_unix = NULL;
    if (d->unix_path[0] != '\0')
        unlink(d->unix_path);
    d->unix_path[0] = '\0';
    X509_STORE_free(d->client_ca);
    d->client_ca = NULL;
}
