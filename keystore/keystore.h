/*
 * The Secure Key Store: SHAKEN identities held in a PKCS#11 token.
 *
 * All state lives in the token, so that a second sksd or a replacement
 * machine sees the same thing; there is no side database.
 *
 * - An identity ("sp-main") has an SPC and one or more key versions, exactly
 *   one of them active once any version is complete.
 * - A key version is a private key, its end-entity certificate and the chain
 *   certificates, all sharing one CKA_ID, plus its x5u (CKA_URL of the
 *   end-entity certificate object).  Labels read well in pkcs11-tool:
 *   "sp-main/3".
 * - The active version and the rotation state of an identity live in its
 *   record: CKO_DATA objects with CKA_APPLICATION "shaken-sks" whose
 *   CKA_LABEL holds the record, two slots written in turn with one
 *   C_SetAttributeValue each (PKCS#11 keeps a data object's CKA_VALUE
 *   read-only; the label is the attribute it lets us modify).  See
 *   slots.c.
 * - Private keys are CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not extractable,
 *   CKA_SIGN only and not modifiable (p11/template.c).
 *
 * Every way in validates everything before it writes anything, and writes in
 * an order such that a crash at any point leaves nothing that will be used
 * for signing; sks_keystore_sweep() removes what such a crash left behind.
 *
 * Threads: sks_keystore_active() and sks_active_put() may be called from any
 * number of threads; the other calls run one at a time (they take a lock).
 * Processes: writers on one host serialise on a lock file per token
 * (config lock_dir); every record write also checks that the record is
 * still the one it started from, and fails with SKS_ERR_UNAVAILABLE
 * ("run again") when another writer changed it.
 */
#ifndef SKS_KEYSTORE_H
#define SKS_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "p11/p11.h"
#include "profile/profile.h"

#define SKS_IDENTITY_NAME_MAX 64
#define SKS_X5U_MAX 2048
/* ATIS-1000080 6.3.7: verifiers cache certificates for up to a day. */
#define SKS_GRACE_DEFAULT (24 * 60 * 60)
/* Certificates that expire sooner than this are taken with a warning. */
#define SKS_EXPIRY_WARN_DAYS_DEFAULT 30
/* A generated key waits this long for its certificate before sweep removes it. */
#define SKS_PENDING_MAX_AGE_DEFAULT (30L * 24 * 60 * 60)
/* An unfinished write older than this is taken as abandoned by a crashed writer. */
#define SKS_SWEEP_AFTER_DEFAULT 600

struct sks_keystore;

/* Called with a one-line warning (a certificate that expires soon); NULL: none. */
typedef void (*sks_warn_cb)(const char *msg, void *arg);

/*
 * Where the key store gets the CRLs a chain names (ATIS-1000080 6.3.7: the
 * STI-CA's CRL for the SP certificate, the STI-PA's for the STI-CA).  The
 * key store fetches nothing itself: sksctl and sksd hand it a source over
 * the guarded HTTPS fetcher and its cache (verify/x5u.h sks_crl_get).
 * |get| returns a new reference to the CRL published at |url|, or fails
 * naming the URL with a stable code (fetch-*, invalid-crl).
 */
struct sks_crl_source {
    sks_status (*get)(void *arg, const char *url, X509_CRL **crl, struct sks_error *err);
    void *arg;
};

/* Fill with sks_keystore_config_init() first: zero is a meaningful value for each field. */
struct sks_keystore_config {
    X509_STORE *roots;     /* the STI-PA trust anchors; required for imports */
    long grace_seconds;    /* how long a replaced version stays usable */
    long expiry_warn_days; /* warn when a certificate expires sooner (30) */
    long pending_max_age;  /* seconds a generated key may wait for its certificate */
    long sweep_after;      /* seconds after which an unfinished write is abandoned (600) */
    sks_warn_cb warn;
    void *warn_arg;
    /*
     * Activation holds the version's chain to the CRLs it names, through
     * this source (which must outlive the key store), with |roots|.  NULL:
     * no CRL is checked, which the caller tells its operator.
     */
    const struct sks_crl_source *crls;
    /*
     * Writers on one host take a lock file here, one per token, for each
     * change: NULL is the runtime directory ($XDG_RUNTIME_DIR/shaken-sks,
     * else /run/shaken-sks, else $TMPDIR/shaken-sks-UID).  Writers on other
     * hosts are caught by the check each record write makes against the
     * record it started from.
     */
    const char *lock_dir;
};

/* The defaults: no roots, 24 h grace, warn 30 days ahead, 30 days pending, 600 s sweep. */
void sks_keystore_config_init(struct sks_keystore_config *cfg);

sks_status sks_keystore_open(struct p11_token *tok, const struct sks_keystore_config *cfg,
                             struct sks_keystore **out, struct sks_error *err);
void sks_keystore_close(struct sks_keystore *ks);

enum sks_version_state {
    SKS_VERSION_PENDING,  /* generated, waiting for its certificate (attach) */
    SKS_VERSION_ACTIVE,   /* signs */
    SKS_VERSION_STANDBY,  /* complete, not yet activated */
    SKS_VERSION_PREVIOUS, /* replaced, still usable during the grace period */
    SKS_VERSION_WRITING,  /* being written or destroyed; never used; sweep removes it */
};

/* "pending", "active", ...: the names sksctl list prints. */
const char *sks_version_state_name(enum sks_version_state state);
/* True for 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit. */
bool sks_identity_name_ok(const char *name);

struct sks_version_info {
    unsigned int version;
    enum sks_version_state state;
    time_t not_after;   /* 0 while pending */
    time_t replaced_at; /* PREVIOUS only */
    time_t created;
    char x5u[SKS_X5U_MAX + 1];
    char uri[512]; /* pkcs11: URI of the private key; "" when it is missing */
};

struct sks_identity_info {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    char spc[SKS_SPC_MAX + 1];
    unsigned int active; /* 0: none */
    size_t nversions;
    struct sks_version_info *versions;
};

/*
 * Calls |cb| for each identity, in name order; the info is valid during the
 * call only.  Scans the whole token (one search, then every object), so its
 * cost grows with the number of objects.
 */
typedef int (*sks_identity_cb)(const struct sks_identity_info *info, void *arg);
sks_status sks_keystore_list(struct sks_keystore *ks, sks_identity_cb cb, void *arg,
                             struct sks_error *err);
/*
 * Calls |cb| once with identity |name| as sks_keystore_list shows it, or not
 * at all when there is no such identity.  Reads that identity's record and
 * the objects of its versions only, so its cost does not grow with the
 * number of identities on the token.
 */
sks_status sks_keystore_list_one(struct sks_keystore *ks, const char *name, sks_identity_cb cb,
                                 void *arg, struct sks_error *err);

/*
 * For a reader that keeps its own view of the key store and must not scan
 * the token to keep it current (sksd's /healthz and /metrics): the value of
 * the change marker, which every record change rewrites, so that while it
 * reads the same no identity changed.  One attribute read, and a search for
 * the marker first when it is not known yet, was destroyed or the token was
 * reset.  *len is 0 when the token has no marker: only a list shows changes
 * then.  Fails, naming the cause, when the token does not answer.
 */
#define SKS_MARKER_MAX 64
sks_status sks_keystore_marker(struct sks_keystore *ks, unsigned char value[SKS_MARKER_MAX],
                               size_t *len, struct sks_error *err);

/*
 * One identity as sksctl list --json and sksd's GET /sks/v1/identities show
 * it: {"name", "spc", "activeVersion" (0: none), "versions": [{"version",
 * "state", "notAfter", "x5u", "uri", "replacedAt", "usableUntil"}]}, times
 * as RFC 3339 UTC strings, left out when there is none.  NULL when out of
 * memory.
 */
json_t *sks_identity_json(const struct sks_keystore *ks, const struct sks_identity_info *info);

/* ---- ways in -------------------------------------------------------------- */

/*
 * The certificate, chain and x5u that come with a key.  Validated before
 * anything is written: P-256 key matching the certificate, SHAKEN profile
 * and chain to cfg->roots, SPC equal to the identity's, current validity, an
 * https x5u without userinfo, query or fragment.
 */
struct sks_credentials {
    X509 *cert;
    STACK_OF(X509) * chain;
    const char *x5u;
};

/*
 * 1. Generate in the token: a P-256 key pair for a new pending version, and
 * a PKCS#10 CSR signed by it (CN "SHAKEN <SPC>", TNAuthList with the SPC),
 * written to |csr| as PEM.
 */
sks_status sks_keystore_generate(struct sks_keystore *ks, const char *identity, const char *spc,
                                 BIO *csr, unsigned int *version, struct sks_error *err);
/*
 * sks_keystore_generate() whose CSR also names the DNS name |dns| (NULL:
 * none) in a subjectAltName: for a CA whose orders name DNS identifiers
 * (an ACME test server such as pebble).
 */
sks_status sks_keystore_generate_dns(struct sks_keystore *ks, const char *identity, const char *spc,
                                     const char *dns, BIO *csr, unsigned int *version,
                                     struct sks_error *err);
/* Completes a pending version with its issued certificate. */
sks_status sks_keystore_attach(struct sks_keystore *ks, const char *identity, unsigned int version,
                               const struct sks_credentials *cred, struct sks_error *err);

/*
 * 2. Wrapped import: RSA-OAEP(AES-256 key) || AES-KWP(PKCS#8), unwrapped in
 * the token.  The public half of the token's RSA-3072 wrapping key pair,
 * generated (unwrap-only, not extractable) on first use.
 */
sks_status sks_keystore_wrapping_key(struct sks_keystore *ks, EVP_PKEY **pub,
                                     struct sks_error *err);
sks_status sks_keystore_import_wrapped(struct sks_keystore *ks, const char *identity,
                                       const unsigned char *blob, size_t len,
                                       const struct sks_credentials *cred, unsigned int *version,
                                       struct sks_error *err);

/*
 * The sender's side of way 2, in software: wraps |key| (PKCS#8) for the
 * RSA public key |wrapping_pub| with RSA-OAEP using |oaep_md| ("SHA1", the
 * default when NULL, or "SHA256") for hash and MGF1.  free() *blob.
 */
sks_status sks_wrap_key(EVP_PKEY *wrapping_pub, EVP_PKEY *key, const char *oaep_md,
                        unsigned char **blob, size_t *len, struct sks_error *err);

/* 3. A software key (PKCS#8 / SEC1, already decrypted by the caller). */
sks_status sks_keystore_import_key(struct sks_keystore *ks, const char *identity, EVP_PKEY *key,
                                   const struct sks_credentials *cred, unsigned int *version,
                                   struct sks_error *err);

/* ---- rotation ------------------------------------------------------------ */

/*
 * Makes |version| active; the one it replaces becomes PREVIOUS. Atomic.
 * With a CRL source configured, the version's chain must first pass
 * sks_keystore_crl_check(): a revoked certificate, or a CRL that cannot be
 * had or is invalid, refuses the activation (the CRLs are fetched before
 * the write lock is taken).
 */
sks_status sks_keystore_activate(struct sks_keystore *ks, const char *identity,
                                 unsigned int version, struct sks_error *err);

/* What sks_keystore_crl_check() found. */
struct sks_crl_verdict {
    unsigned int version; /* the version judged */
    bool revoked;         /* its certificate or its STI-CA's is listed */
    size_t ncrls;         /* the CRLs the chain names, each fetched and checked */
    time_t next_update;   /* the earliest nextUpdate of those CRLs; 0 when none */
};

/*
 * Holds the chain of |version| of |identity| (0: the active version) to the
 * CRLs its certificates name, fetched through the configured source and
 * checked with the trust anchors (sks_profile_check_crls): every CRL must
 * be its issuer's, current and validly signed.  SKS_OK: not revoked.
 * Otherwise, naming the certificate and the CRL's URL:
 *   certificate-revoked  (SKS_ERR_POLICY, |v->revoked|) a CRL lists the
 *                        version's certificate or its STI-CA certificate;
 *   crl-unavailable      (SKS_ERR_UNAVAILABLE) a CRL could not be fetched
 *                        (the fetcher's reason: timeout, too large, ...);
 *   crl-invalid          (SKS_ERR_POLICY) not a CRL, issued by another CA,
 *                        past its nextUpdate, or its signature fails.
 * Without a source or trust anchors it fails (SKS_ERR_INPUT).  No write.
 */
#define SKS_CODE_CERT_REVOKED "certificate-revoked"
#define SKS_CODE_CRL_UNAVAILABLE "crl-unavailable"
#define SKS_CODE_CRL_INVALID "crl-invalid"
sks_status sks_keystore_crl_check(struct sks_keystore *ks, const char *identity,
                                  unsigned int version, struct sks_crl_verdict *v,
                                  struct sks_error *err);
/* Destroys PREVIOUS versions whose grace period is over at |now|. */
sks_status sks_keystore_retire(struct sks_keystore *ks, const char *identity, time_t now,
                               struct sks_error *err);
/* Destroys one version; never the active one while it is the only version. */
sks_status sks_keystore_destroy(struct sks_keystore *ks, const char *identity, unsigned int version,
                                struct sks_error *err);
/* Removes what an interrupted write left: keys without certificates, stale pending versions. */
sks_status sks_keystore_sweep(struct sks_keystore *ks, time_t now, struct sks_error *err);

/* ---- keys made modifiable -------------------------------------------------- */

/*
 * Calls |cb| with the pkcs11: URI and label of each private or public key on
 * the token that is still CKA_MODIFIABLE: made before every key was created
 * non-modifiable, so that anyone holding the PIN could switch on
 * CKA_DECRYPT or CKA_DERIVE.  Return non-zero from |cb| to stop.
 */
typedef int (*sks_unprotected_cb)(const char *uri, const char *label, void *arg);
sks_status sks_keystore_unprotected(struct sks_keystore *ks, sks_unprotected_cb cb, void *arg,
                                    struct sks_error *err);
/*
 * Re-protects the modifiable keys of |identities| (|n| 0: every EC key on
 * the token and the wrapping key pair): see p11_store_protect.  The key
 * store finds each key by its CKA_ID and label as before.  |cb| hears of
 * each key: |ok| false when it is still modifiable, and |msg| says what to
 * do then.  *done counts the keys looked at, *failed those left modifiable.
 */
typedef void (*sks_protect_cb)(const char *uri, bool ok, const char *msg, void *arg);
sks_status sks_keystore_protect(struct sks_keystore *ks, const char *const *identities, size_t n,
                                sks_protect_cb cb, void *arg, size_t *done, size_t *failed,
                                struct sks_error *err);

/* ---- signing -------------------------------------------------------------- */

/*
 * What a signer needs for an identity's active version.  Reference counted:
 * a signer keeps using the snapshot it holds while a rotation swaps in the
 * next one.
 */
struct sks_active {
    struct p11_key *key;
    X509 *cert;
    char x5u[SKS_X5U_MAX + 1];
    char spc[SKS_SPC_MAX + 1];
    unsigned int version;
};

/*
 * The active version of |identity|, from a cache that follows changes made
 * by other processes within |max_age_ms|: at most every |max_age_ms| one
 * read of the key store's change marker tells whether any record changed,
 * and only then do cached identities re-read their records.  A hit costs a
 * hash lookup, whatever the number of identities.  Identities that do not
 * exist are cached as such.  Release with sks_active_put().
 */
sks_status sks_keystore_active(struct sks_keystore *ks, const char *identity, long max_age_ms,
                               struct sks_active **out, struct sks_error *err);
void sks_active_put(struct sks_active *a);

/*
 * Stops sks_keystore_active() from handing out |version| of |identity|:
 * while held, it answers |why| (status and code as they are: sksd's
 * certificate-revoked) for that version, and the next version to become
 * active is handed out as usual.  |why| NULL lets it go again.  In this
 * process only: what is durable is an activation of another version.
 */
sks_status sks_keystore_hold(struct sks_keystore *ks, const char *identity, unsigned int version,
                             const struct sks_error *why, struct sks_error *err);

#endif
