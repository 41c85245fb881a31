/*
 * spc_token_probe: gets and checks SPC tokens with acme/ for acme-shaken.sh,
 * against the test STI-PA (tests/acme/sti-fixture.py).
 *
 *   spc_token_probe stipa BASE ACCOUNT CREDENTIALS SPC ACCOUNT-KEY TLS-CA
 *   spc_token_probe file TOKEN-FILE SPC ACCOUNT-KEY
 *   spc_token_probe command COMMAND SPC ACCOUNT-KEY
 *
 * Each gets a token as `sksctl acme issue` does (from the STI-PA's token
 * API, a file or the operator's command) for SPC and the account key (a
 * PEM public or private key), checks it (sks_acme_atc_check) and prints
 * it, then the tkauth-01 answer; or prints "error CODE FIELD: MESSAGE" and
 * exits 1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "acme/acme.h"
#include "acme/spc.h"
#include "acme/stipa.h"

static EVP_PKEY *key_read(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = NULL;

    if (f == NULL)
        return NULL;
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    if (k == NULL) {
        rewind(f);
        k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    return k;
}

static int usage(void)
{
    fprintf(stderr, "usage: spc_token_probe stipa BASE ACCOUNT CREDENTIALS SPC KEY TLS-CA\n"
                    "       spc_token_probe file TOKEN-FILE SPC KEY\n"
                    "       spc_token_probe command COMMAND SPC KEY\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct sks_error err = {0};
    const char *spc;
    char *token = NULL, *answer = NULL, fp[SKS_ACME_FINGERPRINT_SIZE], *tkvalue = NULL;
    EVP_PKEY *key;
    sks_status st;

    if (argc < 5)
        return usage();
    if (strcmp(argv[1], "stipa") == 0 && argc == 8) {
        spc = argv[5];
        key = key_read(argv[6]);
    } else if (argc == 5) {
        spc = argv[3];
        key = key_read(argv[4]);
    } else {
        return usage();
    }
    if (key == NULL) {
        fprintf(stderr, "spc_token_probe: cannot read the account key\n");
        return 2;
    }
    if (strcmp(argv[1], "stipa") == 0) {
        struct sks_fetch_opts opts;
        struct sks_acme_stipa pa = {argv[2], argv[3], argv[4], &opts};

        sks_fetch_opts_init(&opts);
        opts.ca_file = argv[7];
        opts.allow_private = true; /* the test STI-PA is on loopback */
        st = sks_acme_atc_from_stipa(&pa, spc, key, false, &token, NULL, &err);
    } else if (strcmp(argv[1], "file") == 0) {
        st = sks_acme_atc_from_file(argv[2], &token, &err);
    } else if (strcmp(argv[1], "command") == 0) {
        if ((st = acme_tnauthlist_value(spc, &tkvalue, &err)) == SKS_OK &&
            (st = sks_acme_fingerprint(key, fp, &err)) == SKS_OK)
            st = sks_acme_atc_from_command(argv[2], spc, tkvalue, fp, false, 5000, &token, &err);
    } else {
        EVP_PKEY_free(key);
        return usage();
    }
    if (st == SKS_OK && strcmp(argv[1], "stipa") != 0) {
        const struct sks_acme_atc_expect expect = {spc, key, false, 0};

        st = sks_acme_atc_check(token, strlen(token), &expect, NULL, &err);
    }
    if (st == SKS_OK)
        st = sks_acme_atc_answer(token, &answer, &err);
    if (st == SKS_OK)
        printf("%s\n%s\n", token, answer);
    else
        printf("error %s %s: %s\n", sks_error_code(&err), err.field, err.msg);
    free(answer);
    free(token);
    free(tkvalue);
    EVP_PKEY_free(key);
    return st == SKS_OK ? 0 : 1;
}
