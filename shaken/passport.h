/*
 * PASSporT (RFC 8225) for SHAKEN (RFC 8588) and div (RFC 8946): the claims,
 * their canonical JSON, ES256 signing and the SIP Identity header value
 * (RFC 8224) that carries them.
 *
 * Encoding is the hot path of sksd (one PASSporT per call set-up): it works
 * in caller-provided buffers and allocates nothing but what the signer needs.
 */
#ifndef SKS_PASSPORT_H
#define SKS_PASSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "shaken/rules.h"
#include "shaken/tn.h"

enum sks_ppt {
    SKS_PPT_SHAKEN, /* RFC 8588 */
    SKS_PPT_DIV,    /* RFC 8946 */
    SKS_PPT_RCD,    /* RFC 9795: Rich Call Data on its own */
};

/* "dest" may name several TNs; more than this is not a real call. */
#define SKS_DEST_MAX 32
#define SKS_ES256_SIG_LEN 64
/*
 * The largest Identity header value accepted, and the buffer size that holds
 * any value sks_passport_sign() produces (with SKS_X5U_MAX, SKS_DEST_MAX
 * the longest TNs and the largest Rich Call Data it needs about 15 KiB).
 */
#define SKS_IDENTITY_MAX 16384
/* iat is at most 9999-12-31T23:59:59Z: it stays an exact JSON integer. */
#define SKS_IAT_MAX 253402300799LL
/*
 * Rich Call Data (RFC 9795): the largest rcd and rcdi claims kept, as
 * canonical JSON, and the longest call reason (crn).
 */
#define SKS_RCD_JSON_MAX 4096
#define SKS_RCDI_JSON_MAX 2048
#define SKS_CRN_MAX 256

struct sks_passport {
    enum sks_ppt ppt;
    char x5u[SKS_X5U_MAX + 1];
    char orig[SKS_TN_MAX + 1];
    char dest[SKS_DEST_MAX][SKS_TN_MAX + 1];
    unsigned int ndest;
    long long iat;
    char attest;                   /* 'A', 'B' or 'C'; SHAKEN only */
    char origid[SKS_UUID_LEN + 1]; /* SHAKEN only */
    char div[SKS_TN_MAX + 1];      /* div only: the diverting TN */
    /*
     * RFC 9795, in a PASSporT of any type (and required in one of type
     * rcd); each "" when absent.  rcd and rcdi hold the claims' canonical
     * JSON as sks_passport_set_rcd() and sks_passport_claims_from_json()
     * make it, having checked it (shaken/rcd.h).
     */
    char crn[SKS_CRN_MAX + 1];
    char rcd[SKS_RCD_JSON_MAX + 1];
    char rcdi[SKS_RCDI_JSON_MAX + 1];
};

/* ---- claims -------------------------------------------------------------- */

/*
 * Empties |pp| for a PASSporT of type |ppt| with iat = now and, for SHAKEN,
 * a fresh random origid (both can be set afterwards).
 */
sks_status sks_passport_init(struct sks_passport *pp, enum sks_ppt ppt, struct sks_error *err);

/* Each setter validates its input and leaves |pp| unchanged on failure. */
sks_status sks_passport_set_x5u(struct sks_passport *pp, const char *x5u, struct sks_error *err);
/* TNs are canonicalized (sks_tn_canonicalize). */
sks_status sks_passport_set_orig(struct sks_passport *pp, const char *tn, struct sks_error *err);
sks_status sks_passport_add_dest(struct sks_passport *pp, const char *tn, struct sks_error *err);
/* A comma-separated list of TNs, as on a command line. */
sks_status sks_passport_add_dest_list(struct sks_passport *pp, const char *list,
                                      struct sks_error *err);
sks_status sks_passport_set_div(struct sks_passport *pp, const char *tn, struct sks_error *err);
/* "A", "B" or "C" (RFC 8588 section 4). */
sks_status sks_passport_set_attest(struct sks_passport *pp, const char *attest,
                                   struct sks_error *err);
/* A UUID in the 8-4-4-4-12 hex form of RFC 4122 section 3. */
sks_status sks_passport_set_origid(struct sks_passport *pp, const char *uuid,
                                   struct sks_error *err);
sks_status sks_passport_set_iat(struct sks_passport *pp, long long iat, struct sks_error *err);
/*
 * Rich Call Data (RFC 9795).  rcd is the JSON text of the rcd object (nam,
 * and apn, icn, jcd or jcl); rcdi the JSON text of digests over what rcd
 * points at (or see sks_rcdi_compute(), shaken/rcd.h); crn the call reason.
 * Errors name the member ("rcd.icn") with the code "invalid-rcd".
 */
sks_status sks_passport_set_rcd(struct sks_passport *pp, const char *json, size_t len,
                                struct sks_error *err);
sks_status sks_passport_set_rcdi(struct sks_passport *pp, const char *json, size_t len,
                                 struct sks_error *err);
sks_status sks_passport_set_crn(struct sks_passport *pp, const char *crn, struct sks_error *err);
/*
 * Parses a decimal count of seconds from 0 to SKS_IAT_MAX, as an iat, a
 * time or a freshness window is given on a command line or in a config.
 */
sks_status sks_seconds_parse(const char *s, long long *out, struct sks_error *err);

/*
 * The one validator of a PASSporT: SKS_OK when x5u (the JWS header's) and
 * every claim its type requires are there and follow their rules; otherwise
 * the first fault, with the claim's path as the error's field ("orig",
 * "orig.tn", "dest.tn[1]", "attest", "origid", "iat", "div.tn", "x5u") and a
 * stable code ("missing-field", "invalid-tn", "invalid-dest",
 * "invalid-attest", "invalid-origid", "invalid-iat", "invalid-x5u").  The
 * fields of |pp| may hold anything (a buffer without its NUL, a count past
 * its array): a front end maps its input to the struct and lets this judge.
 * sks_passport_sign() and the encoders call it.
 */
sks_status sks_passport_check_complete(const struct sks_passport *pp, struct sks_error *err);
/*
 * The claims half of sks_passport_check_complete(), for a front end that
 * judges a request before it knows the signer and so the x5u (sksd).
 */
sks_status sks_passport_check_claims(const struct sks_passport *pp, struct sks_error *err);

/* How sks_passport_claims_from_json() treats what it reads. */
enum sks_claims_mode {
    /*
     * Claims handed to a signer: TNs are canonicalized, a missing iat or
     * origid keeps the value sks_passport_init() chose.
     */
    SKS_CLAIMS_TO_SIGN,
    /*
     * Claims of a received PASSporT: TNs must already be canonical and every
     * claim the type requires must be present.
     */
    SKS_CLAIMS_RECEIVED,
};

/*
 * Fills the claims of |pp| (already initialised for its type) from the JSON
 * object in |json|.  Members may come in any order and with any whitespace;
 * unknown claims are ignored, duplicate keys rejected.  Errors name the claim
 * and what is wrong with it.
 */
sks_status sks_passport_claims_from_json(struct sks_passport *pp, const char *json, size_t len,
                                         enum sks_claims_mode mode, struct sks_error *err);

/* A version 4 UUID from RAND_bytes, in lower-case 8-4-4-4-12 form. */
sks_status sks_uuid_v4(char out[SKS_UUID_LEN + 1], struct sks_error *err);

/* "shaken", "div" or "rcd". */
const char *sks_ppt_name(enum sks_ppt ppt);

/* ---- canonical JSON (RFC 8225 section 9) --------------------------------- */

/*
 * Write the JWS header or the claims of |pp| as canonical JSON to |buf| (of
 * |size| bytes, NUL-terminated) and its length to |len|.  SKS_ERR_INPUT when
 * |buf| is too small.
 */
sks_status sks_passport_header_json(const struct sks_passport *pp, char *buf, size_t size,
                                    size_t *len, struct sks_error *err);
sks_status sks_passport_claims_json(const struct sks_passport *pp, char *buf, size_t size,
                                    size_t *len, struct sks_error *err);
/* base64url(header) "." base64url(claims): the bytes ES256 signs. */
sks_status sks_passport_signing_input(const struct sks_passport *pp, char *buf, size_t size,
                                      size_t *len, struct sks_error *err);

/* ---- signing --------------------------------------------------------------- */

/*
 * An ES256 signer: signs |msg| with ECDSA P-256 over SHA-256 and writes the
 * JWS form of the signature, r || s with each half left-padded to 32 bytes
 * (RFC 7518 section 3.4).  The daemon plugs in a signer that goes straight
 * through the PKCS#11 layer; sks_es256_sign_evp() serves any EVP_PKEY.
 */
typedef sks_status (*sks_es256_sign_fn)(void *ctx, const unsigned char *msg, size_t len,
                                        unsigned char sig[SKS_ES256_SIG_LEN],
                                        struct sks_error *err);

/* An sks_es256_sign_fn whose |ctx| is an EVP_PKEY * (EC P-256 private key). */
sks_status sks_es256_sign_evp(void *ctx, const unsigned char *msg, size_t len,
                              unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err);
/* DER ECDSA-Sig-Value (what OpenSSL signers return) to r || s. */
sks_status sks_es256_sig_from_der(const unsigned char *der, size_t len,
                                  unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err);
/*
 * Verifies an r || s signature over |msg| with the EC P-256 public key
 * |pub|: SKS_OK, SKS_ERR_VERIFY when it does not verify, SKS_ERR_INPUT
 * when |pub| is not a P-256 key.
 */
sks_status sks_es256_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len,
                            const unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err);

/*
 * Encodes |pp|, signs it with |sign| and writes the SIP Identity header
 * value "<jws>;info=<x5u>;alg=ES256;ppt=<ppt>" to |out| (of |size| bytes,
 * SKS_IDENTITY_MAX is always enough), NUL-terminated, its length to |len|.
 */
sks_status sks_passport_sign(const struct sks_passport *pp, sks_es256_sign_fn sign, void *sign_ctx,
                             char *out, size_t size, size_t *len, struct sks_error *err);

#endif
