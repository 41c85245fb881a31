/*
 * The SIP Identity header value (RFC 8224 section 4) carrying a SHAKEN
 * (RFC 8588) or div (RFC 8946) PASSporT, and the SIP response RFC 8224
 * section 13 defines for each way it can fail verification:
 *   403 Stale Date                iat outside the freshness window (6.2.1)
 *   428 Use Identity Header       no Identity header at all
 *   436 Bad Identity Info         info parameter missing or malformed
 *   437 Unsupported Credential    alg other than ES256; a key that is not
 *                                 P-256; a certificate that breaks the SHAKEN
 *                                 profile or does not chain to a trust root
 *   438 Invalid Identity Header   anything malformed in the header, the JWS
 *                                 or the claims, an unsupported ppt, x5u not
 *                                 equal to info, a signature that fails
 */
#ifndef SKS_IDENTITY_H
#define SKS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "shaken/passport.h"

enum sks_sip_code {
    SKS_SIP_OK = 200,
    SKS_SIP_STALE_DATE = 403,
    SKS_SIP_USE_IDENTITY_HEADER = 428,
    SKS_SIP_BAD_IDENTITY_INFO = 436,
    SKS_SIP_UNSUPPORTED_CREDENTIAL = 437,
    SKS_SIP_INVALID_IDENTITY_HEADER = 438,
    SKS_SIP_SERVER_ERROR = 500, /* the verifier itself failed (memory, library) */
};

/* The reason phrase of |code|: "Stale Date" for 403, and so on. */
const char *sks_sip_reason(int code);

/* An Identity header value split into its parts; pointers into the input. */
struct sks_identity {
    const char *header_b64; /* the three JWS parts, base64url */
    size_t header_b64_len;
    const char *claims_b64;
    size_t claims_b64_len;
    const char *sig_b64; /* may be empty (alg "none"): verification refuses that */
    size_t sig_b64_len;
    size_t signing_input_len; /* header "." claims, from header_b64 */
    char info[SKS_X5U_MAX + 1];
    bool has_alg;
    enum sks_ppt ppt;
};

/*
 * Parses an Identity header value "<jws>;info=<uri>;alg=ES256;ppt=shaken".
 * Parameters may come in any order, ppt quoted or not; unknown parameters
 * are ignored.  |hdr| need not be NUL-terminated.  On failure |*sip| holds
 * the SIP response code.
 */
sks_status sks_identity_parse(const char *hdr, size_t len, struct sks_identity *id, int *sip,
                              struct sks_error *err);

#endif
