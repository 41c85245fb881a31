/*
 * sksctl acme issue for SHAKEN: the order names the identity's SPC as a
 * TNAuthList identifier and answers tkauth-01 with an SPC token (RFC 9447,
 * 9448) from a file, the operator's command or the STI-PA's token API.
 */
#ifndef SKS_TOOLS_ACME_SHAKEN_H
#define SKS_TOOLS_ACME_SHAKEN_H

#include <stdbool.h>

#include "acme/renew.h"
#include "keystore/keystore.h"
#include "p11/p11.h"

/* clang-format off */
#define ACME_SHAKEN_OPTS(s)                                                                        \
    CLI_ARG("spc-token", 0, &(s)->token_file),                                                     \
        CLI_ARG("spc-token-command", 0, &(s)->token_command),                                      \
        CLI_ARG("stipa-url", 0, &(s)->stipa_url),                                                  \
        CLI_ARG("stipa-account", 0, &(s)->stipa_account),                                          \
        CLI_ARG("stipa-credentials", 0, &(s)->stipa_credentials),                                  \
        CLI_ARG("stipa-ca-file", 0, &(s)->stipa_ca_file)
/* clang-format on */

#define ACME_SHAKEN_USAGE                                                                          \
    "A SHAKEN order (without --dns) names the SPC as a TNAuthList identifier and\n"                \
    "answers tkauth-01 with an SPC token, checked first (SPC, account key, expiry),\n"             \
    "from one of:\n"                                                                               \
    "  --spc-token FILE   a token the STI-PA issued, in a file\n"                                  \
    "  --spc-token-command CMD  a command (sh -c) that prints one; it gets SKS_SPC,\n"             \
    "                     SKS_ACME_TKVALUE, SKS_ACME_FINGERPRINT and SKS_ACME_CA\n"                \
    "  --stipa-url URL --stipa-account ID --stipa-credentials FILE\n"                              \
    "                     the STI-PA's token API (ATIS-1000080), the SP's account\n"               \
    "                     there and the file holding its API key\n"                                \
    "  --stipa-ca-file FILE  trust anchors for the STI-PA's TLS (default: the\n"                   \
    "                     system's); --allow-private applies to it too\n"

/* True when any SHAKEN token option is given. */
bool acme_shaken_wanted(const struct acme_token_source *s);
/* NULL, or what is wrong with the options given (exactly one source). */
const char *acme_shaken_opts_problem(const struct acme_token_source *s);

/* The SPC of the existing |identity|: *found false when there is none yet. */
sks_status acme_identity_spc(struct sks_keystore *ks, const char *identity, char *spc, size_t size,
                             bool *found, struct sks_error *err);

/*
 * The SPC token for |spc| and the account key |account| from the source
 * |s| names, checked (sks_acme_atc_check), and the TNAuthList identifier's
 * value as the token writes it; both malloc'd.
 */
sks_status acme_shaken_token(const struct acme_token_source *s, bool allow_private, const char *spc,
                             struct p11_key *account, char **token, char **tkvalue,
                             struct sks_error *err);

#endif
