/*
 * Renewal (sksctl acme renew): the [acme] section of the configuration
 * file, and when an identity's certificate is due.
 *
 *   [acme]
 *   directory = https://sti-ca.example/acme/directory
 *   ca_file = /etc/shaken-sks/sti-ca-tls.pem   # the STI-CA's TLS roots (default: the system's)
 *   allow_private = no                       # the servers may be on private addresses
 *   spc_token = /etc/shaken-sks/spc-token    # one token source: a file,
 *   spc_token_command = /usr/local/bin/get-spc-token   # a command, or
 *   stipa_url = https://sti-pa.example/api   # the STI-PA's token API with
 *   stipa_account = sp-1234                  #   the SP's account and
 *   stipa_credentials = /etc/shaken-sks/stipa-api-key  #   its API key's file
 *   stipa_ca_file = /etc/shaken-sks/sti-pa-tls.pem
 *   renew_fraction = 0.333                   # renew in the last third of the lifetime
 *   jitter = 3600                            # seconds the window opens earlier, per identity
 *   retry_min = 600                          # back-off after the first failure (seconds)
 *   retry_max = 86400                        # the longest back-off
 *
 * The token source options are those of sksctl acme issue (struct
 * acme_token_source, one source).  A misspelt key is an error.
 */
#ifndef SKS_ACME_RENEW_H
#define SKS_ACME_RENEW_H

#include <stdbool.h>
#include <time.h>

#include <openssl/conf.h>

#include "common/error.h"

#define ACME_RENEW_FRACTION_DEFAULT (1.0 / 3.0)
#define ACME_RENEW_JITTER_DEFAULT 3600
#define ACME_RENEW_RETRY_MIN_DEFAULT 600
#define ACME_RENEW_RETRY_MAX_DEFAULT 86400

/* Where an SPC token comes from: exactly one of a file, a command, the STI-PA's API. */
struct acme_token_source {
    const char *token_file;        /* spc_token, --spc-token */
    const char *token_command;     /* spc_token_command, --spc-token-command */
    const char *stipa_url;         /* stipa_url, --stipa-url */
    const char *stipa_account;     /* stipa_account, --stipa-account */
    const char *stipa_credentials; /* stipa_credentials, --stipa-credentials */
    const char *stipa_ca_file;     /* stipa_ca_file, --stipa-ca-file */
};

struct acme_renew_config {
    const char *directory; /* NULL: the token's only account */
    const char *ca_file;
    bool allow_private;
    struct acme_token_source source;
    double fraction; /* the share of the lifetime at its end in which to renew, (0, 1] */
    long jitter;     /* seconds */
    long retry_min, retry_max;
    char *strings[8]; /* what the pointers above point at (paths made absolute) */
};

void acme_renew_config_init(struct acme_renew_config *cfg);
/*
 * The [acme] section of |conf| (NULL or no section: the defaults);
 * relative paths are taken relative to |dir| (the file's directory, or
 * NULL).  An unknown key or a bad value fails naming the key.
 */
sks_status acme_renew_config_load(struct acme_renew_config *cfg, CONF *conf, const char *dir,
                                  struct sks_error *err);
void acme_renew_config_free(struct acme_renew_config *cfg);

/*
 * When the renewal window of |identity|'s certificate (valid from
 * |not_before| to |not_after|) opens: the last |fraction| of its lifetime,
 * opened earlier by a share of |jitter| seconds that depends on the
 * identity alone, so that many identities do not all renew in one run and
 * one identity's window does not move between runs.
 */
time_t acme_renew_window(const struct acme_renew_config *cfg, const char *identity,
                         time_t not_before, time_t not_after);

/* The back-off after |failures| failures in a row: retry_min doubling up to retry_max, jittered. */
long acme_renew_backoff(const struct acme_renew_config *cfg, unsigned int failures);

#endif
