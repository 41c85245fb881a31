/*
 * bench_sksd: sksd's figures, run by `make bench`.
 *
 * With no arguments (as tests/bench-run.sh starts it) it runs
 * tests/bench/bench_sksd.sh, which makes a token and a test PKI, starts
 * sksd and calls this program back for each measurement:
 *
 *   bench_sksd load HOST PORT REQUESTS CONNS [RATE]
 *       keep-alive signing requests from this process (answers are checked
 *       for 200 and a signingResponse, not verified: the figure is the
 *       daemon's); prints "requests=... rate=... p50_us=... p99_us=...",
 *       latency from when each request was due, and sent_p50_us/sent_p99_us,
 *       from when it was sent.
 *   bench_sksd verify-load HOST PORT REQUESTS CONNS BODY-FILE [RATE]
 *       the same with the verificationRequest in BODY-FILE, to
 *       /stir/v1/verification; every answer must say TN-Validation-Passed.
 *       Without RATE the connections are driven from one epoll thread
 *       (verify_flood below), so that the client takes little of the CPU
 *       it shares with sksd.
 *   bench_sksd raw-verify THREADS SECONDS
 *       the verifier's baseline: raw OpenSSL ES256 verifications per second
 *       (interop_raw_verify_rate); prints "raw_verify_rate=...".
 *   bench_sksd raw LABEL THREADS SECONDS
 *       the baseline: raw PKCS#11 ES256 signing on the same token with the
 *       private key labelled LABEL (SHA-256 on the host, then C_SignInit +
 *       C_Sign with CKM_ECDSA, one session per thread, over a 200-byte
 *       message, the size of a PASSporT signing input); prints "raw_rate=...".
 *
 * The token comes from SOFTHSM_MODULE, SKS_TOKEN_LABEL and SKS_PIN_FILE.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "p11/p11.h"
#include "tests/interop/interop.h"
#include "tests/interop/sksd_load.h"

#define MSG_LEN 200
#define BENCH_BODY                                                                                 \
    "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},"                   \
    "\"orig\":{\"tn\":\"12155550121\"}}}"

/* ---- verify_flood ---------------------------------------------------------- */

/*
 * Keep-alive verification requests as fast as answers come, on |o->conns|
 * connections from this one thread: each connection sends its next request
 * when its answer is in.  The request is built once; an answer counts when
 * it is a 200 whose body holds "verstat":"TN-Validation-Passed" (sksd
 * writes that member compact), so the client parses no JSON.  The
 * thread-per-connection load generator (load_run) costs about 20 us of CPU
 * per request on the two cores sksd has; most of that is its threads
 * blocking and waking.
 */
struct flood_conn {
    int fd;
    char buf[4096];
    size_t have;
    double sent;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_us(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void flood_note(struct load_result *res, const char *what, const char *answer)
{
    if (res->first_error[0] == '\0')
        snprintf(res->first_error, sizeof(res->first_error), "%s: %.400s", what, answer);
}

/* 1: an answer is complete in |k| (judged, and taken off the buffer); 0: not yet; -1: broken. */
static int flood_answer(struct flood_conn *k, struct load_result *res)
{
    const char *end = memmem(k->buf, k->have, "\r\n\r\n", 4), *cl;
    size_t head, clen;
    int status, closing;

    if (end == NULL)
        return k->have >= sizeof(k->buf) - 1 ? -1 : 0;
    head = (size_t)(end + 4 - k->buf);
    /* The head, as a string for a moment. */
    k->buf[head - 1] = '\0';
    cl = strcasestr(k->buf, "\r\nContent-Length:");
    clen = cl != NULL ? strtoul(cl + 17, NULL, 10) : 0;
    closing = strcasestr(k->buf, "\r\nConnection: close") != NULL;
    if (sscanf(k->buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    k->buf[head - 1] = '\n';
    if (status == 0 || closing || head + clen >= sizeof(k->buf))
        return -1;
    if (k->have < head + clen)
        return 0;
    if (status != 200) {
        res->http_errors++;
        flood_note(res, "non-200 answer", k->buf);
    } else if (memmem(k->buf + head, clen, "\"verstat\":\"TN-Validation-Passed\"", 32) == NULL) {
        res->bad++;
        flood_note(res, "200 without TN-Validation-Passed", k->buf + head);
    } else {
        res->ok++;
    }
    memmove(k->buf, k->buf + head + clen, k->have - head - clen);
    k->have -= head + clen;
    return 1;
}

static int verify_flood(const struct load_opts *o, struct load_result *res)
{
    struct flood_conn *k = calloc(o->conns, sizeof(*k));
    double *lat = malloc((o->requests + 1) * sizeof(*lat)), t0;
    struct epoll_event ev[64];
    unsigned long sent = 0, answered = 0;
    size_t blen = strlen(o->body), rlen;
    char *req;
    int ep = epoll_create1(EPOLL_CLOEXEC), n, i;
    unsigned int c;

    memset(res, 0, sizeof(*res));
    if (k == NULL || lat == NULL || ep < 0 || (req = malloc(blen + 512)) == NULL)
        interop_die("cannot set up the verification load");
    rlen = (size_t)snprintf(req, 512,
                            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                            "Accept: application/json\r\nContent-Length: %zu\r\n\r\n",
                            o->path, o->host, blen);
    memcpy(req + rlen, o->body, blen);
    rlen += blen;
    t0 = now_s();
    for (c = 0; c < o->conns && sent < o->requests; c++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = c};

        if ((k[c].fd = http_connect(o->host, o->port)) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, k[c].fd, &e) != 0)
            interop_die("cannot connect to %s:%u", o->host, o->port);
        k[c].sent = now_s();
        if (send(k[c].fd, req, rlen, MSG_NOSIGNAL) != (ssize_t)rlen)
            interop_die("cannot send a request");
        sent++;
    }
    while (answered < sent) {
        if ((n = epoll_wait(ep, ev, 64, 10000)) <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            res->io_errors += sent - answered;
            flood_note(res, "no answer within 10 s", "");
            break;
        }
        for (i = 0; i < n; i++) {
            struct flood_conn *q = &k[ev[i].data.u32];
            ssize_t r = recv(q->fd, q->buf + q->have, sizeof(q->buf) - 1 - q->have, MSG_DONTWAIT);
            int done;

            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                interop_die("connection %u closed after %lu answers", ev[i].data.u32, answered);
            q->have += (size_t)r;
            q->buf[q->have] = '\0';
            if ((done = flood_answer(q, res)) < 0)
                interop_die("connection %u: an answer that cannot be read: %.200s", ev[i].data.u32,
                            q->buf);
            if (done == 0)
                continue;
            lat[answered++] = (now_s() - q->sent) * 1e6;
            if (sent < o->requests) {
                q->sent = now_s();
                if (send(q->fd, req, rlen, MSG_NOSIGNAL) != (ssize_t)rlen)
                    interop_die("cannot send a request");
                sent++;
            }
        }
    }
    res->seconds = now_s() - t0;
    if (answered > 0) {
        qsort(lat, answered, sizeof(*lat), cmp_us);
        res->p50_us = res->svc_p50_us = lat[answered / 2];
        res->p99_us = res->svc_p99_us = lat[answered * 99 / 100];
        res->max_us = lat[answered - 1];
    }
    for (c = 0; c < o->conns; c++) {
        if (k[c].fd > 0)
            close(k[c].fd);
    }
    close(ep);
    free(req);
    free(lat);
    free(k);
    return res->ok == o->requests ? 0 : -1;
}

/* load and verify-load: the requests of |o| from this process, and the figures. */
static int load(struct load_opts *o, int argc, char **argv, int rate_arg)
{
    struct load_result res;

    o->host = argv[1];
    o->port = (unsigned int)interop_parse_count(argv[2], 65535, "PORT");
    o->requests = (unsigned long)interop_parse_count(argv[3], 100000000, "REQUESTS");
    o->conns = (unsigned int)interop_parse_count(argv[4], 1024, "CONNS");
    o->rate = argc > rate_arg ? atof(argv[rate_arg]) : 0;
    if (o->verification && o->rate == 0)
        verify_flood(o, &res);
    else
        load_run(o, &res);
    printf("requests=%lu ok=%lu errors=%lu seconds=%.3f rate=%.0f p50_us=%.0f p99_us=%.0f "
           "max_us=%.0f sent_p50_us=%.0f sent_p99_us=%.0f\n",
           o->requests, res.ok, res.http_errors + res.bad + res.io_errors, res.seconds,
           (double)res.ok / res.seconds, res.p50_us, res.p99_us, res.max_us, res.svc_p50_us,
           res.svc_p99_us);
    if (res.first_error[0] != '\0')
        printf("first error: %s\n", res.first_error);
    return res.ok == o->requests ? 0 : 1;
}

static int run_load(int argc, char **argv)
{
    struct load_opts o = {0};

    if (argc != 5 && argc != 6)
        interop_die("usage: bench_sksd load HOST PORT REQUESTS CONNS [RATE]");
    o.path = "/stir/v1/signing";
    o.body = BENCH_BODY;
    return load(&o, argc, argv, 5);
}

static int run_verify_load(int argc, char **argv)
{
    struct load_opts o = {0};
    size_t len;
    char *body;
    int rc;

    if (argc != 6 && argc != 7)
        interop_die("usage: bench_sksd verify-load HOST PORT REQUESTS CONNS BODY-FILE [RATE]");
    body = (char *)interop_read_file(argv[5], &len);
    o.path = "/stir/v1/verification";
    o.body = body;
    o.verification = true;
    rc = load(&o, argc, argv, 6);
    free(body);
    return rc;
}

static int run_raw_verify(int argc, char **argv)
{
    unsigned int threads;
    double secs;

    if (argc != 3)
        interop_die("usage: bench_sksd raw-verify THREADS SECONDS");
    threads = (unsigned int)interop_parse_count(argv[1], 64, "THREADS");
    secs = (double)interop_parse_count(argv[2], 600, "SECONDS");
    printf("raw_verify_rate=%.0f threads=%u\n", interop_raw_verify_rate(threads, secs), threads);
    return 0;
}

/* ---- raw PKCS#11 ------------------------------------------------------------ */

struct raw {
    CK_FUNCTION_LIST *fl;
    CK_SLOT_ID slot;
    const char *label;
    double seconds;
    long count;
    int failed;
};

static CK_OBJECT_HANDLE find_key(CK_FUNCTION_LIST *fl, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (fl->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
        return CK_INVALID_HANDLE;
    fl->C_FindObjects(s, &h, 1, &n);
    fl->C_FindObjectsFinal(s);
    return n == 1 ? h : CK_INVALID_HANDLE;
}

static void *raw_worker(void *arg)
{
    struct raw *r = arg;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    unsigned char msg[MSG_LEN], digest[SHA256_DIGEST_LENGTH], sig[64];
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    double end;

    memset(msg, 'a', sizeof(msg));
    if (r->fl->C_OpenSession(r->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
        (key = find_key(r->fl, s, r->label)) == CK_INVALID_HANDLE) {
        r->failed = 1;
        return NULL;
    }
    end = now_s() + r->seconds;
    while (now_s() < end) {
        CK_ULONG siglen = sizeof(sig);

        msg[r->count % MSG_LEN]++;
        SHA256(msg, sizeof(msg), digest);
        if (r->fl->C_SignInit(s, &mech, key) != CKR_OK ||
            r->fl->C_Sign(s, digest, sizeof(digest), sig, &siglen) != CKR_OK) {
            r->failed = 1;
            break;
        }
        r->count++;
    }
    r->fl->C_CloseSession(s);
    return NULL;
}

/* The slot of the token labelled |label|, logged in with the PIN in |pin_file|. */
static CK_SLOT_ID open_token(CK_FUNCTION_LIST *fl, const char *label, const char *pin_file)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;
    CK_SESSION_HANDLE s;
    size_t pin_len;
    unsigned char *pin = interop_read_file(pin_file, &pin_len);
    CK_RV rv;

    while (pin_len > 0 && (pin[pin_len - 1] == '\n' || pin[pin_len - 1] == '\r'))
        pin_len--;
    if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        interop_die("C_GetSlotList failed");
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        if (fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            strncmp((const char *)ti.label, label, strlen(label)) == 0)
            break;
    }
    if (i == n)
        interop_die("no token labelled %s", label);
    if (fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        interop_die("C_OpenSession failed");
    rv = fl->C_Login(s, CKU_USER, pin, pin_len);
    OPENSSL_cleanse(pin, pin_len);
    free(pin);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        interop_die("C_Login: %s", p11_ckr_name(rv));
    /* The session stays open: the login lasts while one session does. */
    return slots[i];
}

static int run_raw(int argc, char **argv)
{
    const char *module = getenv("SOFTHSM_MODULE"), *token = getenv("SKS_TOKEN_LABEL");
    const char *pin = getenv("SKS_PIN_FILE");
    struct raw r[64];
    pthread_t t[64];
    struct p11_module *mod = NULL;
    struct sks_error err;
    CK_FUNCTION_LIST *fl;
    CK_SLOT_ID slot;
    long total = 0, threads, i;
    double secs;

    if (argc != 4 || module == NULL || token == NULL || pin == NULL)
        interop_die("usage: bench_sksd raw LABEL THREADS SECONDS (with the token's environment)");
    threads = interop_parse_count(argv[2], 64, "THREADS");
    secs = (double)interop_parse_count(argv[3], 3600, "SECONDS");
    if (p11_module_get(module, &mod, &err) != SKS_OK)
        interop_die("%s", err.msg);
    fl = p11_module_functions(mod);
    slot = open_token(fl, token, pin);
    for (i = 0; i < threads; i++) {
        r[i] = (struct raw){fl, slot, argv[1], secs, 0, 0};
        pthread_create(&t[i], NULL, raw_worker, &r[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (r[i].failed)
            interop_die("raw signing with %s failed", argv[1]);
        total += r[i].count;
    }
    printf("raw_rate=%.0f threads=%ld signatures=%ld\n", (double)total / secs, threads, total);
    return 0;
}

int main(int argc, char **argv)
{
    interop_prog = "bench_sksd";
    if (argc == 1)
        interop_run_script(argv[0], "tests/bench/bench_sksd.sh", "BENCH_SKSD");
    if (strcmp(argv[1], "load") == 0)
        return run_load(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify-load") == 0)
        return run_verify_load(argc - 1, argv + 1);
    if (strcmp(argv[1], "raw-verify") == 0)
        return run_raw_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "raw") == 0)
        return run_raw(argc - 1, argv + 1);
    if (strcmp(argv[1], "json") == 0)
        return sksd_tool_json(argc - 1, argv + 1);
    if (strcmp(argv[1], "attach-body") == 0)
        return sksd_tool_attach_body(argc - 1, argv + 1);
    interop_die("usage: bench_sksd [load ... | verify-load ... | raw-verify ... | raw ...]");
}
