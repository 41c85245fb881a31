/*
 * sign_threads KEY-URI PUB.pem [THREADS [SIGNATURES]]
 *
 * A SIP proxy signs from many worker threads with one key: THREADS threads
 * (default 8) share one EVP_PKEY loaded from KEY-URI through the sks
 * provider and each makes SIGNATURES (default 10000) ES256 signatures over
 * messages of its own with EVP_DigestSign.  Every signature is verified in
 * software with PUB.pem.  Exits 1 on the first failure of any thread.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/interop/interop.h"

#define DEFAULT_THREADS 8
#define DEFAULT_SIGNATURES 10000
#define MAX_THREADS 256

struct worker {
    pthread_t thread;
    int index;
    long count;
    EVP_PKEY *key;
    EVP_PKEY *pub;
    long signed_ok;
    int failed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    unsigned char sig[INTEROP_DER_SIG_MAX];
    char msg[128];
    size_t sig_len;
    int msg_len;
    long i;

    for (i = 0; i < w->count; i++) {
        msg_len = snprintf(msg, sizeof(msg), "INVITE thread %d call %ld", w->index, i);
        sig_len = interop_sign(w->key, (unsigned char *)msg, (size_t)msg_len, sig);
        if (sig_len == 0) {
            interop_report("thread %d: signature %ld failed", w->index, i);
            w->failed = 1;
            break;
        }
        if (!interop_verify(w->pub, (unsigned char *)msg, (size_t)msg_len, sig, sig_len)) {
            interop_report("thread %d: signature %ld does not verify with the public key", w->index,
                           i);
            w->failed = 1;
            break;
        }
        w->signed_ok++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct worker workers[MAX_THREADS];
    long nthreads = DEFAULT_THREADS, count = DEFAULT_SIGNATURES, total = 0;
    EVP_PKEY *key, *pub;
    int failed = 0;
    long t;

    interop_prog = "sign_threads";
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: sign_threads KEY-URI PUB.pem [THREADS [SIGNATURES]]\n");
        return 2;
    }
    if (argc > 3)
        nthreads = interop_parse_count(argv[3], MAX_THREADS, "THREADS");
    if (argc > 4)
        count = interop_parse_count(argv[4], 10000000, "SIGNATURES");
    key = interop_load_key(argv[1]);
    pub = interop_load_soft_pubkey(argv[2]);

    for (t = 0; t < nthreads; t++) {
        workers[t] = (struct worker){.index = (int)t, .count = count, .key = key, .pub = pub};
        if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0)
            interop_die("cannot start thread %ld", t);
    }
    for (t = 0; t < nthreads; t++) {
        pthread_join(workers[t].thread, NULL);
        failed |= workers[t].failed;
        total += workers[t].signed_ok;
    }
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    if (failed || total != nthreads * count) {
        fprintf(stderr, "sign_threads: FAILED: %ld of %ld signatures made and verified\n", total,
                nthreads * count);
        return 1;
    }
    printf("ok - %ld threads x %ld signatures with one token key, all verified\n", nthreads, count);
    return 0;
}
