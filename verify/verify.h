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
#include "shaken/rcd.h"

/* The freshness window most SHAKEN verification services apply. */
#define SKS_VERIFY_MAX_AGE_DEFAULT 60

/*
 * A credential found by the PASSporT's x5u: the signer's public key, and
 * the SPC of its certificate when the chain was checked.  |ref| keeps the
 * key alive until the source's release().
 */
struct sks_verify_credential {
    EVP_PKEY *key;
    bool chain_checked;
    char spc[SKS_SPC_MAX + 1];
    void *ref;
};

/*
 * Where certificates come from when the caller has none: lookup() finds the
 * credential |x5u| names and checks it as of |now|, or fails with the SIP
 * response in |*sip| (436 when it cannot be had, 437 when it is not
 * acceptable).  It is asked only once the PASSporT passed every check that
 * needs no key, so that malformed or stale input costs no fetch.
 */
struct sks_verify_source {
    sks_status (*lookup)(void *ctx, const char *x5u, time_t now, struct sks_verify_credential *cred,
                         int *sip, struct sks_error *err);
    void (*release)(void *ctx, struct sks_verify_credential *cred);
    void *ctx;
};

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
    /* Without |cert| and |pubkey|: the credential the x5u names. */
    const struct sks_verify_source *source;
    /*
     * The call's own numbers (its From and To, RFC 8224 section 6.2.1):
     * orig must be |call_orig| and dest must hold every |call_dest|.  NULL
     * and 0: not compared.  Canonical TNs (sks_tn_canonicalize).
     */
    const char *call_orig;
    const char (*call_dest)[SKS_TN_MAX + 1];
    size_t ncall_dest;
    time_t now;   /* the verification time; 0 for the current time */
    long max_age; /* seconds iat may lie either side of |now| */
    /*
     * Where the rcdi check finds the content Rich Call Data points at
     * (verify/rcd.h); NULL: rcdi is not checked (SKS_RCD_UNCHECKED).
     */
    sks_rcd_digest_fn rcd_digest;
    void *rcd_ctx;
};

/* Sets the defaults: no credential, now, SKS_VERIFY_MAX_AGE_DEFAULT. */
void sks_verify_opts_init(struct sks_verify_opts *opts);

/*
 * What the Rich Call Data of a PASSporT that passed TN validation is worth,
 * judged apart from it (RFC 9795): a called party may be shown the caller's
 * number as verified and still not the name and logo.
 */
enum sks_rcd_verdict {
    SKS_RCD_NONE,        /* no rcd, or the PASSporT did not pass */
    SKS_RCD_VERIFIED,    /* signed, and every digest of rcdi matches what it covers */
    SKS_RCD_UNPROTECTED, /* signed, but it points at content no rcdi protects */
    SKS_RCD_UNCHECKED,   /* rcdi was not checked (no content source) */
    SKS_RCD_FAILED,      /* a digest is missing or differs, or the content cannot be had */
};

/* "none", "verified", "unprotected", "unchecked" or "failed". */
const char *sks_rcd_verdict_name(enum sks_rcd_verdict v);

struct sks_verify_result {
    int sip_code;                 /* SKS_SIP_OK or the response for the failure */
    const char *sip_reason;       /* its reason phrase */
    struct sks_passport passport; /* the verified PASSporT (x5u, claims) */
    bool chain_checked;           /* the certificate was checked against |roots| */
    char spc[SKS_SPC_MAX + 1];    /* the certificate's SPC when chain_checked */
    enum sks_rcd_verdict rcd;     /* the Rich Call Data's verdict */
    struct sks_error rcd_err;     /* why, when it is not verified */
};

/*
 * The verification stopped because something its x5u or its Rich Call Data
 * names is not cached and the source may not wait (verify/x5u.h,
 * verify/rcd.h): verify again where waiting is allowed.
 */
bool sks_verify_needs_fetch(const struct sks_verify_result *res, const struct sks_error *err);

/*
 * The credential of |cert|: its public key and, when |roots| is not NULL,
 * the SPC once |cert| met the SHAKEN profile and chained through |chain|
 * (may be NULL) to |roots| as of |now|, and, when |crls| is not NULL, was
 * not revoked by its issuer's CRL among them (sks_profile_check_crls);
 * otherwise 437 Unsupported Credential with every broken rule.
 * |cred->ref| is left alone.
 */
sks_status sks_verify_cert(X509 *cert, STACK_OF(X509) * chain, X509_STORE *roots,
                           STACK_OF(X509_CRL) * crls, time_t now,
                           struct sks_verify_credential *cred, int *sip, struct sks_error *err);

/*
 * The verstat of a result (ATIS-1000074): TN-Validation-Passed for
 * SKS_SIP_OK; TN-Validation-Failed when the PASSporT was judged and found
 * wanting (403 stale, 437 an unacceptable credential, 438 an invalid
 * header or signature); No-TN-Validation when it could not be judged (428
 * no PASSporT, 436 no credential to be had, 500 the verifier failed).
 */
const char *sks_verstat(int sip_code);

/*
 * Verifies the Identity header value |hdr| (|len| bytes, at most
 * SKS_IDENTITY_MAX after surrounding whitespace) with |opts|.  Returns
 * SKS_OK with |res| describing the PASSporT, or a failure whose message says
 * what is wrong and |res->sip_code| the SIP response to send.
 */
sks_status sks_identity_verify(const char *hdr, size_t len, const struct sks_verify_opts *opts,
                               struct sks_verify_result *res, struct sks_error *err);

/*
 * The claims of the Identity header value |hdr| as sks_identity_verify()
 * reads them (the value's parameters, the JWS header and the claims), with
 * no credential, freshness or signature check: what a caller may use to
 * arrange several values before verifying each, never to trust one.
 * Fails as sks_identity_verify() would on the same malformed input.
 */
sks_status sks_identity_peek(const char *hdr, size_t len, struct sks_passport *pp, int *sip,
                             struct sks_error *err);

/* ---- a diverted call: a shaken PASSporT and its div PASSporTs (RFC 8946) ---------------- */

/* The most Identity header values one call is judged with: a shaken PASSporT and 7 diversions. */
#define SKS_VERIFY_IDENTITIES_MAX 8
/* sks_verify_set.at_fault when no one value is at fault. */
#define SKS_VERIFY_NO_VALUE ((size_t)-1)

struct sks_identity_value {
    const char *hdr;
    size_t len;
};

/* One diversion of a set that verified: from |div| to |dest|, signed by |spc|'s certificate. */
struct sks_verify_link {
    char div[SKS_TN_MAX + 1];
    char dest[SKS_DEST_MAX][SKS_TN_MAX + 1];
    unsigned int ndest;
    bool chain_checked;
    char spc[SKS_SPC_MAX + 1];
};

struct sks_verify_set {
    /*
     * sip_code and sip_reason are the set's; passport, chain_checked, spc
     * and the Rich Call Data verdict are the shaken PASSporT's once the set
     * verified (a failure leaves the passport empty).
     */
    struct sks_verify_result res;
    size_t at_fault; /* the value (0-based, as given) a failure is about, or SKS_VERIFY_NO_VALUE */
    size_t nlinks;   /* the diversions, in the order the call took them */
    struct sks_verify_link links[SKS_VERIFY_IDENTITIES_MAX - 1];
};

/*
 * Verifies the Identity header values of one call, |n| of them in any order
 * (RFC 8224 section 4: a request may carry several): exactly one shaken
 * PASSporT and a div PASSporT per diversion (RFC 8946, ATIS-1000085).  Each
 * value is verified by sks_identity_verify() with |opts| (signature,
 * claims, freshness, certificate and chain, each with its own x5u: the
 * diverting provider signs with its own certificate, whose SPC is
 * reported per link), and the set must form one chain:
 *   - the shaken PASSporT's orig is the call's (opts->call_orig), and so is
 *     every div PASSporT's (RFC 8946 section 3: orig stays the caller's);
 *   - each div PASSporT's div is among the dest of the PASSporT before it,
 *     starting from the shaken PASSporT's, one div per leg;
 *   - the last PASSporT's dest holds the call's (opts->call_dest): the
 *     shaken PASSporT's own dest is where the call went before diversion;
 *   - a ppt=rcd PASSporT (RFC 9795, at most one) is for the shaken
 *     PASSporT's call: its orig, and every TN of its dest; its Rich Call
 *     Data verdict is the set's when the shaken PASSporT carries none
 *     ("rcd-call" when it is another call's).
 * A broken rule is 438 Invalid Identity Header (TN-Validation-Failed) with
 * the code "div-orig" (an orig that differs), "div-unlinked" (a div no
 * PASSporT leads to, or one too many for a leg), "shaken-several" (more
 * than one shaken PASSporT), "identity-unsupported" (a PASSporT of
 * another type, or a second ppt=rcd one), "identity-too-many" (more than
 * SKS_VERIFY_IDENTITIES_MAX values: none is read); div PASSporTs without a
 * shaken PASSporT are 428 Use Identity Header (No-TN-Validation,
 * "div-without-shaken"): nothing asserts the caller's number.  A value
 * that fails its own verification fails the set with its SIP response;
 * messages start "Identity value N (ppt=P)" (1-based) and |set->at_fault|
 * names it.  Checks that need no key run first, on every value, so that a
 * broken set costs no fetch or signature check.
 */
sks_status sks_identities_verify(const struct sks_identity_value *values, size_t n,
                                 const struct sks_verify_opts *opts, struct sks_verify_set *set,
                                 struct sks_error *err);

#endif
