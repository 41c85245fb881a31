#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>

#include "tests/interop/interop.h"

#define INTEROP_FILE_MAX (1024 * 1024)

/* Verification runs in the default provider, never in the one that signed. */
#define SOFT_PROPQ "provider=default"

const char *interop_prog = "interop";

static void vreport(const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", interop_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    ERR_print_errors_fp(stderr);
}

void interop_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    flockfile(stderr);
    vreport(fmt, ap);
    funlockfile(stderr);
    va_end(ap);
}

void interop_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    exit(1);
}

unsigned char *interop_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(INTEROP_FILE_MAX + 1);
    size_t n;

    if (f == NULL || buf == NULL)
        interop_die("cannot open %s", path);
    n = fread(buf, 1, INTEROP_FILE_MAX + 1, f);
    if (ferror(f) || n > INTEROP_FILE_MAX)
        interop_die("cannot read %s (or larger than 1 MiB)", path);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

void interop_write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        interop_die("cannot write %s", path);
}

void interop_run_script(const char *self, const char *script, const char *env)
{
    const char *srcdir = getenv("top_srcdir");
    char path[PATH_MAX], exe[PATH_MAX];

    if (srcdir == NULL)
        interop_die("top_srcdir is not set: run through make bench");
    if (realpath(self, exe) == NULL)
        interop_die("cannot resolve %s", self);
    snprintf(path, sizeof(path), "%s/%s", srcdir, script);
    setenv(env, exe, 1);
    execl("/bin/sh", "sh", path, (char *)NULL);
    interop_die("cannot run %s", path);
}

long interop_parse_count(const char *s, long max, const char *what)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || n < 1 || n > max)
        interop_die("%s must be a number from 1 to %ld, not \"%s\"", what, max, s);
    return n;
}

static EVP_PKEY *load_from_store(const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *priv = NULL, *pub = NULL;

    if (store == NULL)
        interop_die("OSSL_STORE_open(%s) failed", uri);
    while (priv == NULL && !OSSL_STORE_eof(store)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);

        if (info == NULL) {
            if (OSSL_STORE_error(store))
                break;
            continue;
        }
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            priv = OSSL_STORE_INFO_get1_PKEY(info);
        else if (pub == NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PUBKEY)
            pub = OSSL_STORE_INFO_get1_PUBKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (priv != NULL) {
        EVP_PKEY_free(pub);
        return priv;
    }
    if (pub == NULL)
        interop_die("no key found at %s", uri);
    return pub;
}

/* What PEM_read_bio_PrivateKey does underneath, without the legacy wrapper. */
static EVP_PKEY *load_from_decoder(const char *path)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *key = NULL;
    BIO *bio = BIO_new_file(path, "r");

    if (bio == NULL)
        interop_die("cannot open %s", path);
    dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL || OSSL_DECODER_from_bio(dctx, bio) != 1 || key == NULL)
        interop_die("OSSL_DECODER found no private key in %s", path);
    OSSL_DECODER_CTX_free(dctx);
    BIO_free(bio);
    return key;
}

EVP_PKEY *interop_load_key(const char *spec)
{
    if (strncmp(spec, "pkcs11:", 7) == 0)
        return load_from_store(spec);
    return load_from_decoder(spec);
}

EVP_PKEY *interop_load_soft_pubkey(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *pub;

    if (bio == NULL)
        interop_die("cannot open %s", path);
    pub = PEM_read_bio_PUBKEY_ex(bio, NULL, NULL, NULL, NULL, SOFT_PROPQ);
    BIO_free(bio);
    if (pub == NULL)
        interop_die("%s is not a PEM public key", path);
    return pub;
}

size_t interop_sign(EVP_PKEY *key, const unsigned char *msg, size_t len,
                    unsigned char sig[INTEROP_DER_SIG_MAX])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = INTEROP_DER_SIG_MAX;

    if (md == NULL || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(md, sig, &siglen, msg, len) != 1)
        siglen = 0;
    EVP_MD_CTX_free(md);
    return siglen;
}

int interop_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len, const unsigned char *sig,
                   size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = 0;

    if (md != NULL && EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, SOFT_PROPQ, pub, NULL) == 1)
        ok = EVP_DigestVerify(md, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

struct verify_run {
    EVP_PKEY *key;
    const unsigned char *msg, *sig;
    size_t siglen;
    double seconds;
    unsigned long long n;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *verify_thread(void *arg)
{
    struct verify_run *v = arg;
    double end = now_s() + v->seconds;

    while (now_s() < end) {
        if (!interop_verify(v->key, v->msg, 200, v->sig, v->siglen))
            interop_die("ECDSA verify failed");
        v->n++;
    }
    return NULL;
}

double interop_raw_verify_rate(unsigned int threads, double seconds)
{
    unsigned char msg[200], sig[INTEROP_DER_SIG_MAX];
    struct verify_run *v = calloc(threads, sizeof(*v));
    pthread_t *t = calloc(threads, sizeof(*t));
    EVP_PKEY *key = EVP_EC_gen("P-256");
    unsigned long long n = 0;
    size_t siglen;
    unsigned int i;
    double t0;

    if (v == NULL || t == NULL || key == NULL)
        interop_die("cannot set up the raw verify baseline");
    memset(msg, 'a', sizeof(msg));
    if ((siglen = interop_sign(key, msg, sizeof(msg), sig)) == 0)
        interop_die("cannot sign the raw verify baseline's message");
    t0 = now_s();
    for (i = 0; i < threads; i++) {
        v[i] = (struct verify_run){key, msg, sig, siglen, seconds, 0};
        if (pthread_create(&t[i], NULL, verify_thread, &v[i]) != 0)
            interop_die("cannot start verify thread %u", i);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        n += v[i].n;
    }
    t0 = now_s() - t0;
    EVP_PKEY_free(key);
    free(v);
    free(t);
    return (double)n / t0;
}
