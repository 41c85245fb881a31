/*
 * The ACME client (RFC 8555) of the certificate lifecycle: an account whose
 * key is a P-256 key generated in the token, and the orders that bring a
 * key version its certificate.
 *
 * Every request is a JWS (RFC 7515 flattened JSON, ES256) signed in the
 * token through the p11 layer: the hash is taken on the host, the token
 * signs it.  The account key is named by its JWK for newAccount (and for a
 * revocation signed with the certificate's key), by the account URL ("kid")
 * after.  Every response's Replay-Nonce is kept for the next request; a
 * badNonce answer is retried a bounded number of times with the nonce it
 * came with.  Every call is an HTTPS request through fetch/ (https only,
 * TLS verified, bounded in bytes and time); a problem document
 * (application/problem+json) becomes an sks_error naming its type and
 * detail, field "acme" and a stable code: acme-bad-nonce,
 * acme-rate-limited, acme-unauthorized, acme-eab-required, acme-problem
 * (any other type), acme-invalid (an order or authorization that went
 * invalid), acme-timeout (polling ran out of its total wait) and
 * acme-protocol (the server's answer is not what RFC 8555 says).
 *
 * The identifier an order names and the challenge answered are parameters,
 * so that one code path serves a "dns" identifier with pebble's challenges
 * and a "TNAuthList" identifier with tkauth-01 (RFC 9447, 9448).
 */
#ifndef SKS_ACME_H
#define SKS_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "p11/p11.h"

struct acme_client;

#define ACME_TIMEOUT_MS_DEFAULT 10000
#define ACME_POLL_MAX_SECONDS_DEFAULT 120
#define ACME_BAD_NONCE_RETRIES_DEFAULT 3
/* The largest answer taken from the server (a certificate chain included). */
#define ACME_MAX_BYTES (256 * 1024)

struct acme_config {
    const char *directory_url; /* https://... the server's directory */
    const char *ca_file;       /* PEM trust anchors for the server's TLS; NULL: the system's */
    bool allow_private;        /* the server may be on a loopback or private address (tests) */
    long timeout_ms;           /* each HTTP call, connection included */
    long poll_max_seconds;     /* the total wait for an authorization or an order */
    unsigned int bad_nonce_retries;
};

/* The defaults above, no directory. */
void acme_config_init(struct acme_config *cfg);

/*
 * Fetches the directory and readies a client that signs with |account_key|
 * (a P-256 private key in the token; a reference is taken; NULL: none yet,
 * acme_client_set_key() before the first request).  |account_url| is the
 * account's URL ("kid") once registered, NULL before.  A URL that is not
 * https, a server that does not answer or an answer that is not an ACME
 * directory fails here, before anything is signed or written.  The
 * directory URL is copied; cfg->ca_file is not, and must outlive the client.
 */
sks_status acme_client_new(const struct acme_config *cfg, struct p11_key *account_key,
                           const char *account_url, struct acme_client **out,
                           struct sks_error *err);
void acme_client_set_key(struct acme_client *c, struct p11_key *account_key);
void acme_client_free(struct acme_client *c);

/* The directory's meta.termsOfService, NULL when it names none. */
const char *acme_terms_of_service(const struct acme_client *c);
/* meta.externalAccountRequired. */
bool acme_eab_required(const struct acme_client *c);
/* The account URL, NULL before acme_account_new(). */
const char *acme_account_url(const struct acme_client *c);
/* The account key the client signs with (no reference taken), NULL when none. */
struct p11_key *acme_client_key(const struct acme_client *c);

/* What the client did so far, for figures: signed requests and the time their JWS took. */
struct acme_stats {
    unsigned long requests; /* signed POSTs sent, badNonce retries included */
    double signing_seconds; /* building and signing their JWS, the token's signature in it */
};
void acme_client_stats(const struct acme_client *c, struct acme_stats *out);

/* RFC 7638: the base64url SHA-256 thumbprint of the P-256 JWK of |key|. */
#define ACME_THUMBPRINT_LEN 43
sks_status acme_jwk_thumbprint(struct p11_key *key, char out[ACME_THUMBPRINT_LEN + 1],
                               struct sks_error *err);

/* ---- account ------------------------------------------------------------------------------- */

/* RFC 8555 7.3.4: the key identifier and the (decoded) HMAC key the CA gave. */
struct acme_eab {
    const char *kid;
    const unsigned char *hmac_key;
    size_t hmac_len;
};

/*
 * newAccount (RFC 8555 7.3) with |contacts| ("mailto:..."), the terms
 * agreed when |agree_tos|, and an External Account Binding when |eab| is
 * not NULL.  The client signs with the account URL from then on.
 */
sks_status acme_account_new(struct acme_client *c, const char *const *contacts, size_t ncontacts,
                            bool agree_tos, const struct acme_eab *eab, struct sks_error *err);

/*
 * keyChange (RFC 8555 7.3.5): the account's key becomes |new_key|.  On
 * SKS_OK the client signs with |new_key|; on failure it still signs with
 * the old key, which the server still holds.
 */
sks_status acme_key_change(struct acme_client *c, struct p11_key *new_key, struct sks_error *err);

/* ---- orders -------------------------------------------------------------------------------- */

/* An identifier of an order (RFC 8555 9.7.7): "dns", or "TNAuthList" (RFC 9448). */
struct acme_identifier {
    const char *type;
    const char *value; /* for TNAuthList: the base64url DER TNAuthList */
};

/*
 * RFC 9448 3: the value of a "TNAuthList" identifier for |spc|, the
 * base64url DER TNAuthList holding that one SPC (malloc'd).
 */
sks_status acme_tnauthlist_value(const char *spc, char **value, struct sks_error *err);

/*
 * The answer to the challenge of one authorization: |*payload| (malloc'd
 * JSON, freed by the client) is POSTed to the challenge's URL.  |authz|
 * and |challenge| are the server's objects (the identifier, the token,
 * tkauth-01's token-authority).
 */
typedef sks_status (*acme_answer_fn)(void *arg, const json_t *authz, const json_t *challenge,
                                     char **payload, struct sks_error *err);

struct acme_order_request {
    const struct acme_identifier *identifiers;
    size_t nidentifiers;
    const char *challenge_type; /* "http-01" for pebble, "tkauth-01" for SHAKEN */
    const char *answer;         /* the payload when |answer_fn| is NULL: "{}" */
    acme_answer_fn answer_fn;
    void *answer_arg;
    const unsigned char *csr_der; /* finalize's CSR (RFC 2986, DER) */
    size_t csr_len;
    /* Continue the order at this URL (an interrupted one) instead of a new order; or NULL. */
    const char *resume_url;
    /*
     * Called once newOrder gave the new order's URL, before any challenge
     * is answered (may be NULL): to keep it durably for a resume.  A
     * failure stops the order.
     */
    sks_status (*created)(void *arg, const char *order_url, struct sks_error *err);
    void *created_arg;
};

/*
 * One order from newOrder to the certificate (RFC 8555 7.4): every
 * authorization answered with the challenge of |req|'s type and polled
 * until valid, the order finalized with the CSR and polled until valid,
 * the certificate chain downloaded (application/pem-certificate-chain).
 * Polls wait as Retry-After says, within poll_max_seconds in all.
 * *chain is the PEM chain, leaf first (malloc'd, NUL-terminated);
 * *order_url (may be NULL) the order's URL.  With req->resume_url the
 * order is fetched and continued from its state (authorizations answered
 * if pending, finalized if ready, polled, downloaded); one that went
 * invalid fails with acme-invalid.
 */
sks_status acme_order_certificate(struct acme_client *c, const struct acme_order_request *req,
                                  char **chain, size_t *chain_len, char **order_url,
                                  struct sks_error *err);

/* ---- renewal information (RFC 9773) ---------------------------------------------------------- */

/* RFC 9773 4.1: the certID of |cert|, base64url(AKI keyIdentifier) "." base64url(serial)
 * (malloc'd). */
sks_status acme_ari_cert_id(X509 *cert, char **out, struct sks_error *err);

/*
 * The window in which the server suggests |cert| be renewed (RFC 9773
 * 4.2), from its directory's renewalInfo: *offered false (and SKS_OK) when
 * the directory names none.  An unauthenticated GET; an answer without a
 * suggestedWindow fails with acme-protocol.
 */
sks_status acme_renewal_info(struct acme_client *c, X509 *cert, bool *offered, time_t *start,
                             time_t *end, struct sks_error *err);

/* ---- revocation ------------------------------------------------------------------------------ */

/* RFC 5280 5.3.1 reason codes by name ("keyCompromise" -> 1); -1 when unknown. */
int acme_reason_code(const char *name);

/*
 * revokeCert (RFC 8555 7.6) of |cert| for |reason| (RFC 5280 5.3.1),
 * signed with the account key (kid), or with |cert_key| (jwk: the
 * certificate's own key in the token) when it is not NULL.
 */
sks_status acme_revoke(struct acme_client *c, X509 *cert, int reason, struct p11_key *cert_key,
                       struct sks_error *err);

#endif
