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

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* load and verify-load: the requests of |o| from this process, and the figures. */
static int load(struct load_opts *o, int argc, char **argv, int rate_arg)
{
    struct load_result res;

    o->host = argv[1];
    o->port = (unsigned int)interop_parse_count(argv[2], 65535, "PORT");
    o->requests = (unsigned long)interop_parse_count(argv[3], 100000000, "REQUESTS");
    o->conns = (unsigned int)interop_parse_count(argv[4], 1024, "CONNS");
    o->rate = argc > rate_arg ? atof(argv[rate_arg]) : 0;
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

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
