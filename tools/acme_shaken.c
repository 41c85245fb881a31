/* The SHAKEN token sources of sksctl acme issue (tools/acme_shaken.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "acme/acme.h"
#include "acme/spc.h"
#include "acme/stipa.h"
#include "tools/acme_shaken.h"

#define COMMAND_TIMEOUT_MS 30000

bool acme_shaken_wanted(const struct acme_token_source *s)
{
    return s->token_file != NULL || s->token_command != NULL || s->stipa_url != NULL ||
           s->stipa_account != NULL || s->stipa_credentials != NULL || s->stipa_ca_file != NULL;
}

const char *acme_shaken_opts_problem(const struct acme_token_source *s)
{
    int sources = (s->token_file != NULL) + (s->token_command != NULL) + (s->stipa_url != NULL);

    if (sources != 1)
        return "a SHAKEN order takes one token source: --spc-token, --spc-token-command or "
               "--stipa-url";
    if (s->stipa_url != NULL && (s->stipa_account == NULL || s->stipa_credentials == NULL))
        return "--stipa-url needs --stipa-account and --stipa-credentials";
    if (s->stipa_url == NULL &&
        (s->stipa_account != NULL || s->stipa_credentials != NULL || s->stipa_ca_file != NULL))
        return "--stipa-account, --stipa-credentials and --stipa-ca-file go with --stipa-url";
    return NULL;
}

struct find_spc {
    const char *identity;
    char *spc;
    size_t size;
    bool found;
};

static int find_spc_cb(const struct sks_identity_info *info, void *arg)
{
    struct find_spc *f = arg;

    if (strcmp(info->name, f->identity) != 0)
        return 0;
    snprintf(f->spc, f->size, "%s", info->spc);
    f->found = true;
    return 1;
}

sks_status acme_identity_spc(struct sks_keystore *ks, const char *identity, char *spc, size_t size,
                             bool *found, struct sks_error *err)
{
    struct find_spc f = {identity, spc, size, false};
    sks_status st = sks_keystore_list_one(ks, identity, find_spc_cb, &f, err);

    *found = f.found;
    return st;
}

sks_status acme_shaken_token(const struct acme_token_source *s, bool allow_private, const char *spc,
                             struct p11_key *account, char **token, char **tkvalue,
                             struct sks_error *err)
{
    char fp[SKS_ACME_FINGERPRINT_SIZE];
    struct sks_acme_atc_info info;
    const unsigned char *point;
    EVP_PKEY *pub = NULL;
    size_t len = 0;
    sks_status st;

    *token = NULL;
    point = p11_key_public(account, &len);
    if ((st = acme_tnauthlist_value(spc, tkvalue, err)) != SKS_OK ||
        (st = sks_acme_p256_from_point(point, len, &pub, err)) != SKS_OK ||
        (st = sks_acme_fingerprint(pub, fp, err)) != SKS_OK)
        goto done;
    if (s->stipa_url != NULL) {
        struct sks_fetch_opts fetch;
        const struct sks_acme_stipa pa = {s->stipa_url, s->stipa_account, s->stipa_credentials,
                                          &fetch};

        sks_fetch_opts_init(&fetch);
        fetch.ca_file = s->stipa_ca_file;
        fetch.allow_private = allow_private;
        st = sks_acme_atc_from_stipa(&pa, spc, pub, false, token, &info, err);
    } else {
        const struct sks_acme_atc_expect expect = {spc, pub, false, 0};

        if (s->token_file != NULL)
            st = sks_acme_atc_from_file(s->token_file, token, err);
        else
            st = sks_acme_atc_from_command(s->token_command, spc, *tkvalue, fp, false,
                                           COMMAND_TIMEOUT_MS, token, err);
        if (st == SKS_OK &&
            (st = sks_acme_atc_check(*token, strlen(*token), &expect, &info, err)) != SKS_OK)
            sks_error_prefix(err, "%s",
                             s->token_file != NULL ? s->token_file : "--spc-token-command");
    }
    /* The order names the TNAuthList as the token writes it (the STI-CA compares the two). */
    if (st == SKS_OK && strcmp(info.tkvalue, *tkvalue) != 0) {
        free(*tkvalue);
        if ((*tkvalue = strdup(info.tkvalue)) == NULL)
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
done:
    if (st != SKS_OK) {
        free(*token);
        *token = NULL;
        free(*tkvalue);
        *tkvalue = NULL;
    }
    EVP_PKEY_free(pub);
    return st;
}
