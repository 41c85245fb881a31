/*
 * bench_hsm_latency: sksd and the provider on a token that answers C_Sign
 * as slowly as a network HSM does, run by `make bench`.
 *
 * With no arguments (as tests/bench-run.sh starts it) it runs
 * tests/bench/bench_hsm_latency.sh, which makes the tokens, starts sksd
 * (through tests/p11fault, which delays C_Sign), HAProxy and a p11-kit
 * server, and calls this program back for what the shell cannot do:
 *
 *   bench_hsm_latency get HOST PORT PATH REQUESTS CONNS
 *       keep-alive GETs of PATH (any 200 counts); prints the same line as
 *       bench_sksd load: "requests=... rate=... p50_us=... p99_us=...".
 *   bench_hsm_latency populate COUNT
 *       COUNT identities hsm-00000... on the token of the environment
 *       (SOFTHSM_MODULE, SKS_TOKEN_LABEL, SKS_PIN_FILE), each with one
 *       active version, imported as a software key as bench_keystore does:
 *       the same key and certificate for all, so that 10,000 take minutes.
 *   bench_hsm_latency provider KEY-URI THREADS SECONDS
 *       THREADS threads signing with one key loaded through the sks
 *       provider (OPENSSL_CONF), EVP_DigestSign over a 200-byte message;
 *       prints "provider_rate=...".
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keystore/keystore.h"
#include "p11/p11.h"
#include "testpki/testpki.h"
#include "tests/interop/interop.h"
#include "tests/interop/sksd_load.h"

#define MSG_LEN 200
#define MAX_THREADS 64

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_get(int argc, char **argv)
{
    struct load_opts o = {0};
    struct load_result res;

    if (argc != 6)
        interop_die("usage: bench_hsm_latency get HOST PORT PATH REQUESTS CONNS");
    o.host = argv[1];
    o.port = (unsigned int)interop_parse_count(argv[2], 65535, "PORT");
    o.path = argv[3];
    o.requests = (unsigned long)interop_parse_count(argv[4], 100000000, "REQUESTS");
    o.conns = (unsigned int)interop_parse_count(argv[5], 1024, "CONNS");
    load_run(&o, &res);
    printf("requests=%lu ok=%lu errors=%lu seconds=%.3f rate=%.0f p50_us=%.0f p99_us=%.0f\n",
           o.requests, res.ok, res.http_errors + res.bad + res.io_errors, res.seconds,
           (double)res.ok / res.seconds, res.svc_p50_us, res.svc_p99_us);
    if (res.first_error[0] != '\0')
        printf("first error: %s\n", res.first_error);
    return res.ok == o.requests ? 0 : 1;
}

/* ---- populate --------------------------------------------------------------- */

static int run_populate(int argc, char **argv)
{
    const char *module = getenv("SOFTHSM_MODULE"), *label = getenv("SKS_TOKEN_LABEL");
    const char *pin = getenv("SKS_PIN_FILE");
    char pin_source[4096], uri[256], name[32];
    struct p11_module *mod = NULL;
    struct p11_token *tok = NULL;
    struct sks_keystore *ks = NULL;
    struct sks_keystore_config cfg;
    struct sks_testpki pki;
    struct sks_credentials cred;
    STACK_OF(X509) *chain = NULL;
    X509_STORE *roots = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    P11KitUri *match = p11_kit_uri_new();
    struct sks_error err;
    long count, i;

    if (argc != 2 || module == NULL || label == NULL || pin == NULL)
        interop_die("usage: bench_hsm_latency populate COUNT (with the token's environment)");
    count = interop_parse_count(argv[1], 1000000, "COUNT");
    snprintf(uri, sizeof(uri), "pkcs11:token=%s", label);
    snprintf(pin_source, sizeof(pin_source), "file:%s", pin);
    if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_TOKEN, match) != P11_KIT_URI_OK ||
        p11_module_get(module, &mod, &err) != SKS_OK ||
        p11_token_find(mod, match, NULL, &tok, &err) != SKS_OK ||
        p11_token_set_pin_source(tok, pin_source, &err) != SKS_OK)
        interop_die("cannot open the token: %s", err.msg);
    if (sks_testpki_create(&pki, time(NULL), 365, &err) != SKS_OK ||
        sks_testpki_trust(&pki, &roots, &chain, &err) != SKS_OK ||
        sks_testpki_keygen(&key, &err) != SKS_OK ||
        sks_testpki_issue(&pki, key, "1234", NULL, &cert, &err) != SKS_OK)
        interop_die("test PKI: %s", err.msg);
    sks_keystore_config_init(&cfg);
    cfg.roots = roots;
    if (sks_keystore_open(tok, &cfg, &ks, &err) != SKS_OK)
        interop_die("%s", err.msg);
    cred = (struct sks_credentials){cert, chain, "https://cert.example.org/bench.pem"};
    for (i = 0; i < count; i++) {
        snprintf(name, sizeof(name), "hsm-%05ld", i);
        if (sks_keystore_import_key(ks, name, key, &cred, NULL, &err) != SKS_OK)
            interop_die("import %s: %s", name, err.msg);
    }
    printf("identities=%ld\n", count);
    sks_keystore_close(ks);
    X509_free(cert);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_free(roots);
    p11_token_put(tok);
    p11_module_put(mod);
    p11_kit_uri_free(match);
    return 0;
}

/* ---- the provider ------------------------------------------------------------ */

struct signer {
    EVP_PKEY *key;
    double end;
    long count;
    int failed;
};

static void *sign_loop(void *arg)
{
    struct signer *s = arg;
    unsigned char msg[MSG_LEN], sig[INTEROP_DER_SIG_MAX];

    memset(msg, 'a', sizeof(msg));
    while (now_s() < s->end) {
        msg[s->count % MSG_LEN]++;
        if (interop_sign(s->key, msg, sizeof(msg), sig) == 0) {
            s->failed = 1;
            break;
        }
        s->count++;
    }
    return NULL;
}

static int run_provider(int argc, char **argv)
{
    struct signer s[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    EVP_PKEY *key;
    long threads, i, total = 0;
    double secs, start;

    if (argc != 4)
        interop_die("usage: bench_hsm_latency provider KEY-URI THREADS SECONDS");
    threads = interop_parse_count(argv[2], MAX_THREADS, "THREADS");
    secs = (double)interop_parse_count(argv[3], 3600, "SECONDS");
    key = interop_load_key(argv[1]);
    start = now_s();
    for (i = 0; i < threads; i++) {
        s[i] = (struct signer){key, start + secs, 0, 0};
        pthread_create(&t[i], NULL, sign_loop, &s[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (s[i].failed)
            interop_die("signing through the provider failed");
        total += s[i].count;
    }
    printf("provider_rate=%.0f threads=%ld signatures=%ld\n", (double)total / (now_s() - start),
           threads, total);
    EVP_PKEY_free(key);
    return 0;
}

int main(int argc, char **argv)
{
    interop_prog = "bench_hsm_latency";
    if (argc == 1)
        interop_run_script(argv[0], "tests/bench/bench_hsm_latency.sh", "BENCH_HSM");
    if (strcmp(argv[1], "get") == 0)
        return run_get(argc - 1, argv + 1);
    if (strcmp(argv[1], "populate") == 0)
        return run_populate(argc - 1, argv + 1);
    if (strcmp(argv[1], "provider") == 0)
        return run_provider(argc - 1, argv + 1);
    interop_die("usage: bench_hsm_latency [get ... | populate ... | provider ...]");
}
