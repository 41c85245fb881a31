/*
 * Verification of a SIP Identity header (RFC 8224) carrying a SHAKEN
 * (RFC 8588) or div (RFC 8946) PASSporT: the JWS, the claims, iat
 * freshness, the credential against the SHAKEN certificate profile and
 * the trust roots, and the ES256 signature.  Each failure carries its SIP
 * response (shaken/identity.h).
 */
#ifndef SKS_VERIFY_H
#define SKS_VERIFY_H

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "profile/profile.h"
#include "shaken/identity.h"

/* The freshness window most SHAKEN verification services apply. */
#define SKS_VERIFY_MAX_AGE_DEFAULT 60

struct sks_verify_opts {
    /*
     * The credential: |cert| (whose key then verifies the signature) or,
     * without one, the bare public key |pubkey|.  With |roots|, |cert| and
     * |chain| (intermediates, may be NULL) are checked against the SHAKEN
     * certificate profile and the trust roots (sks_profile_check).
     */
    X509 *cert;
    STACK_OF(X509) * chain;
    X509_STORE *roots;
    EVP_PKEY *pubkey;
    time_t now;   /* the verification time; 0 for the current time */
    long max_age; /* seconds iat may lie either side of |now| */
};

/* Sets the defaults: no credential, now, SKS_VERIFY_MAX_AGE_DEFAULT. */
void sks_verify_opts_init(struct sks_verify_opts *opts);

struct sks_verify_result {
    int sip_code;                 /* SKS_SIP_OK or the response for the failure */
    const char *sip_reason;       /* its reason phrase */
    struct sks_passport passport; /* the verified PASSporT (x5u, claims) */
    bool chain_checked;           /* the certificate was checked against |roots| */
    char spc[SKS_SPC_MAX + 1];    /* the certificate's SPC when chain_checked */
};

/*
 * Verifies the Identity header value |hdr| (|len| bytes, at most
 * SKS_IDENTITY_MAX after surrounding whitespace) with |opts|.  Returns
 * SKS_OK with |res| describing the PASSporT, or a failure whose message says
 * what is wrong and |res->sip_code| the SIP response to send.
 */
sks_status sks_identity_verify(const char *hdr, size_t len, const struct sks_verify_opts *opts,
                               struct sks_verify_result *res, struct sks_error *err);

#endif
