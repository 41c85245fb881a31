/* Keep-alive load against sksd's signing API, with every answer verified. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "verify/verify.h"
#include "tests/interop/interop.h"
#include "tests/interop/sksd_load.h"

int http_connect(const char *host, unsigned int port)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char service[8];
    int fd, one = 1;

    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/*
 * Sends head and body with one sendmsg where the socket takes them: a
 * request in two segments costs the server a second wake-up, which the
 * benchmark would count against sksd.
 */
static int send_request(int fd, const char *head, size_t hlen, const char *body, size_t blen)
{
    struct iovec iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

    while (msg.msg_iovlen > 0) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (msg.msg_iovlen > 0 && (size_t)w >= msg.msg_iov->iov_len) {
            w -= (ssize_t)msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
            msg.msg_iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Reads until |c->buf| holds at least |want| bytes; -1 on EOF or error. */
static int fill(struct http_conn *c, size_t want)
{
    while (c->have < want) {
        ssize_t r;

        if (c->have == sizeof(c->buf))
            return -1;
        r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->have += (size_t)r;
    }
    return 0;
}

static const char *find_header_end(struct http_conn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);

        if (end != NULL)
            return end + 4;
        if (fill(c, c->have + 1) != 0)
            return NULL;
    }
}

/* Content-Length, and whether the server will close the connection. */
static void parse_headers(const char *head, size_t len, size_t *clen, int *closing)
{
    const char *p = head, *end = head + len;

    *clen = 0;
    *closing = 0;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            *clen = strtoul(p + 15, NULL, 10);
        if ((size_t)(eol - p) > 11 && strncasecmp(p, "Connection:", 11) == 0 &&
            memmem(p, (size_t)(eol - p), "close", 5) != NULL)
            *closing = 1;
        p = eol + 2;
    }
}

int http_read_response(struct http_conn *c, int *status, char *out, size_t outsize, int *closing)
{
    const char *body;
    size_t head_len, clen, total;

    body = find_header_end(c);
    if (body == NULL || sscanf(c->buf, "HTTP/1.%*d %d", status) != 1)
        return -1;
    head_len = (size_t)(body - c->buf);
    parse_headers(c->buf, head_len, &clen, closing);
    total = head_len + clen;
    if (total > sizeof(c->buf) || fill(c, total) != 0)
        return -1;
    if (outsize > 0) {
        size_t n = clen < outsize - 1 ? clen : outsize - 1;

        memcpy(out, body, n);
        out[n] = '\0';
    }
    memmove(c->buf, c->buf + total, c->have - total);
    c->have -= total;
    return 0;
}

static int read_response(struct http_conn *c, int *status, char *out, size_t outsize)
{
    int closing;

    if (http_read_response(c, status, out, outsize, &closing) != 0)
        return -1;
    if (closing) {
        close(c->fd);
        c->fd = -1;
        c->have = 0;
    }
    return 0;
}

int http_post(struct http_conn *c, const char *host, unsigned int port, const char *path,
              const char *body, int *status, char *out, size_t outsize)
{
    char head[512];
    int n, attempt;

    if (body == NULL)
        n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
    else
        n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Accept: application/json\r\nContent-Length: %zu\r\n\r\n",
                     path, host, strlen(body));
    /* A keep-alive connection the server timed out is retried once on a fresh one. */
    for (attempt = 0; attempt < 2; attempt++) {
        int fresh = c->fd < 0;

        if (c->fd < 0 && (c->fd = http_connect(host, port)) < 0)
            return -1;
        c->have = 0;
        if (send_request(c->fd, head, (size_t)n, body, body != NULL ? strlen(body) : 0) == 0 &&
            read_response(c, status, out, outsize) == 0)
            return 0;
        close(c->fd);
        c->fd = -1;
        if (fresh)
            return -1;
    }
    return -1;
}

/* ---- load ----------------------------------------------------------------- */

struct worker {
    const struct load_opts *o;
    unsigned int index;
    unsigned long count; /* requests this worker sends */
    double t0;
    double *lat_us; /* from the time the request was due (paced) or sent */
    double *svc_us; /* from the time it was sent */
    unsigned long nlat;
    unsigned long ok, http_errors, bad, io_errors;
    unsigned long per_cert[LOAD_CERTS_MAX];
    char first_error[512];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();

    if (d > 0) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};

        nanosleep(&ts, NULL);
    }
}

static void note(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct worker *w, const char *fmt, ...)
{
    va_list ap;

    if (w->first_error[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
    va_end(ap);
}

/*
 * 1 when |answer| holds an Identity header that verifies with the certificate
 * of its x5u or, for a verification, says TN-Validation-Passed.
 */

/*
 * The certificate of |c| (the |i|th): a --cert-later one is read once, at
 * the first answer that names its x5u, and kept for the process's life.
 */
static X509 *later_cert(const struct load_cert *c, size_t i)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static X509 *later[LOAD_CERTS_MAX];
    X509 *x;

    if (c->cert != NULL)
        return c->cert;
    pthread_mutex_lock(&lock);
    if (later[i] == NULL && c->path != NULL) {
        FILE *f = fopen(c->path, "r");

        later[i] = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f != NULL)
            fclose(f);
    }
    x = later[i];
    pthread_mutex_unlock(&lock);
    return x;
}

static int verify_answer(struct worker *w, const char *answer)
{
    const struct load_opts *o = w->o;
    json_t *root = json_loads(answer, 0, NULL);
    const char *hdr =
        json_string_value(json_object_get(json_object_get(root, "signingResponse"), "identity"));
    struct sks_verify_result vr;
    struct sks_verify_opts vo;
    struct sks_identity id;
    struct sks_error err;
    int sip, ok = 0;
    size_t i;

    if (o->verification) {
        const char *v = json_string_value(
            json_object_get(json_object_get(root, "verificationResponse"), "verstat"));

        ok = v != NULL && strcmp(v, "TN-Validation-Passed") == 0;
        if (!ok)
            note(w, "200 without TN-Validation-Passed: %.400s", answer);
        goto done;
    }
    if (hdr == NULL) {
        note(w, "200 without signingResponse.identity: %.400s", answer);
        goto done;
    }
    if (o->ncerts == 0) {
        ok = 1;
        goto done;
    }
    if (sks_identity_parse(hdr, strlen(hdr), &id, &sip, &err) != SKS_OK) {
        note(w, "unparsable Identity header: %.400s", err.msg);
        goto done;
    }
    for (i = 0; i < o->ncerts && strcmp(o->certs[i].x5u, id.info) != 0; i++)
        ;
    if (i == o->ncerts) {
        note(w, "Identity header names an unknown x5u %.400s", id.info);
        goto done;
    }
    sks_verify_opts_init(&vo);
    if ((vo.cert = later_cert(&o->certs[i], i)) == NULL) {
        note(w, "x5u %.400s: cannot read a PEM certificate from %s", id.info, o->certs[i].path);
        goto done;
    }
    vo.max_age = o->max_age;
    if (sks_identity_verify(hdr, strlen(hdr), &vo, &vr, &err) != SKS_OK) {
        note(w, "Identity header does not verify: %.400s", err.msg);
        goto done;
    }
    w->per_cert[i]++;
    ok = 1;
done:
    json_decref(root);
    ERR_clear_error();
    return ok;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    const struct load_opts *o = w->o;
    struct http_conn *c = calloc(1, sizeof(*c));
    char answer[16384];
    unsigned long j;

    if (c == NULL)
        return NULL;
    c->fd = -1;
    for (j = 0; j < w->count; j++) {
        double start = now_s(), sent, t;
        int status = 0;

        if (o->rate > 0) {
            /* Requests interleave across workers: worker k sends k, k + n, k + 2n... */
            start = w->t0 + (double)(j * o->conns + w->index) / o->rate;
            sleep_until(start);
        }
        sent = now_s();
        if (http_post(c, o->host, o->port, o->path, o->body, &status, answer, sizeof(answer)) !=
            0) {
            w->io_errors++;
            note(w, "connection failed: %s", strerror(errno));
            continue;
        }
        t = now_s();
        w->svc_us[w->nlat] = (t - sent) * 1e6;
        w->lat_us[w->nlat++] = (t - start) * 1e6;
        if (status != 200) {
            w->http_errors++;
            note(w, "non-200 answer: %.400s", answer);
        } else if (o->body == NULL || verify_answer(w, answer)) {
            w->ok++;
        } else {
            w->bad++;
        }
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* p50, p99 and max of the |k| values in |v|, sorted in place. */
static void percentiles(double *v, unsigned long k, double *p50, double *p99, double *max)
{
    if (k == 0)
        return;
    qsort(v, k, sizeof(*v), cmp_double);
    *p50 = v[k / 2];
    *p99 = v[k * 99 / 100];
    if (max != NULL)
        *max = v[k - 1];
}

static void merge(struct worker *w, unsigned int n, struct load_result *res, unsigned long total)
{
    double *all = malloc((total + 1) * sizeof(*all)), *svc = malloc((total + 1) * sizeof(*svc));
    unsigned long k = 0;
    unsigned int i, j;

    for (i = 0; i < n; i++) {
        res->ok += w[i].ok;
        res->http_errors += w[i].http_errors;
        res->bad += w[i].bad;
        res->io_errors += w[i].io_errors;
        for (j = 0; j < LOAD_CERTS_MAX; j++)
            res->per_cert[j] += w[i].per_cert[j];
        if (res->first_error[0] == '\0' && w[i].first_error[0] != '\0')
            memcpy(res->first_error, w[i].first_error, sizeof(res->first_error));
        if (all != NULL && svc != NULL) {
            memcpy(all + k, w[i].lat_us, w[i].nlat * sizeof(*all));
            memcpy(svc + k, w[i].svc_us, w[i].nlat * sizeof(*svc));
            k += w[i].nlat;
        }
        free(w[i].lat_us);
        free(w[i].svc_us);
    }
    if (all != NULL && svc != NULL) {
        percentiles(all, k, &res->p50_us, &res->p99_us, &res->max_us);
        percentiles(svc, k, &res->svc_p50_us, &res->svc_p99_us, NULL);
    }
    free(all);
    free(svc);
}

int load_run(const struct load_opts *o, struct load_result *res)
{
    struct worker *w = calloc(o->conns, sizeof(*w));
    pthread_t *t = calloc(o->conns, sizeof(*t));
    double t0;
    unsigned int i;

    memset(res, 0, sizeof(*res));
    if (w == NULL || t == NULL) {
        free(w);
        free(t);
        return -1;
    }
    t0 = now_s() + 0.01;
    for (i = 0; i < o->conns; i++) {
        w[i].o = o;
        w[i].index = i;
        w[i].count = o->requests / o->conns + (i < o->requests % o->conns);
        w[i].t0 = t0;
        w[i].lat_us = malloc((w[i].count + 1) * sizeof(double));
        w[i].svc_us = malloc((w[i].count + 1) * sizeof(double));
        if (w[i].lat_us == NULL || w[i].svc_us == NULL) {
            w[i].count = 0;
            snprintf(w[i].first_error, sizeof(w[i].first_error), "out of memory");
        }
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (i = 0; i < o->conns; i++)
        pthread_join(t[i], NULL);
    res->seconds = now_s() - t0;
    merge(w, o->conns, res, o->requests);
    free(w);
    free(t);
    return res->ok == o->requests ? 0 : -1;
}

/* ---- helpers for the test scripts ------------------------------------------ */

int sksd_tool_json(int argc, char **argv)
{
    json_error_t jerr;
    json_t *root, *v;
    char *path, *key;
    size_t len;
    unsigned char *text;

    if (argc != 3)
        interop_die("usage: %s json FILE PATH", interop_prog);
    text = interop_read_file(argv[1], &len);
    root = json_loadb((const char *)text, len, 0, &jerr);
    if (root == NULL)
        interop_die("%s is not JSON: %s", argv[1], jerr.text);
    path = argv[2];
    for (v = root, key = strtok(path, "."); v != NULL && key != NULL; key = strtok(NULL, "."))
        v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL, 10)) : json_object_get(v, key);
    if (v == NULL)
        interop_die("%s has nothing at %s", argv[1], argv[2]);
    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        fputs(s, stdout);
        free(s);
    }
    json_decref(root);
    free(text);
    return 0;
}

/* The body of an attach, or with a wrapped key blob (base64), of an import. */
int sksd_tool_attach_body(int argc, char **argv)
{
    unsigned char *cert, *chain, *blob = NULL;
    char *b64 = NULL, *s;
    size_t clen, chlen, blen = 0;
    json_t *body;

    if (argc != 4 && argc != 5)
        interop_die("usage: %s attach-body CERT CHAIN X5U [WRAPPED-BLOB]", interop_prog);
    cert = interop_read_file(argv[1], &clen);
    chain = interop_read_file(argv[2], &chlen);
    body = json_pack("{s:s, s:s, s:s}", "certificate", (char *)cert, "chain", (char *)chain, "x5u",
                     argv[3]);
    if (argc == 5) {
        blob = interop_read_file(argv[4], &blen);
        b64 = malloc(4 * (blen / 3 + 1) + 1);
        if (b64 == NULL)
            interop_die("out of memory");
        EVP_EncodeBlock((unsigned char *)b64, blob, (int)blen);
        json_object_set_new(body, "wrappedKey", json_string(b64));
    }
    s = json_dumps(body, JSON_COMPACT);
    fputs(s, stdout);
    free(s);
    json_decref(body);
    free(cert);
    free(chain);
    free(blob);
    free(b64);
    return 0;
}
