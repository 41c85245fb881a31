/*
 * A test SHAKEN PKI: an STI-PA root and its CRL of STI-CA certificates, an
 * STI-CA intermediate, its CRL of SP certificates and SP end-entity certificates that follow the
 * profile of profile/profile.h (ATIS-1000080).  For tests, demos and `sksctl pki`; never for
 * production trust.
 *
 * End-entity options can break exactly one profile rule each, so tests can
 * show that the checker rejects that rule and nothing else.
 */
#ifndef SKS_TESTPKI_H
#define SKS_TESTPKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "profile/profile.h"
#include "profile/tnauthlist.h"

/* The certificate policy the test PKI issues under unless told otherwise (profile/profile.h). */
#define SKS_TESTPKI_POLICY_OID SKS_SHAKEN_CP_V1_4_OID
#define SKS_TESTPKI_CRL_URL "https://sti-ca.test/crl.pem"
#define SKS_TESTPKI_DAYS_MAX 36500

/* Deviations from the profile for an end-entity certificate; all zero is compliant. */
enum sks_testpki_ee_flags {
    SKS_TESTPKI_EE_KU_NOT_CRITICAL = 1u << 0,
    SKS_TESTPKI_EE_KU_KEY_ENCIPHERMENT = 1u << 1,
    SKS_TESTPKI_EE_CA_TRUE = 1u << 2,
    SKS_TESTPKI_EE_NO_TNAUTHLIST = 1u << 3,
    SKS_TESTPKI_EE_NO_POLICY = 1u << 4,
    SKS_TESTPKI_EE_NO_CRL_DP = 1u << 5,
    SKS_TESTPKI_EE_TNAUTHLIST_CRITICAL = 1u << 6, /* allowed; tests that it is accepted */
};

struct sks_testpki_ee_opts {
    unsigned int flags;                    /* enum sks_testpki_ee_flags */
    const char *digest;                    /* signature digest; NULL is SHA256 */
    const char *cn;                        /* subject CN; NULL is "SHAKEN <SPC>" */
    const struct sks_tn_entry *tnauthlist; /* NULL is the one SPC entry */
    size_t tnauthlist_len;
    time_t not_before;   /* 0: an hour before the issue time */
    time_t not_after;    /* 0: |days| after the issue time */
    const char *policy;  /* certificate policy OID; NULL: the PKI's (SKS_TESTPKI_POLICY_OID) */
    const char *crl_url; /* the CRL distribution point; NULL: SKS_TESTPKI_CRL_URL */
};

/* How the STI-CA of a test PKI is made; all zero is the default. */
struct sks_testpki_opts {
    const char *policy; /* of the STI-CA and SP certificates; NULL: SKS_TESTPKI_POLICY_OID */
    /*
     * The STI-CA certificate's CRL distribution point, where the STI-PA's
     * CRL is served (ATIS-1000080); NULL: the STI-CA names none.
     */
    const char *ca_crl_url;
};

/* A root, an intermediate and their CRLs, all made at |now| for |days|. */
struct sks_testpki {
    EVP_PKEY *root_key;
    X509 *root;
    X509_CRL *root_crl; /* the STI-PA's CRL of STI-CA certificates, empty */
    EVP_PKEY *ca_key;
    X509 *ca;
    X509_CRL *crl; /* the STI-CA's CRL of SP certificates, empty */
    time_t now;
    int days;
    const char *policy; /* of the intermediate and SP certificates; NULL: SKS_TESTPKI_POLICY_OID */
};

/* A fresh EC P-256 key pair from the default provider. */
sks_status sks_testpki_keygen(EVP_PKEY **key, struct sks_error *err);

/* Self-signed STI-PA root: CA:TRUE critical, KeyUsage keyCertSign+cRLSign critical. */
sks_status sks_testpki_make_root(EVP_PKEY *key, time_t now, int days, X509 **out,
                                 struct sks_error *err);

/* STI-CA intermediate for |key|, issued by |root|: CA:TRUE pathlen 0; |opts| may be NULL. */
sks_status sks_testpki_make_intermediate(X509 *root, EVP_PKEY *root_key, EVP_PKEY *key, time_t now,
                                         int days, const struct sks_testpki_opts *opts, X509 **out,
                                         struct sks_error *err);

/*
 * SP end-entity certificate for the public key |pub| and |spc|, issued by
 * |ca|.  |opts| may be NULL (compliant).
 */
sks_status sks_testpki_issue_ee(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub, const char *spc,
                                time_t now, int days, const struct sks_testpki_ee_opts *opts,
                                X509 **out, struct sks_error *err);

/* An empty CRL signed by |ca|, next update in |days|. */
sks_status sks_testpki_make_crl(X509 *ca, EVP_PKEY *ca_key, time_t now, int days, X509_CRL **out,
                                struct sks_error *err);

/*
 * The public key of a CSR, after checking the CSR's self-signature and that
 * the key is EC P-256.  The CSR's subject is ignored.  *pub is a new reference.
 */
sks_status sks_testpki_csr_pubkey(X509_REQ *req, EVP_PKEY **pub, struct sks_error *err);

/* Root, intermediate and their CRLs with fresh keys.  Free with sks_testpki_cleanup(). */
sks_status sks_testpki_create(struct sks_testpki *pki, time_t now, int days, struct sks_error *err);
/* As sks_testpki_create(), the STI-CA made as |opts| says (NULL: the default). */
sks_status sks_testpki_create_opts(struct sks_testpki *pki, time_t now, int days,
                                   const struct sks_testpki_opts *opts, struct sks_error *err);
/* SP certificate from the PKI's intermediate; a shorthand of sks_testpki_issue_ee(). */
sks_status sks_testpki_issue(const struct sks_testpki *pki, EVP_PKEY *pub, const char *spc,
                             const struct sks_testpki_ee_opts *opts, X509 **out,
                             struct sks_error *err);
/*
 * A trust store with the PKI's root and a stack with its intermediate: what
 * sks_profile_check needs for the certificates the PKI issues.  Free with
 * X509_STORE_free() and sk_X509_pop_free(*chain, X509_free).
 */
sks_status sks_testpki_trust(const struct sks_testpki *pki, X509_STORE **roots,
                             STACK_OF(X509) * *chain, struct sks_error *err);
void sks_testpki_cleanup(struct sks_testpki *pki);

#endif
