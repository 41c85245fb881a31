/*
 * bench_keystore: what the key store costs.
 *
 *   1. imports per second for each way in, through the library on one open
 *      key store: a software key, a wrapped key (RSA-OAEP + AES-KWP unwrapped
 *      in the token), and generate + attach (key pair and CSR in the token,
 *      certificate from the test PKI);
 *   2. signatures per second through the signing path sksd uses:
 *      sks_keystore_active(identity, 1000 ms) + p11_key_sign_message + put,
 *      each signature for a random identity, with 1, 100 and 10,000
 *      identities on the token (SKS_BENCH_IDENTITIES changes the largest).
 *      The target is rate(10,000) >= 0.9 x rate(1).
 *
 * Identities for case 2 are made with the software-key import, the same key
 * and certificate for all (the key store keeps one key object per version
 * regardless), so that making 10,000 stays within minutes on SoftHSM.
 *
 * Run by `make bench` through tests/bench-run.sh, which makes a token and
 * exports SOFTHSM2_CONF, SOFTHSM_MODULE, SKS_TOKEN_LABEL and SKS_PIN_FILE.
 * SKS_BENCH_SECONDS (default 3) is the length of one signing measurement;
 * SKS_BENCH_ROUNDS (default 5) the number of rounds, whose median is shown.
 * Signing is measured twice: as the token grows (N identities on the token),
 * and, on the full token, in rounds that alternate between signing for 1,
 * 100 and all identities, so that a machine's drift hits each size alike.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "p11/p11.h"
#include "keystore/keystore.h"
#include "testpki/testpki.h"

#define IMPORTS_PER_WAY 50
#define MAX_ROUNDS 9

struct bench {
    struct p11_token *tok;
    struct sks_keystore *ks;
    struct sks_testpki pki;
    X509_STORE *roots;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    X509 *cert;
    double seconds;
    int rounds;
    unsigned int nidentities; /* sp-00000 .. on the token */
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench_keystore: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : dflt;
}

static void open_store(struct bench *b)
{
    struct sks_keystore_config cfg;
    struct sks_error err;

    sks_keystore_config_init(&cfg);
    cfg.roots = b->roots;
    cfg.lock_dir = getenv("SKS_BENCH_DIR");
    if (sks_keystore_open(b->tok, &cfg, &b->ks, &err) != SKS_OK)
        die("%s", err.msg);
}

static void setup(struct bench *b)
{
    const char *module = getenv("SOFTHSM_MODULE"), *label = getenv("SKS_TOKEN_LABEL");
    const char *pin = getenv("SKS_PIN_FILE");
    char pin_source[4096], uri[256];
    struct p11_module *mod = NULL;
    P11KitUri *match = p11_kit_uri_new();
    struct sks_error err;

    if (module == NULL || label == NULL || pin == NULL)
        die("run through tests/bench-run.sh (SOFTHSM_MODULE, SKS_TOKEN_LABEL, SKS_PIN_FILE)");
    b->seconds = atof(env_or("SKS_BENCH_SECONDS", "3"));
    b->rounds = atoi(env_or("SKS_BENCH_ROUNDS", "5"));
    if (b->rounds < 1 || b->rounds > MAX_ROUNDS)
        b->rounds = 5;
    snprintf(uri, sizeof(uri), "pkcs11:token=%s", label);
    snprintf(pin_source, sizeof(pin_source), "file:%s", pin);
    if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_TOKEN, match) != P11_KIT_URI_OK ||
        p11_module_get(module, &mod, &err) != SKS_OK ||
        p11_token_find(mod, match, NULL, &b->tok, &err) != SKS_OK ||
        p11_token_set_pin_source(b->tok, pin_source, &err) != SKS_OK)
        die("cannot open the token: %s", err.msg);
    p11_module_put(mod);
    p11_kit_uri_free(match);
    if (sks_testpki_create(&b->pki, time(NULL), 365, &err) != SKS_OK ||
        sks_testpki_trust(&b->pki, &b->roots, &b->chain, &err) != SKS_OK ||
        sks_testpki_keygen(&b->key, &err) != SKS_OK ||
        sks_testpki_issue(&b->pki, b->key, "1234", NULL, &b->cert, &err) != SKS_OK)
        die("test PKI: %s", err.msg);
    open_store(b);
}

static struct sks_credentials creds(struct bench *b, X509 *cert)
{
    struct sks_credentials c = {cert != NULL ? cert : b->cert, b->chain,
                                "https://cert.example.org/bench.pem"};
    return c;
}

/* ---- 1. imports per second ------------------------------------------------------------- */

static void import_software(struct bench *b, const char *name)
{
    struct sks_credentials c = creds(b, NULL);
    struct sks_error err;

    if (sks_keystore_import_key(b->ks, name, b->key, &c, NULL, &err) != SKS_OK)
        die("import %s: %s", name, err.msg);
}

static void import_generated(struct bench *b, const char *name)
{
    BIO *csr = BIO_new(BIO_s_mem());
    X509_REQ *req = NULL;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;
    struct sks_credentials c;
    struct sks_error err;

    if (sks_keystore_generate(b->ks, name, "1234", csr, NULL, &err) != SKS_OK ||
        (req = PEM_read_bio_X509_REQ(csr, NULL, NULL, NULL)) == NULL ||
        sks_testpki_csr_pubkey(req, &pub, &err) != SKS_OK ||
        sks_testpki_issue(&b->pki, pub, "1234", NULL, &cert, &err) != SKS_OK)
        die("generate %s: %s", name, err.msg);
    c = creds(b, cert);
    if (sks_keystore_attach(b->ks, name, 0, &c, &err) != SKS_OK)
        die("attach %s: %s", name, err.msg);
    X509_free(cert);
    EVP_PKEY_free(pub);
    X509_REQ_free(req);
    BIO_free(csr);
}

static unsigned char *wrapped_blob;
static size_t wrapped_len;

static void import_wrapped(struct bench *b, const char *name)
{
    struct sks_credentials c = creds(b, NULL);
    struct sks_error err;

    if (sks_keystore_import_wrapped(b->ks, name, wrapped_blob, wrapped_len, &c, NULL, &err) !=
        SKS_OK)
        die("import wrapped %s: %s", name, err.msg);
}

static void imports(struct bench *b)
{
    static const struct {
        const char *name, *prefix;
        void (*fn)(struct bench *b, const char *name);
    } ways[] = {
        {"software key (PKCS#8 in memory)", "imp-sw", import_software},
        {"wrapped key (RSA-OAEP + AES-KWP in the token)", "imp-wr", import_wrapped},
        {"generate + CSR + attach", "imp-gen", import_generated},
    };
    EVP_PKEY *wpub = NULL;
    struct sks_error err;
    char name[64];
    size_t w;
    int i;

    if (sks_keystore_wrapping_key(b->ks, &wpub, &err) != SKS_OK ||
        sks_wrap_key(wpub, b->key, NULL, &wrapped_blob, &wrapped_len, &err) != SKS_OK)
        die("wrapping key: %s", err.msg);
    EVP_PKEY_free(wpub);
    printf("\n1. imports per second, one key store open, %d new identities each\n",
           IMPORTS_PER_WAY);
    for (w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
        double t0 = now_s(), dt;
        for (i = 0; i < IMPORTS_PER_WAY; i++) {
            snprintf(name, sizeof(name), "%s-%d", ways[w].prefix, i);
            ways[w].fn(b, name);
        }
        dt = now_s() - t0;
        printf("   %-50s %8.1f/s  (%.1f ms each)\n", ways[w].name, IMPORTS_PER_WAY / dt,
               1000 * dt / IMPORTS_PER_WAY);
    }
    free(wrapped_blob);
}

/* ---- 2. signing through the cache -------------------------------------------------------- */

static void identity_name(char *buf, size_t len, unsigned int i)
{
    snprintf(buf, len, "sp-%05u", i);
}

static void grow_to(struct bench *b, unsigned int n)
{
    double t0 = now_s();
    unsigned int first = b->nidentities;
    char name[32];

    while (b->nidentities < n) {
        identity_name(name, sizeof(name), b->nidentities);
        import_software(b, name);
        b->nidentities++;
        if (b->nidentities % 1000 == 0) {
            printf("   ... %u identities (%.0f/s)\n", b->nidentities,
                   (b->nidentities - first) / (now_s() - t0));
            fflush(stdout);
        }
    }
    if (n > first)
        printf("   made %u identities in %.1f s\n", n - first, now_s() - t0);
}

/* Signatures per second for random identities among the first |n|. */
static double sign_rate(struct bench *b, unsigned int n)
{
    static const unsigned char msg[200] = {0};
    unsigned char sig[P11_ES256_SIG_LEN];
    struct sks_active *a;
    struct sks_error err;
    char name[32];
    unsigned long count = 0;
    unsigned int r;
    double t0, t;

    t0 = now_s();
    do {
        for (int k = 0; k < 64; k++) {
            if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
                die("no randomness");
            identity_name(name, sizeof(name), r % n);
            if (sks_keystore_active(b->ks, name, 1000, &a, &err) != SKS_OK ||
                p11_key_sign_message(a->key, msg, sizeof(msg), sig, &err) != SKS_OK)
                die("sign with %s: %s", name, err.msg);
            sks_active_put(a);
            count++;
        }
        t = now_s() - t0;
    } while (t < b->seconds);
    return count / t;
}

/* Lookups per second alone (sks_keystore_active + put), random identities among the first |n|. */
static double lookup_rate(struct bench *b, unsigned int n)
{
    struct sks_active *a;
    struct sks_error err;
    char name[32];
    unsigned long count = 0;
    unsigned int r;
    double t0 = now_s(), t;

    do {
        for (int k = 0; k < 1024; k++) {
            if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
                die("no randomness");
            identity_name(name, sizeof(name), r % n);
            if (sks_keystore_active(b->ks, name, 1000, &a, &err) != SKS_OK)
                die("active %s: %s", name, err.msg);
            sks_active_put(a);
            count++;
        }
        t = now_s() - t0;
    } while (t < b->seconds / 3);
    return count / t;
}

/* A fresh cache, then one pass over every identity so that the measurement sees a warm one. */
static double warm_up(struct bench *b, unsigned int n)
{
    struct sks_active *a;
    struct sks_error err;
    char name[32];
    double t0;
    unsigned int i;

    sks_keystore_close(b->ks);
    open_store(b);
    t0 = now_s();
    for (i = 0; i < n; i++) {
        identity_name(name, sizeof(name), i);
        if (sks_keystore_active(b->ks, name, 1000, &a, &err) != SKS_OK)
            die("active %s: %s", name, err.msg);
        sks_active_put(a);
    }
    return now_s() - t0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;

    return (a > c) - (a < c);
}

static double median_rate(struct bench *b, unsigned int n)
{
    double rate[MAX_ROUNDS];
    int r;

    for (r = 0; r < b->rounds; r++)
        rate[r] = sign_rate(b, n);
    qsort(rate, (size_t)b->rounds, sizeof(double), cmp_double);
    return rate[b->rounds / 2];
}

static void signing(struct bench *b)
{
    unsigned int sizes[3] = {1, 100, 10000};
    double rate[3][MAX_ROUNDS], med[3], alone[3], warm[3];
    int s, r;

    sizes[2] = (unsigned int)atoi(env_or("SKS_BENCH_IDENTITIES", "10000"));
    printf("\n2. signatures per second: sks_keystore_active (max age 1000 ms) + "
           "p11_key_sign_message, random identity each time, 1 thread\n"
           "   a) as the token grows: N identities on the token, signing for all N\n");
    for (s = 0; s < 3; s++) {
        grow_to(b, sizes[s]);
        warm[s] = warm_up(b, sizes[s]);
        alone[s] = median_rate(b, sizes[s]);
        printf("   %6u identities: %8.0f/s  (median of %d x %.0f s; first pass over all, cold "
               "cache: %.2f s)\n",
               sizes[s], alone[s], b->rounds, b->seconds, warm[s]);
        fflush(stdout);
    }
    /* Machines drift: rounds alternate between the sizes, all on the full token. */
    printf("   b) on the token with %u identities, rounds alternating, signing for the first N\n",
           sizes[2]);
    for (r = 0; r < b->rounds; r++)
        for (s = 0; s < 3; s++)
            rate[s][r] = sign_rate(b, sizes[s]);
    for (s = 0; s < 3; s++) {
        qsort(rate[s], (size_t)b->rounds, sizeof(double), cmp_double);
        med[s] = rate[s][b->rounds / 2];
        printf("   %6u identities: %8.0f/s  (median of %d x %.0f s); lookup alone %.2f us\n",
               sizes[s], med[s], b->rounds, b->seconds, 1e6 / lookup_rate(b, sizes[s]));
    }
    printf("\n   ratio %u/1: a) %.3f  b) %.3f;  %u/1: a) %.3f  b) %.3f\n", sizes[1],
           alone[1] / alone[0], med[1] / med[0], sizes[2], alone[2] / alone[0], med[2] / med[0]);
    printf("   target rate(%u) >= 0.9 x rate(1): %s\n", sizes[2],
           alone[2] >= 0.9 * alone[0] && med[2] >= 0.9 * med[0] ? "met" : "NOT met");
}

int main(void)
{
    struct bench b = {0};

    setup(&b);
    printf("bench_keystore on %s\n", p11_token_uri(b.tok));
    imports(&b);
    signing(&b);
    sks_keystore_close(b.ks);
    p11_token_put(b.tok);
    X509_free(b.cert);
    EVP_PKEY_free(b.key);
    sk_X509_pop_free(b.chain, X509_free);
    X509_STORE_free(b.roots);
    sks_testpki_cleanup(&b.pki);
    return 0;
}
