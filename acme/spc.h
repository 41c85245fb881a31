/*
 * SHAKEN service-provider validation for ACME: the TNAuthList identifier
 * (RFC 9448 section 3), the SPC token the STI-PA issues (an Authority Token,
 * RFC 9447, of the TNAuthList profile, RFC 9448 section 5; ATIS-1000080
 * 6.3.5) and the tkauth-01 challenge's answer.
 *
 * The ACME flow itself (acme/) takes the identifier and the answer as
 * parameters; what is SHAKEN about it lives here:
 *
 *   - the identifier's value, and the token's atc.tkvalue, are the
 *     base64url (no padding) of the DER TNAuthList with the identity's SPC
 *     (acme_tnauthlist_value(), acme/acme.h);
 *   - atc.fingerprint binds the token to the ACME account key: "SHA256 "
 *     and the colon-separated upper-case hex of the key's JWK thumbprint
 *     (RFC 8555 8.1, RFC 7638), as RFC 9447's example writes it;
 *   - the client checks a token before it sends it (sks_acme_atc_check), so
 *     that a token for another SPC, another account key or one that has
 *     expired fails here, naming the claim, and not at the STI-CA;
 *   - the challenge is answered with {"atc": TOKEN} (RFC 9448 section 5.4).
 *
 * A token comes from a file, from a command the operator configures, or
 * from the STI-PA's token API (acme/stipa.c).
 */
#ifndef SKS_ACME_SPC_H
#define SKS_ACME_SPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/error.h"

/* The ACME identifier type of RFC 9448 and the challenge of RFC 9447. */
#define SKS_ACME_ID_TNAUTHLIST "TNAuthList"
#define SKS_ACME_TKAUTH_01 "tkauth-01"
#define SKS_ACME_TKAUTH_TYPE "atc"

/* The largest SPC token taken (a real one is well under 1 KiB). */
#define SKS_ACME_ATC_MAX 8192
/* "SHA256 " and 32 bytes as XX:XX:...:XX, with its NUL. */
#define SKS_ACME_FINGERPRINT_SIZE (7 + 32 * 3)

/*
 * The JWK thumbprint (RFC 7638, SHA-256) of the P-256 public key |key|:
 * the digest of {"crv":"P-256","kty":"EC","x":...,"y":...}.
 */
sks_status sks_acme_jwk_thumbprint(EVP_PKEY *key, unsigned char sha256[32], struct sks_error *err);
/*
 * The public key of the uncompressed P-256 point |point| (|len| bytes, as
 * a token's CKA_EC_POINT holds it unwrapped): what the checks below take
 * for an account key that lives in the token.  EVP_PKEY_free() it.
 */
sks_status sks_acme_p256_from_point(const unsigned char *point, size_t len, EVP_PKEY **key,
                                    struct sks_error *err);
/* atc.fingerprint for the account key |key|: "SHA256 XX:XX:...". */
sks_status sks_acme_fingerprint(EVP_PKEY *key, char out[SKS_ACME_FINGERPRINT_SIZE],
                                struct sks_error *err);

/* What an SPC token must say for the identity and account at hand. */
struct sks_acme_atc_expect {
    const char *spc;   /* the identity's SPC */
    EVP_PKEY *account; /* the ACME account's (public) key */
    bool ca;           /* a CA certificate is wanted (atc.ca) */
    long long now;     /* seconds since 1970; 0: the current time */
};

/* What a checked token said besides what was expected. */
/* The longest atc.tkvalue taken: a TNAuthList of a few SPCs is well under it. */
#define SKS_ACME_TKVALUE_MAX 1024

struct sks_acme_atc_info {
    long long exp;
    char x5u[2049]; /* the STI-PA certificate the token names */
    char jti[129];
    /*
     * atc.tkvalue as the token writes it: the order's identifier must carry
     * the same string, since an STI-CA compares the two as written.
     */
    char tkvalue[SKS_ACME_TKVALUE_MAX + 1];
};

/*
 * Checks the SPC token |token| (|len| bytes, a compact JWS) against
 * |expect|: three base64url parts; a header with alg ES256 and an https
 * x5u; claims with exp (in the future), jti and atc, whose tktype is
 * "TNAuthList", tkvalue the identity's SPC's TNAuthList (base64url as RFC
 * 9448 writes it, or the padded standard base64 a deployed STI-PA issues:
 * the DER is compared), fingerprint the
 * account key's and ca (false when absent) the one wanted.  The signature
 * is the STI-CA's to verify against the STI-PA's certificate; here it must
 * be 64 bytes.  A failure names the claim as its field ("atc.tkvalue",
 * "atc.fingerprint", "exp", ...) with the code "invalid-spc-token" (the
 * token is malformed), "spc-token-mismatch" (it is for another SPC, key or
 * kind of certificate) or "spc-token-expired".  |info| may be NULL.
 */
sks_status sks_acme_atc_check(const char *token, size_t len,
                              const struct sks_acme_atc_expect *expect,
                              struct sks_acme_atc_info *info, struct sks_error *err);

/* The tkauth-01 answer's payload, {"atc":"TOKEN"}.  *json is malloc'd; free() it. */
sks_status sks_acme_atc_answer(const char *token, char **json, struct sks_error *err);

/* What sks_acme_tkauth_answer() answers with: a checked token and the order's identifier. */
struct sks_acme_tkauth {
    const char *token;   /* checked with sks_acme_atc_check() */
    const char *tkvalue; /* the order's TNAuthList identifier value (the token's tkvalue) */
};

/*
 * The answer to one authorization of a SHAKEN order, for the ACME order
 * flow's answer callback (|arg| a struct sks_acme_tkauth): the
 * authorization must be for the TNAuthList identifier ordered and the
 * challenge a tkauth-01 of tkauth-type "atc" (RFC 9447 section 3); then
 * *payload is {"atc": TOKEN}.  A server that asks anything else is refused
 * naming what it asked (code "acme-protocol"), and no token is sent.
 */
sks_status sks_acme_tkauth_answer(void *arg, const json_t *authz, const json_t *challenge,
                                  char **payload, struct sks_error *err);

/*
 * A token read from the file |path| (surrounding white space dropped).
 * *token is malloc'd; free() it.  The token is only read, not checked.
 */
sks_status sks_acme_atc_from_file(const char *path, char **token, struct sks_error *err);

/*
 * A token printed on standard output by the operator's |command|, run with
 * /bin/sh -c and given what the token must hold in its environment:
 * SKS_SPC, SKS_ACME_TKVALUE, SKS_ACME_FINGERPRINT and SKS_ACME_CA ("true"
 * or "false").  The command must exit 0 within |timeout_ms| and print at
 * most SKS_ACME_ATC_MAX bytes; its standard error goes to ours.
 */
sks_status sks_acme_atc_from_command(const char *command, const char *spc, const char *tkvalue,
                                     const char *fingerprint, bool ca, long timeout_ms,
                                     char **token, struct sks_error *err);

#endif
