/*
 * bench_sign: ES256 signatures per second over a 200-byte message (the size
 * of a SHAKEN PASSporT signing input), with 1 and 2 threads, four ways:
 *
 *   a) raw PKCS#11: SHA256() on the host, then C_SignInit + C_Sign(CKM_ECDSA)
 *      on a session copy of the token key, one session per thread.  This is
 *      the baseline: nothing can sign with the token faster.
 *   b) the sks provider: EVP_DigestSign with the key loaded through
 *      OSSL_STORE from its pkcs11: URI, a new EVP_MD_CTX per signature as
 *      SIP stacks do.
 *   c) OpenSSL's default provider with a software P-256 key, same loop.
 *   d) libp11's engine (ENGINE_by_id("pkcs11")), same loop; skipped when the
 *      engine is not installed.
 *   e) the sks provider again, but with one context per thread that
 *      EVP_DigestSignInit re-initialises for each signature: what the
 *      provider costs apart from OpenSSL's per-context set-up.
 *
 * All cases use the same token and the same key, made with `sksctl keygen`.
 * Rounds of all cases are interleaved so that a noisy machine slows every
 * case alike; each figure is the median of the rounds.  The target is
 * b >= 0.95 x a.
 *
 * Run by `make bench` through tests/bench-run.sh, which makes a token and
 * exports SOFTHSM2_CONF, SOFTHSM_MODULE, SKS_TOKEN_LABEL and SKS_PIN_FILE.
 * SKS_BENCH_SECONDS (default 2) sets the length of one measurement and
 * SKS_BENCH_ROUNDS (default 5) the number of rounds: short measurements, many
 * rounds, so that each ratio compares cases measured seconds apart.
 * SKS_BENCH_CASES (default "abcde") picks cases, for profiling one of them;
 * case a, the baseline, always runs.
 */
#include "config.h"

/* Case d drives libp11 through ENGINE, deprecated in 3.0 with no successor. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/store.h>

#include "p11/p11.h"

#define MSG_LEN 200
#define MAX_THREADS 2
#define MAX_ROUNDS 50
#define ES256_SIG_LEN 64
#define DER_SIG_MAX 72
#define P256_POINT_LEN 65
#define KEY_LABEL "bench-key"
#define KEY_ID "b0"

enum { CASE_RAW, CASE_SKS, CASE_SOFT, CASE_ENGINE, CASE_SKS_REINIT, NCASES };

/* What one thread needs to sign on its own in one case. */
struct signer {
    CK_FUNCTION_LIST *fl; /* case a */
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    EVP_PKEY *pkey;   /* cases b-e */
    EVP_MD_CTX *kept; /* case e: one context, re-initialised per signature */
    unsigned char sig[DER_SIG_MAX];
    size_t sig_len;
    long count;
    int failed;
};

struct bench_case {
    const char *name;
    int (*sign)(struct signer *s, const unsigned char *msg, size_t len);
    int raw_sig;         /* signatures are r || s, not DER */
    const char *skipped; /* why the case does not run, or NULL */
    struct signer signers[MAX_THREADS];
    double rate[MAX_THREADS][MAX_ROUNDS]; /* signatures/s, [threads - 1][round] */
    double cpu[MAX_THREADS][MAX_ROUNDS];  /* process CPU microseconds per signature */
};

struct bench {
    const char *module, *token, *pin_file, *sksctl;
    double seconds;
    int rounds;
    const char *only; /* SKS_BENCH_CASES */
    char *pin;
    char uri[1024];
    struct p11_module *mod;
    CK_FUNCTION_LIST *fl;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE login_session;
    CK_OBJECT_HANDLE token_key;
    EVP_PKEY *pub; /* software copy of the public key, for verification */
    ENGINE *engine;
    struct bench_case cases[NCASES];
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench_sign: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static const char *need_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || *v == '\0')
        die("%s is not set: run through `make bench` (tests/bench-run.sh)", name);
    return v;
}

static long env_number(const char *name, long dflt, long min, long max)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return dflt;
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < min || n > max)
        die("%s must be a number from %ld to %ld, not \"%s\"", name, min, max, v);
    return n;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- setup -------------------------------------------------------------- */

/* Runs sksctl keygen and keeps the private key URI it prints. */
static void make_key(struct bench *b)
{
    char *argv[] = {(char *)b->sksctl,
                    "keygen",
                    "--module",
                    (char *)b->module,
                    "--token",
                    (char *)b->token,
                    "--pin-file",
                    (char *)b->pin_file,
                    "--label",
                    KEY_LABEL,
                    "--id",
                    KEY_ID,
                    NULL};
    int fds[2], status;
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    if (pipe(fds) != 0 || (pid = fork()) < 0)
        die("cannot run %s", b->sksctl);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(b->sksctl, argv);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], b->uri + len, sizeof(b->uri) - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    b->uri[len] = '\0';
    b->uri[strcspn(b->uri, "\r\n")] = '\0';
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        strncmp(b->uri, "pkcs11:", 7) != 0)
        die("sksctl keygen failed (printed \"%s\")", b->uri);
}

static void read_pin(struct bench *b)
{
    FILE *f = fopen(b->pin_file, "r");
    char buf[256];
    size_t n;

    if (f == NULL)
        die("cannot open the PIN file %s", b->pin_file);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    b->pin = OPENSSL_strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (b->pin == NULL)
        die("out of memory");
}

static int label_is(const CK_UTF8CHAR padded[32], const char *label)
{
    size_t len = strlen(label), i;

    if (len > 32 || memcmp(padded, label, len) != 0)
        return 0;
    for (i = len; i < 32; i++)
        if (padded[i] != ' ')
            return 0;
    return 1;
}

static CK_OBJECT_HANDLE find_key(struct bench *b, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, KEY_LABEL, sizeof(KEY_LABEL) - 1},
    };
    CK_OBJECT_HANDLE h;
    CK_ULONG found = 0;

    if (b->fl->C_FindObjectsInit(b->login_session, tmpl, 2) != CKR_OK ||
        b->fl->C_FindObjects(b->login_session, &h, 1, &found) != CKR_OK ||
        b->fl->C_FindObjectsFinal(b->login_session) != CKR_OK || found != 1)
        die("the token has no %s key labelled %s", cls == CKO_PRIVATE_KEY ? "private" : "public",
            KEY_LABEL);
    return h;
}

/* The baseline loads the module through the p11 layer, then calls C_* itself. */
static void setup_pkcs11(struct bench *b)
{
    struct sks_error err = {0};
    CK_SLOT_ID slots[64];
    CK_ULONG nslots = 64, i;
    CK_TOKEN_INFO info;
    CK_RV rv;

    if (p11_module_get(b->module, &b->mod, &err) != SKS_OK)
        die("cannot load %s: %s", b->module, err.msg);
    b->fl = p11_module_functions(b->mod);
    if (b->fl->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
        die("C_GetSlotList failed");
    for (i = 0; i < nslots; i++)
        if (b->fl->C_GetTokenInfo(slots[i], &info) == CKR_OK && label_is(info.label, b->token))
            break;
    if (i == nslots)
        die("no token labelled %s", b->token);
    b->slot = slots[i];
    if (b->fl->C_OpenSession(b->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                             &b->login_session) != CKR_OK)
        die("C_OpenSession failed");
    rv = b->fl->C_Login(b->login_session, CKU_USER, (CK_UTF8CHAR *)b->pin, strlen(b->pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        die("C_Login failed: %s", p11_ckr_name(rv));
    b->token_key = find_key(b, CKO_PRIVATE_KEY);
}

/* The software copy of the public key comes from CKA_EC_POINT, not from the provider. */
static void setup_public_key(struct bench *b)
{
    unsigned char der[P256_POINT_LEN + 8];
    const unsigned char *p = der;
    CK_ATTRIBUTE attr = {CKA_EC_POINT, der, sizeof(der)};
    ASN1_OCTET_STRING *point = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", "provider=default");

    if (b->fl->C_GetAttributeValue(b->login_session, find_key(b, CKO_PUBLIC_KEY), &attr, 1) !=
            CKR_OK ||
        (point = d2i_ASN1_OCTET_STRING(NULL, &p, (long)attr.ulValueLen)) == NULL ||
        ASN1_STRING_length(point) != P256_POINT_LEN)
        die("cannot read the public key's CKA_EC_POINT");
    if (bld == NULL || ctx == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                          ASN1_STRING_get0_data(point), P256_POINT_LEN) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &b->pub, EVP_PKEY_PUBLIC_KEY, params) != 1)
        die("cannot make a software public key from CKA_EC_POINT");
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    ASN1_OCTET_STRING_free(point);
}

/* The provider is configured the way a daemon without openssl.cnf would be. */
static EVP_PKEY *load_sks_key(struct bench *b)
{
    char pin_source[1024];
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info;
    EVP_PKEY *key = NULL;

    snprintf(pin_source, sizeof(pin_source), "file:%s", b->pin_file);
    setenv("SKS_PKCS11_MODULE", b->module, 1);
    setenv("SKS_PKCS11_TOKEN_PIN", pin_source, 1);
    if (OSSL_PROVIDER_load(NULL, "default") == NULL || OSSL_PROVIDER_load(NULL, "sks") == NULL)
        die("cannot load the default and sks providers (is OPENSSL_MODULES set?)");
    store = OSSL_STORE_open(b->uri, NULL, NULL, NULL, NULL);
    if (store == NULL)
        die("OSSL_STORE_open(%s) failed", b->uri);
    while (key == NULL && !OSSL_STORE_eof(store)) {
        info = OSSL_STORE_load(store);
        if (info == NULL && OSSL_STORE_error(store))
            break;
        if (info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (key == NULL)
        die("the sks provider found no private key at %s", b->uri);
    return key;
}

/* NULL with the reason in *why when libp11's engine cannot be used. */
static EVP_PKEY *load_engine_key(struct bench *b, const char **why)
{
    char uri[512];
    EVP_PKEY *key;

    ENGINE_load_builtin_engines();
    b->engine = ENGINE_by_id("pkcs11");
    if (b->engine == NULL) {
        *why = "libp11's engine (ENGINE_by_id(\"pkcs11\")) is not installed";
        ERR_clear_error();
        return NULL;
    }
    /* libp11 takes the PIN through its PIN control command, in-process. */
    if (!ENGINE_ctrl_cmd_string(b->engine, "MODULE_PATH", b->module, 0) ||
        !ENGINE_init(b->engine) || !ENGINE_ctrl_cmd_string(b->engine, "PIN", b->pin, 0)) {
        *why = "libp11's engine did not initialise (see the errors above)";
        ERR_print_errors_fp(stderr);
        return NULL;
    }
    snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private", b->token, KEY_LABEL);
    key = ENGINE_load_private_key(b->engine, uri, NULL, NULL);
    if (key == NULL) {
        *why = "libp11's engine could not load the key (see the errors above)";
        ERR_print_errors_fp(stderr);
    }
    return key;
}

/* ---- signing ------------------------------------------------------------ */

static int sign_raw(struct signer *s, const unsigned char *msg, size_t len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_ULONG sig_len = ES256_SIG_LEN;

    SHA256(msg, len, digest);
    if (s->fl->C_SignInit(s->session, &mech, s->key) != CKR_OK ||
        s->fl->C_Sign(s->session, digest, sizeof(digest), s->sig, &sig_len) != CKR_OK)
        return 0;
    s->sig_len = sig_len;
    return 1;
}

/* As libjwt and Asterisk do it: a fresh context and EVP_DigestSignInit per signature. */
static int sign_evp(struct signer *s, const unsigned char *msg, size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sig_len = sizeof(s->sig);
    int ok;

    ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->pkey) == 1 &&
         EVP_DigestSign(md, s->sig, &sig_len, msg, len) == 1;
    EVP_MD_CTX_free(md);
    s->sig_len = ok ? sig_len : 0;
    return ok;
}

/*
 * A signer that keeps its context: EVP_DigestSignInit with no key and no
 * digest re-initialises it (OpenSSL's "reinit" path), which shows what the
 * provider costs apart from OpenSSL's per-context set-up.
 */
static int sign_evp_kept(struct signer *s, const unsigned char *msg, size_t len)
{
    size_t sig_len = sizeof(s->sig);
    int ok;

    if (s->kept == NULL) {
        s->kept = EVP_MD_CTX_new();
        ok = s->kept != NULL && EVP_DigestSignInit(s->kept, NULL, EVP_sha256(), NULL, s->pkey) == 1;
    } else {
        ok = EVP_DigestSignInit(s->kept, NULL, NULL, NULL, NULL) == 1;
    }
    ok = ok && EVP_DigestSign(s->kept, s->sig, &sig_len, msg, len) == 1;
    s->sig_len = ok ? sig_len : 0;
    return ok;
}

static int verify(struct bench *b, const struct bench_case *c, const struct signer *s,
                  const unsigned char *msg)
{
    unsigned char der[DER_SIG_MAX], *p = der;
    const unsigned char *sig = s->sig;
    size_t sig_len = s->sig_len;
    EVP_PKEY *pub = c == &b->cases[CASE_SOFT] ? s->pkey : b->pub;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    int ok = 0;

    if (c->raw_sig) {
        es = ECDSA_SIG_new();
        if (es == NULL || sig_len != ES256_SIG_LEN ||
            !ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)))
            goto end;
        sig_len = (size_t)i2d_ECDSA_SIG(es, &p);
        sig = der;
    }
    ok = md != NULL &&
         EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, "provider=default", pub, NULL) == 1 &&
         EVP_DigestVerify(md, sig, sig_len, msg, MSG_LEN) == 1;
end:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return ok;
}

/* Case a signs in one session per thread. */
static void setup_raw_signers(struct bench *b)
{
    struct signer *s;
    int t;

    for (t = 0; t < MAX_THREADS; t++) {
        s = &b->cases[CASE_RAW].signers[t];
        s->fl = b->fl;
        if (b->fl->C_OpenSession(b->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                 &s->session) != CKR_OK)
            die("C_OpenSession for thread %d failed", t);
    }
}

/*
 * Session objects are visible to every PKCS#11 user in the process, so the
 * copies exist only while case a runs: the other cases see the token as an
 * application would.  Falls back to the token object where copying is
 * refused.
 */
static void make_raw_copies(struct bench *b)
{
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE copy_tmpl[] = {{CKA_TOKEN, &no, sizeof(no)}};
    static int noted;
    struct signer *s;
    CK_RV rv;
    int t;

    for (t = 0; t < MAX_THREADS; t++) {
        s = &b->cases[CASE_RAW].signers[t];
        rv = b->fl->C_CopyObject(s->session, b->token_key, copy_tmpl, 1, &s->key);
        if (rv != CKR_OK) {
            if (!noted++)
                printf("note: C_CopyObject refused (%s); case a signs with the token object\n",
                       p11_ckr_name(rv));
            s->key = b->token_key;
        }
    }
}

static void drop_raw_copies(struct bench *b)
{
    struct signer *s;
    int t;

    for (t = 0; t < MAX_THREADS; t++) {
        s = &b->cases[CASE_RAW].signers[t];
        if (s->key != b->token_key && b->fl->C_DestroyObject(s->session, s->key) != CKR_OK)
            die("C_DestroyObject on the session copy of thread %d failed", t);
        s->key = CK_INVALID_HANDLE;
    }
}

/* ---- measuring ---------------------------------------------------------- */

struct run {
    struct bench_case *c;
    struct signer *s;
    const unsigned char *msg;
    pthread_barrier_t *start;
    atomic_int *stop;
};

static void *run_signer(void *arg)
{
    struct run *r = arg;

    pthread_barrier_wait(r->start);
    while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
        if (!r->c->sign(r->s, r->msg, MSG_LEN)) {
            r->s->failed = 1;
            fprintf(stderr, "bench_sign: %s: a signature failed\n", r->c->name);
            ERR_print_errors_fp(stderr);
            break;
        }
        r->s->count++;
    }
    return NULL;
}

/*
 * Signatures per second of |c| with |nthreads| threads for b->seconds, into
 * c->rate; the process CPU time per signature into c->cpu, which a busy
 * machine disturbs far less than the wall-clock rate.
 */
static void measure(struct bench *b, struct bench_case *c, int nthreads, int round,
                    const unsigned char *msg)
{
    struct timespec pause = {(time_t)b->seconds, 0};
    pthread_t threads[MAX_THREADS];
    struct run runs[MAX_THREADS];
    pthread_barrier_t start;
    atomic_int stop = 0;
    double t0, t1, cpu0, cpu1;
    long total = 0;
    int t;

    pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    for (t = 0; t < nthreads; t++) {
        c->signers[t].count = 0;
        c->signers[t].failed = 0;
        runs[t] = (struct run){c, &c->signers[t], msg, &start, &stop};
        if (pthread_create(&threads[t], NULL, run_signer, &runs[t]) != 0)
            die("cannot start a thread");
    }
    pthread_barrier_wait(&start);
    t0 = clock_seconds(CLOCK_MONOTONIC);
    cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    for (t = 0; t < nthreads; t++)
        pthread_join(threads[t], NULL);
    t1 = clock_seconds(CLOCK_MONOTONIC);
    cpu1 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    pthread_barrier_destroy(&start);

    for (t = 0; t < nthreads; t++) {
        if (c->signers[t].failed)
            die("%s: signing failed", c->name);
        if (!verify(b, c, &c->signers[t], msg))
            die("%s: a signature does not verify with the public key", c->name);
        total += c->signers[t].count;
    }
    c->rate[nthreads - 1][round] = (double)total / (t1 - t0);
    c->cpu[nthreads - 1][round] = (cpu1 - cpu0) * 1e6 / (double)total;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double sorted[MAX_ROUNDS];

    memcpy(sorted, v, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/*
 * The ratio of |c| to case a in each round, where both ran seconds apart;
 * the median of those is steadier on a noisy machine than a ratio of
 * medians.  |cpu| compares CPU time per signature instead (a over c, so that
 * above 1 means c is cheaper, as with rates).
 */
static double ratio_to_raw(const struct bench *b, const struct bench_case *c, int t, int cpu)
{
    const struct bench_case *a = &b->cases[CASE_RAW];
    double r[MAX_ROUNDS];
    int round;

    for (round = 0; round < b->rounds; round++)
        r[round] =
            cpu ? a->cpu[t][round] / c->cpu[t][round] : c->rate[t][round] / a->rate[t][round];
    return median(r, b->rounds);
}

static void print_table(const struct bench *b, const char *title, int cpu)
{
    const struct bench_case *c;
    int i, t;

    printf("\n%-48s %12s %12s\n", title, "1 thread", "2 threads");
    for (i = 0; i < NCASES; i++) {
        c = &b->cases[i];
        printf("%-48s", c->name);
        if (c->skipped != NULL) {
            printf(" skipped: %s\n", c->skipped);
            continue;
        }
        for (t = 0; t < MAX_THREADS; t++) {
            if (cpu)
                printf(" %9.1f us", median(c->cpu[t], b->rounds));
            else
                printf(" %10.0f/s", median(c->rate[t], b->rounds));
        }
        printf("\n");
    }
}

static void print_ratios(const struct bench *b, const char *title, int cpu)
{
    const struct bench_case *c;
    int i, t;

    printf("\n%-48s %12s %12s\n", title, "1 thread", "2 threads");
    for (i = CASE_SKS; i < NCASES; i++) {
        c = &b->cases[i];
        if (c->skipped != NULL)
            continue;
        printf("%c/a %-44s", "abcde"[i], c -> name + 3);
        for (t = 0; t < MAX_THREADS; t++)
            printf(" %12.3f", ratio_to_raw(b, c, t, cpu));
        printf("\n");
    }
}

static void report(const struct bench *b)
{
    double m;
    int t;

    printf("\nES256, %d-byte message, %.0f s per measurement, median of %d rounds\n", MSG_LEN,
           b->seconds, b->rounds);
    print_table(b, "signatures per second", 0);
    print_ratios(b, "throughput ratio to a) (median of per-round)", 0);
    print_table(b, "process CPU time per signature", 1);
    print_ratios(b, "CPU-time ratio a)/x (above 1: cheaper than a)", 1);
    printf("\n");
    for (t = 0; t < MAX_THREADS; t++) {
        m = ratio_to_raw(b, &b->cases[CASE_SKS], t, 0);
        printf("target b >= 0.95 x a with %d thread%s: %s (%.3f)\n", t + 1, t ? "s" : "",
               m >= 0.95 ? "met" : "NOT met", m);
    }
}

static void init_cases(struct bench *b, EVP_PKEY *sks_key, EVP_PKEY *soft_key, EVP_PKEY *engine_key,
                       const char *engine_why)
{
    static const char *names[NCASES] = {
        "a) raw PKCS#11 C_Sign(CKM_ECDSA), host SHA-256",
        "b) sks provider, EVP_DigestSign",
        "c) default provider, software key",
        "d) libp11 engine, EVP_DigestSign",
        "e) sks provider, kept context re-initialised",
    };
    EVP_PKEY *keys[NCASES] = {NULL, sks_key, soft_key, engine_key, sks_key};
    int i, t;

    for (i = 0; i < NCASES; i++) {
        b->cases[i].name = names[i];
        b->cases[i].sign = i == CASE_RAW          ? sign_raw
                           : i == CASE_SKS_REINIT ? sign_evp_kept
                                                  : sign_evp;
        b->cases[i].raw_sig = i == CASE_RAW;
        for (t = 0; t < MAX_THREADS && i != CASE_RAW; t++)
            b->cases[i].signers[t].pkey = keys[i];
    }
    if (engine_key == NULL)
        b->cases[CASE_ENGINE].skipped = engine_why;
    for (i = CASE_SKS; i < NCASES; i++)
        if (b->only != NULL && strchr(b->only, "abcde"[i]) == NULL)
            b->cases[i].skipped = "not in SKS_BENCH_CASES";
}

int main(void)
{
    struct bench b = {0};
    unsigned char msg[MSG_LEN];
    EVP_PKEY *sks_key, *soft_key, *engine_key;
    const char *engine_why = NULL;
    int round, t, i, k;

    b.module = need_env("SOFTHSM_MODULE");
    b.token = need_env("SKS_TOKEN_LABEL");
    b.pin_file = need_env("SKS_PIN_FILE");
    need_env("SOFTHSM2_CONF");
    b.sksctl = getenv("SKSCTL") ? getenv("SKSCTL") : "./sksctl";
    b.seconds = (double)env_number("SKS_BENCH_SECONDS", 2, 1, 600);
    b.rounds = (int)env_number("SKS_BENCH_ROUNDS", 5, 1, MAX_ROUNDS);
    b.only = getenv("SKS_BENCH_CASES");
    if (getenv("top_builddir") != NULL && getenv("SKSCTL") == NULL) {
        static char path[1024];

        snprintf(path, sizeof(path), "%s/sksctl", getenv("top_builddir"));
        b.sksctl = path;
    }
    /* A PASSporT signing input is base64url text of about this size. */
    for (i = 0; i < MSG_LEN; i++)
        msg[i] =
            (unsigned char)"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i %
                                                                                              64];

    make_key(&b);
    read_pin(&b);
    setup_pkcs11(&b);
    setup_public_key(&b);
    setup_raw_signers(&b);
    sks_key = load_sks_key(&b);
    soft_key = EVP_PKEY_Q_keygen(NULL, "provider=default", "EC", "P-256");
    if (soft_key == NULL)
        die("cannot generate a software P-256 key");
    engine_key = load_engine_key(&b, &engine_why);
    OPENSSL_clear_free(b.pin, strlen(b.pin));
    b.pin = NULL;
    init_cases(&b, sks_key, soft_key, engine_key, engine_why);

    printf("key %s\n", b.uri);
    for (round = 0; round < b.rounds; round++) {
        for (t = 0; t < MAX_THREADS; t++) {
            printf("round %d, %d thread%s:", round + 1, t + 1, t ? "s" : "");
            for (k = 0; k < NCASES; k++) {
                /* a b c d, then d c b a: slow drift weighs on every case alike. */
                i = round % 2 ? NCASES - 1 - k : k;
                if (b.cases[i].skipped != NULL)
                    continue;
                if (i == CASE_RAW)
                    make_raw_copies(&b);
                measure(&b, &b.cases[i], t + 1, round, msg);
                if (i == CASE_RAW)
                    drop_raw_copies(&b);
                printf(" %c %.0f/s", "abcde"[i], b.cases[i].rate[t][round]);
                fflush(stdout);
            }
            printf("\n");
        }
    }
    report(&b);

    EVP_PKEY_free(engine_key);
    EVP_PKEY_free(soft_key);
    EVP_PKEY_free(sks_key);
    EVP_PKEY_free(b.pub);
    for (t = 0; t < MAX_THREADS; t++)
        b.fl->C_CloseSession(b.cases[CASE_RAW].signers[t].session);
    b.fl->C_CloseSession(b.login_session);
    p11_module_put(b.mod);
    /* Last: libp11 may finalise the module when its engine goes. */
    if (b.engine != NULL) {
        ENGINE_finish(b.engine);
        ENGINE_free(b.engine);
    }
    return 0;
}
