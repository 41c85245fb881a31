/*
 * The input rules that several ways into shaken-sks share: import (sksctl,
 * the SP-KMS API), activation, signing (sksctl sign, sksd) and the key
 * store's records.  Each rule is written here once; callers never restate
 * one, so that what one front end accepts another cannot refuse.
 *
 * Every refusal names the input (struct sks_error field) and carries a
 * stable code, so that front ends pass it on without re-deriving either.
 * The TN rule is the canonical form of shaken/tn.h; the claims of a
 * PASSporT, which combine these rules, are checked by
 * sks_passport_check_claims() (shaken/passport.h).
 */
#ifndef SKS_SHAKEN_RULES_H
#define SKS_SHAKEN_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "shaken/tn.h"

/* ---- x5u ------------------------------------------------------------------ */

#define SKS_X5U_MAX 2048

/*
 * The x5u rule that import, activation and signing all apply: SKS_OK, or
 * an error (field "x5u", code "invalid-x5u") naming the rule x5u breaks.
 * Every message starts "x5u: ".
 */
sks_status sks_x5u_check(const char *x5u, struct sks_error *err);
/*
 * The same rule for another URL a verifier fetches (RFC 9795's icn, jcl):
 * refusals name |field| with |code|, every message starting "FIELD: ".
 */
sks_status sks_url_check(const char *url, const char *field, const char *code,
                         struct sks_error *err);

/* ---- origid --------------------------------------------------------------- */

#define SKS_UUID_LEN 36

/* A UUID in the 8-4-4-4-12 hex form of RFC 4122 section 3 (either case). */
bool sks_uuid_valid(const char *s);

/* ---- SPC ------------------------------------------------------------------ */

/* ATIS-1000080: the longest Service Provider Code kept. */
#define SKS_SPC_MAX 64

/*
 * The |len| bytes at |spc| (not NUL-terminated: a TNAuthList hands them so)
 * are an SPC: 1 to SKS_SPC_MAX of 0-9 and A-Z.  SKS_ERR_INPUT (field
 * "spc", code "invalid-spc") otherwise.
 */
sks_status sks_spc_check(const char *spc, size_t len, struct sks_error *err);
/* sks_spc_check() of a NUL-terminated |spc|, as a yes or no. */
bool sks_spc_valid(const char *spc);
/*
 * The SPC a certificate is for, |cert_spc|, is the SPC |want| that |whose|
 * (e.g. "identity sp-main", "--spc") has: SKS_OK, or SKS_ERR_POLICY
 * (field "spc", code "spc-mismatch") naming both.
 */
sks_status sks_spc_match(const char *cert_spc, const char *want, const char *whose,
                         struct sks_error *err);

/* ---- certificate chains --------------------------------------------------- */

/* The most intermediate certificates taken with an SP certificate. */
#define SKS_CHAIN_MAX 8

/* |n| intermediates are at most SKS_CHAIN_MAX: else SKS_ERR_INPUT (field "chain"). */
sks_status sks_chain_length_check(int n, struct sks_error *err);

#endif
