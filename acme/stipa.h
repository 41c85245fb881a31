/*
 * The STI-PA's SPC token API (ATIS-1000080 6.3.5): the SP-KMS asks the
 * STI-PA, with the credentials of its STI-PA account, for an SPC token
 * bound to its ACME account key.
 *
 *   POST {base}/account/{account id}/token
 *   Authorization: Bearer {the account's API key}
 *   Content-Type: application/json
 *
 *   {"atc":{"tktype":"TNAuthList","tkvalue":"...","ca":false,"fingerprint":"SHA256 ..."}}
 *
 * answered with {"status":"success","token":"<the SPC token>",...} or
 * {"status":"failed","message":"..."} (the shape of the deployed STI-PA's
 * API).  The token is checked (sks_acme_atc_check) before it is returned.
 */
#ifndef SKS_ACME_STIPA_H
#define SKS_ACME_STIPA_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "acme/spc.h"
#include "common/error.h"
#include "fetch/fetch.h"

/* The longest STI-PA account id (letters, digits, '.', '_', '-'). */
#define SKS_ACME_STIPA_ACCOUNT_MAX 64

struct sks_acme_stipa {
    const char *base_url;         /* https://..., without the trailing "/account/..." */
    const char *account_id;       /* the SP's account at the STI-PA */
    const char *credentials_file; /* the account's API key (never on a command line) */
    const struct sks_fetch_opts *fetch;
};

/*
 * Asks the STI-PA |pa| for a token for |spc|, bound to the ACME account key
 * |account|, for a CA certificate if |ca|; checks it and returns it in
 * *token (malloc'd; free() it) and what the check read in |info| (may be
 * NULL).  Failures name the STI-PA's answer (its
 * status and message) with the code "stipa-refused", or the token's claim
 * (sks_acme_atc_check).
 */
sks_status sks_acme_atc_from_stipa(const struct sks_acme_stipa *pa, const char *spc,
                                   EVP_PKEY *account, bool ca, char **token,
                                   struct sks_acme_atc_info *info, struct sks_error *err);

#endif
