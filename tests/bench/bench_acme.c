/*
 * bench_acme: issuance end to end against pebble and against the test
 * STI-CA (make bench), and the share of it spent in the token.
 *
 * With no arguments (as tests/bench-run.sh starts it) it runs
 * tests/bench/bench_acme.sh, which starts pebble and the test STI-PA and
 * STI-CA (tests/acme/sti-fixture.py) on loopback, registers an account at
 * each with sksctl and calls back:
 *
 *   bench_acme run CONF DIRECTORY CA N
 *   bench_acme run-shaken CONF DIRECTORY CA N SPC TOKEN-FILE
 *
 * (the second orders SPC's TNAuthList and answers tkauth-01 with the SPC
 * token of TOKEN-FILE, the STI-PA's for the account key).
 *
 * Each of the N issuances takes the steps of sksctl acme issue
 * --no-attach: a key version generated in the token with its CSR signed
 * there (sks_keystore_generate_dns), the order to the downloaded chain
 * (acme_order_certificate), whose JWS are signed in the token; then the
 * version is destroyed (not timed).  Token time is the generation with its
 * CSR and record writes, and the JWS signing as the client times it.  It
 * prints FIGURE lines: the median wall time of an issuance, the median
 * token time and its share, and the two parts of it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "acme/acme.h"
#include "acme/spc.h"
#include "acme/store.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"
#include "tests/interop/interop.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A SHAKEN order's SPC and token; NULL for pebble's "dns" orders. */
struct shaken {
    const char *spc;
    struct sks_acme_tkauth tkauth;
};

/* One issuance: *wall and *token in seconds, *requests signed POSTs. */
static void issue_once(struct acme_client *c, struct sks_keystore *ks, const struct shaken *sh,
                       long i, double *wall, double *gen, double *jws, unsigned long *requests)
{
    char identity[32], dns[64];
    struct acme_identifier id = {"dns", dns};
    struct acme_order_request req = {
        .identifiers = &id, .nidentifiers = 1, .challenge_type = "http-01", .answer = "{}"};

    if (sh != NULL) {
        id = (struct acme_identifier){SKS_ACME_ID_TNAUTHLIST, sh->tkauth.tkvalue};
        req.challenge_type = SKS_ACME_TKAUTH_01;
        req.answer_fn = sks_acme_tkauth_answer;
        req.answer_arg = (void *)&sh->tkauth;
    }
    struct acme_stats before, after;
    struct sks_error err;
    BIO *csr = BIO_new(BIO_s_mem());
    X509_REQ *x;
    unsigned char *der = NULL;
    unsigned int version;
    char *chain = NULL;
    size_t len;
    double t0, t1, t2;
    int n;

    snprintf(identity, sizeof(identity), "bench-%ld", i);
    snprintf(dns, sizeof(dns), "bench-%ld.test", i);
    acme_client_stats(c, &before);
    t0 = now_s();
    if (sks_keystore_generate_dns(ks, identity, sh != NULL ? sh->spc : "1234",
                                  sh != NULL ? NULL : dns, csr, &version, &err) != SKS_OK)
        interop_die("generate %s: %s", identity, err.msg);
    t1 = now_s();
    if ((x = PEM_read_bio_X509_REQ(csr, NULL, NULL, NULL)) == NULL ||
        (n = i2d_X509_REQ(x, &der)) <= 0)
        interop_die("cannot read back the CSR");
    req.csr_der = der;
    req.csr_len = (size_t)n;
    if (acme_order_certificate(c, &req, &chain, &len, NULL, &err) != SKS_OK)
        interop_die("order %s: %s", dns, err.msg);
    t2 = now_s();
    acme_client_stats(c, &after);
    *wall = t2 - t0;
    *gen = t1 - t0;
    *jws = after.signing_seconds - before.signing_seconds;
    *requests = after.requests - before.requests;
    if (sks_keystore_destroy(ks, identity, version, &err) != SKS_OK)
        interop_die("destroy %s: %s", identity, err.msg);
    free(chain);
    OPENSSL_free(der);
    X509_REQ_free(x);
    BIO_free(csr);
}

static void run(const char *conf, const char *directory, const char *ca, long n,
                const struct shaken *sh)
{
    const char *server = sh != NULL ? "the test STI-CA" : "pebble";
    struct sks_keystore_config kcfg;
    struct sks_keystore *ks = NULL;
    struct acme_client *c = NULL;
    struct acme_account acct;
    struct acme_config cfg;
    struct p11_token *tok = NULL;
    struct p11_key *key = NULL;
    struct sks_config sc;
    struct sks_error err;
    double *wall = calloc((size_t)n, sizeof(double)), *token = calloc((size_t)n, sizeof(double));
    double *gen = calloc((size_t)n, sizeof(double)), *jws = calloc((size_t)n, sizeof(double));
    double share_sum = 0;
    unsigned long requests = 0;

    if (wall == NULL || token == NULL || gen == NULL || jws == NULL)
        interop_die("out of memory");
    sks_keystore_config_init(&kcfg);
    if (sks_config_load(conf, &sc, &err) != SKS_OK ||
        sks_config_open_token(&sc, &tok, &err) != SKS_OK ||
        sks_keystore_open(tok, &kcfg, &ks, &err) != SKS_OK ||
        acme_account_find(tok, directory, &acct, &err) != SKS_OK ||
        acme_key_load(tok, acct.key_id, &key, &err) != SKS_OK)
        interop_die("%s", err.msg);
    acme_config_init(&cfg);
    cfg.directory_url = directory;
    cfg.ca_file = ca;
    cfg.allow_private = true;
    if (acme_client_new(&cfg, key, acct.url, &c, &err) != SKS_OK)
        interop_die("%s", err.msg);
    /* One issuance first, not counted: connections and the token's first login are made. */
    issue_once(c, ks, sh, 0, &wall[0], &gen[0], &jws[0], &requests);
    for (long i = 0; i < n; i++) {
        issue_once(c, ks, sh, i + 1, &wall[i], &gen[i], &jws[i], &requests);
        token[i] = gen[i] + jws[i];
        share_sum += token[i] / wall[i];
    }
    printf("FIGURE: acme issuance against %s (%ld runs): median %.1f ms end to end\n", server, n,
           1000 * median(wall, (size_t)n));
    printf("FIGURE: acme issuance against %s: median %.1f ms in the token, %.1f%% of the wall "
           "time on average\n",
           server, 1000 * median(token, (size_t)n), 100 * share_sum / (double)n);
    printf("FIGURE: acme issuance against %s: of it, median %.1f ms for the key version (key "
           "pair, CSR signature, record writes and their durability check) and %.2f ms for the "
           "%lu JWS of the order\n",
           server, 1000 * median(gen, (size_t)n), 1000 * median(jws, (size_t)n), requests);
    acme_client_free(c);
    p11_key_put(key);
    sks_keystore_close(ks);
    p11_token_put(tok);
    sks_config_free(&sc);
    free(wall);
    free(token);
    free(gen);
    free(jws);
}

int main(int argc, char **argv)
{
    interop_prog = "bench_acme";
    if (argc == 1)
        interop_run_script(argv[0], "tests/bench/bench_acme.sh", "BENCH_ACME");
    if (argc == 6 && strcmp(argv[1], "run") == 0) {
        run(argv[2], argv[3], argv[4], interop_parse_count(argv[5], 1000, "N"), NULL);
        return 0;
    }
    if (argc == 8 && strcmp(argv[1], "run-shaken") == 0) {
        struct shaken sh = {argv[6], {NULL, NULL}};
        char *token = NULL, *tkvalue = NULL;
        struct sks_error err;

        if (sks_acme_atc_from_file(argv[7], &token, &err) != SKS_OK ||
            acme_tnauthlist_value(sh.spc, &tkvalue, &err) != SKS_OK)
            interop_die("%s", err.msg);
        sh.tkauth = (struct sks_acme_tkauth){token, tkvalue};
        run(argv[2], argv[3], argv[4], interop_parse_count(argv[5], 1000, "N"), &sh);
        free(token);
        free(tkvalue);
        return 0;
    }
    fprintf(stderr, "usage: bench_acme [run CONF DIRECTORY CA N | run-shaken CONF DIRECTORY CA "
                    "N SPC TOKEN-FILE]\n");
    return 2;
}
