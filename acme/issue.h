/*
 * Issuance into the key store: a new key version generated in the token
 * (pending), its CSR signed there, the order (acme_order_certificate), the
 * chain checked (its leaf's public key is the new version's, every
 * certificate parses) and only then attached with the key store's attach,
 * which holds it to the SHAKEN profile and the trust anchors.  On a
 * failure the pending version is destroyed: the token is as it was.
 */
#ifndef SKS_ACME_ISSUE_H
#define SKS_ACME_ISSUE_H

#include "acme/acme.h"
#include "acme/publish.h"
#include "keystore/keystore.h"

struct acme_issue_resume;

struct acme_issue_request {
    const char *identity;
    const char *spc;
    const char *csr_dns; /* a DNS name the CSR's subjectAltName names too (pebble), or NULL */
    /* The order: its identifiers and the challenge answered, as acme_order_request says. */
    const struct acme_identifier *identifiers;
    size_t nidentifiers;
    const char *challenge_type;
    const char *answer;
    acme_answer_fn answer_fn;
    void *answer_arg;
    const char *x5u;       /* where verifiers will fetch the chain (attach's) */
    const char *chain_out; /* also write the checked chain here (PEM), or NULL */
    /*
     * false: stop before attach, the pending version kept for a later
     * sksctl attach (documented resume: the chain is in |chain_out|).
     */
    bool attach;
    /*
     * Publication before activation (publish.h), or NULL: the x5u is the
     * publisher's for the new version when |x5u| is NULL; the chain is
     * published there and fetched back, and the version activated only
     * then.  An identity that already signs gets the new version attached
     * (standby) first, so that the key store checks the chain before it is
     * published; a new identity's first version, which attach would make
     * active at once, is attached only after the check.  On any failure
     * the version is destroyed and nothing was activated.
     */
    const struct acme_publisher *publisher;
    /*
     * An interrupted issuance to continue (NULL: a new one): the order's
     * URL and the pending version with the CSR that was ordered for it.
     */
    const struct acme_issue_resume *resume;
    /*
     * Called once the pending version exists, before the order (order_url
     * NULL), and again once the order exists, before any challenge (may
     * be NULL): its URL, the pending version and its CSR, for the caller
     * to keep durably so that a resume can continue them (or destroy a
     * version that never got an order).
     */
    sks_status (*created)(void *arg, const char *order_url, unsigned int version,
                          const unsigned char *csr_der, size_t csr_len, struct sks_error *err);
    void *created_arg;
};

struct acme_issue_resume {
    const char *order_url;
    unsigned int version;
    const unsigned char *csr_der;
    size_t csr_len;
};

/* *version: the version generated (attached, or pending when !req->attach). */
sks_status acme_issue(struct acme_client *c, struct sks_keystore *ks,
                      const struct acme_issue_request *req, unsigned int *version,
                      struct sks_error *err);

/*
 * The chain of |identity| version |version| as the token holds it: its
 * certificate, then the chain certificates attach stored, as PEM
 * (malloc'd, NUL-terminated), and its x5u (may be NULL).
 */
sks_status acme_version_chain(struct sks_keystore *ks, struct p11_token *tok, const char *identity,
                              unsigned int version, char **pem, size_t *len,
                              char x5u[SKS_X5U_MAX + 1], struct sks_error *err);

/* The certificate of |identity| version |version| as the token holds it (X509_free). */
sks_status acme_version_certificate(struct p11_token *tok, const char *identity,
                                    unsigned int version, X509 **cert, struct sks_error *err);

/*
 * The private key in the token whose public key is |cert|'s (p11_key_put),
 * for a revocation signed with the certificate's own key (RFC 8555 7.6).
 */
sks_status acme_cert_key(struct p11_token *tok, X509 *cert, struct p11_key **key,
                         struct sks_error *err);

#endif
