/*
 * The one PKCS#11 layer of shaken-sks.
 *
 * Every PKCS#11 call in the project goes through here.  The layer owns the
 * loaded modules, the tokens (slot selection, login, PIN policy), a pool of
 * sessions per token, object lookup and the recovery that follows a lost
 * session, a logged-out token or a token that went away and came back.
 *
 * Threads: everything is safe to call from any thread.  Fork: a child
 * re-initialises lazily on its first call; nothing from the parent's sessions
 * is reused.  Exit: modules are never finalised from an exit handler.
 */
#ifndef SKS_P11_H
#define SKS_P11_H

#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "common/error.h"
#include "common/p256.h"

struct p11_module;
struct p11_token;
struct p11_key;

/*
 * The PKCS#11 values the layers above handle, under names of this layer:
 * an object handle (valid while the token keeps its epoch, p11_token_epoch),
 * an object class and a key type.
 */
typedef CK_OBJECT_HANDLE p11_handle;
#define P11_NO_HANDLE ((p11_handle)CK_INVALID_HANDLE)
typedef CK_OBJECT_CLASS p11_class;
#define P11_DATA ((p11_class)CKO_DATA)
#define P11_CERTIFICATE ((p11_class)CKO_CERTIFICATE)
#define P11_PUBLIC_KEY ((p11_class)CKO_PUBLIC_KEY)
#define P11_PRIVATE_KEY ((p11_class)CKO_PRIVATE_KEY)
typedef CK_KEY_TYPE p11_key_type;
#define P11_KEY_EC ((p11_key_type)CKK_EC)
#define P11_KEY_RSA ((p11_key_type)CKK_RSA)

/* ---- modules ------------------------------------------------------------ */

/*
 * Loads and initialises the PKCS#11 module at |path| (NULL: p11-kit's proxy
 * module, so that every module registered with p11-kit is reachable).  A
 * module is loaded once per process; each call takes a reference.
 */
sks_status p11_module_get(const char *path, struct p11_module **out, struct sks_error *err);
void p11_module_put(struct p11_module *mod);
const char *p11_module_path(const struct p11_module *mod);
/* The raw function list, for benchmarks that compare against direct calls. */
CK_FUNCTION_LIST *p11_module_functions(struct p11_module *mod);

/* "CKR_PIN_INCORRECT" for CKR_PIN_INCORRECT; "CKR_0x..." when unknown. */
const char *p11_ckr_name(CK_RV rv);

/*
 * Initialises a token: C_InitToken on the slot |slot_match| selects (NULL:
 * the first slot whose token is not initialised yet), then sets the user
 * PIN.  PINs come from files so that they never appear in argv.
 */
sks_status p11_token_initialise(struct p11_module *mod, P11KitUri *slot_match, const char *label,
                                const char *so_pin_file, const char *user_pin_file,
                                struct sks_error *err);

/* ---- tokens ------------------------------------------------------------- */

/*
 * Finds the first token present whose slot and token attributes match both
 * |match| and |also| (NULL matches any).  Tokens are shared per module and
 * slot; each call takes a reference.
 */
sks_status p11_token_find(struct p11_module *mod, P11KitUri *match, P11KitUri *also,
                          struct p11_token **out, struct sks_error *err);
/*
 * How every program opens its token: p11_module_get(), p11_token_find() and
 * p11_token_set_pin_source() in one.  |token| is a token label or a pkcs11:
 * URI of token attributes (NULL: the first initialised token); |pin_source|
 * may be NULL (none yet).
 */
sks_status p11_token_open(const char *module, const char *token, const char *pin_source,
                          struct p11_token **out, struct sks_error *err);
/* The same with parsed URIs: the token must match both |match| and |also| (NULL: any). */
sks_status p11_token_open_uri(const char *module, P11KitUri *match, P11KitUri *also,
                              const char *pin_source, struct p11_token **out,
                              struct sks_error *err);
struct p11_token *p11_token_ref(struct p11_token *tok);
void p11_token_put(struct p11_token *tok);

/*
 * Where the user PIN comes from: "file:/path" or an absolute path.  The PIN
 * is read when a login is first needed and kept (cleansed on release) for
 * re-login after recovery.  The first source set wins.
 */
sks_status p11_token_set_pin_source(struct p11_token *tok, const char *pin_source,
                                    struct sks_error *err);
/* A URI naming the token, for messages: "pkcs11:token=...;serial=...". */
const char *p11_token_uri(const struct p11_token *tok);
/* Logs in unless already logged in.  A wrong PIN is reported and never retried. */
sks_status p11_token_login(struct p11_token *tok, struct sks_error *err);
bool p11_token_has_mechanism(struct p11_token *tok, CK_MECHANISM_TYPE mech);

/* ---- sessions ----------------------------------------------------------- */

struct p11_session {
    CK_SESSION_HANDLE handle;
    unsigned long long epoch; /* token epoch the session belongs to */
};

/* Idle sessions a token's pool keeps open; more in use at once are closed on release. */
#define P11_POOL_MAX 64U

/*
 * The read-write sessions the token says it allows (ulMaxRwSessionCount),
 * 0 when it states no limit.
 */
unsigned long p11_token_max_sessions(const struct p11_token *tok);

/* A read-write session from the token's pool, used by one thread at a time. */
sks_status p11_session_acquire(struct p11_token *tok, struct p11_session *s, struct sks_error *err);
/*
 * Returns a session to the pool.  |rv| is the last result seen on it: a
 * session that failed with a session-fatal code is closed instead.
 */
void p11_session_release(struct p11_token *tok, struct p11_session *s, CK_RV rv);
/*
 * For |rv| that means the session, the login or the token was lost: resets
 * the token once for everyone that saw |epoch| and returns true, meaning the
 * caller may retry once.  Returns false for any other |rv|.
 */
bool p11_token_recover(struct p11_token *tok, unsigned long long epoch, CK_RV rv);

/* ---- objects ------------------------------------------------------------ */

#define P11_ID_MAX 128
#define P11_LABEL_MAX 256

struct p11_object {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE key_type; /* keys only */
    unsigned char id[P11_ID_MAX];
    size_t id_len;
    char label[P11_LABEL_MAX]; /* NUL-terminated; "" when absent */
    unsigned char *value;      /* certificates and data objects: CKA_VALUE */
    size_t value_len;
    char *uri;         /* pkcs11: URI naming exactly this object */
    p11_handle handle; /* valid only while the token stays in |epoch| */
    unsigned long long epoch;
};

/* Return non-zero to stop the iteration. */
typedef int (*p11_object_cb)(struct p11_token *tok, const struct p11_object *obj, void *arg);

/*
 * Calls |cb| for each private key, public key and certificate on the token
 * whose attributes match |uri| (its id, object label and type).  Logs in
 * first only when |uri| asks for private keys, or names no type and
 * |want_private| is set.
 */
sks_status p11_objects_find(struct p11_token *tok, P11KitUri *uri, bool want_private,
                            p11_object_cb cb, void *arg, struct sks_error *err);

/* ---- keys --------------------------------------------------------------- */

/*
 * A reference to an EC P-256 key on a token, by CKA_ID and class.  Object
 * handles are resolved lazily and again after every recovery; a private key
 * is signed with through a session copy where the token allows one.
 */
sks_status p11_key_from_object(struct p11_token *tok, const struct p11_object *obj,
                               struct p11_key **out, struct sks_error *err);
/*
 * A signing key for the private key object |h| whose CKA_ID, label and
 * public point the caller already knows: no search, which matters on a
 * token holding thousands of keys.
 */
sks_status p11_key_from_handle(struct p11_token *tok, p11_handle h, const unsigned char *id,
                               size_t id_len, const char *label,
                               const unsigned char pub[SKS_P256_POINT_LEN], struct p11_key **out,
                               struct sks_error *err);
struct p11_key *p11_key_ref(struct p11_key *key);
void p11_key_put(struct p11_key *key);
bool p11_key_is_private(const struct p11_key *key);
/* The uncompressed EC point (0x04 || X || Y). */
const unsigned char *p11_key_public(const struct p11_key *key, size_t *len);
const char *p11_key_uri(const struct p11_key *key);
struct p11_token *p11_key_token(const struct p11_key *key);

#define P11_ES256_SIG_LEN 64

/*
 * Signs a SHA-256 digest with CKM_ECDSA.  |sig| receives r || s, each 32
 * bytes (the PKCS#11 and RFC 7518 3.4 format).  Retries once after recovery.
 */
sks_status p11_key_sign_digest(struct p11_key *key, const unsigned char *digest, size_t dlen,
                               unsigned char sig[P11_ES256_SIG_LEN], struct sks_error *err);
/*
 * Signs |msg| with CKM_ECDSA_SHA256 when the token offers it; otherwise
 * hashes on the host and signs with CKM_ECDSA.
 */
sks_status p11_key_sign_message(struct p11_key *key, const unsigned char *msg, size_t len,
                                unsigned char sig[P11_ES256_SIG_LEN], struct sks_error *err);

/* ==== key templates (p11/template.c) ======================================
 *
 * What a key this project creates may do, in one place: every key is
 * CKA_MODIFIABLE=FALSE and can do one thing.  Fill a template in place (its
 * attributes point into it) and pass attr and n to the creating call.
 */

#define P11_TEMPLATE_MAX 24

struct p11_template {
    CK_ATTRIBUTE attr[P11_TEMPLATE_MAX];
    CK_ULONG n;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE key_type;
    CK_MECHANISM_TYPE mechs[4];
    size_t nmechs;
    CK_ULONG modulus_bits;
    unsigned char point[SKS_P256_POINT_LEN + 2];
    CK_ATTRIBUTE unwrap_tmpl[4];
    CK_CERTIFICATE_TYPE cert_type;
    CK_ULONG category;
};

/* What a key is for, which decides what it may do. */
enum p11_key_role {
    P11_ROLE_SIGNING,   /* EC P-256: the private key signs, the public key verifies */
    P11_ROLE_UNWRAPPING /* RSA: the private key unwraps, the public key wraps */
};

/*
 * A signing EC P-256 private key, a token object: sign-only (CKM_ECDSA,
 * and CKM_ECDSA_SHA256 where |tok| offers it), sensitive, never
 * extractable, not modifiable.  |d| is the 32-byte scalar for
 * C_CreateObject; NULL for C_GenerateKeyPair and C_UnwrapKey.  |label| and
 * |id| may be NULL (left out).
 */
void p11_template_signing_key(struct p11_template *t, struct p11_token *tok, const char *label,
                              const unsigned char *id, size_t id_len, const unsigned char *d);
/*
 * The same key as a session object that is checked before it is kept:
 * modifiable, because the copy that keeps it sets CKA_TOKEN, label and
 * CKA_ID, and p11_template_signing_key_keep turns CKA_MODIFIABLE off.
 */
void p11_template_signing_key_to_check(struct p11_template *t, struct p11_token *tok);
void p11_template_signing_key_keep(struct p11_template *t, const char *label,
                                   const unsigned char *id, size_t id_len);
/* An EC P-256 public key, verify-only; |point| (uncompressed) NULL when generated. */
void p11_template_ec_public_key(struct p11_template *t, struct p11_token *tok, const char *label,
                                const unsigned char *id, size_t id_len, const unsigned char *point);
/* The RSA key wrapped keys are unwrapped with: unwrap-only, limited to the mechanisms used. */
void p11_template_unwrap_key(struct p11_template *t, struct p11_token *tok, const char *label,
                             const unsigned char *id, size_t id_len);
void p11_template_wrap_public_key(struct p11_template *t, struct p11_token *tok, const char *label,
                                  const unsigned char *id, size_t id_len, unsigned long bits);
/* The AES key of a two-step unwrap: a session object that only unwraps (RFC 5649). */
void p11_template_transient_unwrap_key(struct p11_template *t);
/*
 * The usage attributes p11_store_protect sets on a modifiable key of |role|
 * (t->mechs: the mechanisms it tries to limit it to).  False when |cls| and
 * |key_type| are not what |role| makes.
 */
bool p11_template_protect(struct p11_template *t, struct p11_token *tok, CK_OBJECT_CLASS cls,
                          CK_KEY_TYPE key_type, enum p11_key_role role);

/*
 * Objects besides keys, and what searches and p11_store_verify match.  Like
 * the key templates, they point at the caller's |label|, |id| and DER.
 */

/* A token data object of |application| whose label holds |label| (|len| bytes): modifiable. */
void p11_template_data(struct p11_template *t, const char *application, const void *label,
                       size_t len);
/* The label alone, for p11_store_set (a data object's value is read-only after creation). */
void p11_template_label(struct p11_template *t, const void *label, size_t len);
/* The DER parts of an X.509 certificate that PKCS#11 keeps as attributes. */
struct p11_cert_der {
    const unsigned char *value, *subject, *issuer, *serial;
    size_t value_len, subject_len, issuer_len, serial_len;
};
/*
 * An X.509 certificate, not modifiable: "token user" with CKA_URL |url|
 * for the end-entity certificate, "authority" (|url| NULL) for the chain.
 */
void p11_template_certificate(struct p11_template *t, const char *label, const unsigned char *id,
                              size_t id_len, const struct p11_cert_der *der, const char *url);
/* Every object with CKA_ID |id|. */
void p11_template_find_id(struct p11_template *t, const unsigned char *id, size_t id_len);
/* Data objects of |application|; with that label when |label| is not NULL. */
void p11_template_find_data(struct p11_template *t, const char *application, const void *label,
                            size_t len);
/* The object of |cls| with CKA_ID |id| and label |label|. */
void p11_template_find_object(struct p11_template *t, CK_OBJECT_CLASS cls, const unsigned char *id,
                              size_t id_len, const char *label);
struct p11_object_info;
/*
 * Keys of |cls| with CKA_MODIFIABLE=|modifiable|; when |like| is set, only
 * those with its key type, CKA_ID and label.
 */
void p11_template_find_keys(struct p11_template *t, CK_OBJECT_CLASS cls, bool modifiable,
                            const struct p11_object_info *like);

/* ==== object store (p11/store.c) ==========================================
 *
 * What the key store needs besides signing: find, read, create, copy, modify
 * and destroy token objects, unwrap keys into the token and generate the
 * RSA key pair wrapped keys come in under.  Every call logs in first, runs
 * on a pooled session and is retried once after the session, the login or
 * the token was lost.  Object handles stay valid while the token keeps its
 * epoch (p11_token_epoch); after a change, look objects up again.
 */

/* Bumped whenever the token is reset; handles from an earlier epoch may be stale. */
unsigned long long p11_token_epoch(struct p11_token *tok);
/* True when the token offers |mech| with all of |flags| (CKF_UNWRAP, CKF_SIGN, ...). */
bool p11_token_mechanism_flags(struct p11_token *tok, CK_MECHANISM_TYPE mech, CK_FLAGS flags);

/* "pkcs11:token=...;id=...;object=...;type=..." for an object (free()). */
char *p11_store_object_uri(struct p11_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id,
                           size_t id_len, const char *label);
/* Token objects matching |match| (NULL: all; CKA_TOKEN=TRUE is added).  free() *handles. */
sks_status p11_store_find(struct p11_token *tok, const struct p11_template *match,
                          p11_handle **handles, size_t *count, struct sks_error *err);
/*
 * Reads raw attributes into the caller's buffers (for tests and p11/).  An
 * attribute the object lacks, keeps sensitive or that does not fit is not
 * an error: its ulValueLen is CK_UNAVAILABLE_INFORMATION.
 */
sks_status p11_store_get(struct p11_token *tok, p11_handle h, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         struct sks_error *err);

/* The attributes read by name; messages name them as PKCS#11 does. */
enum p11_attr {
    P11_ATTR_LABEL,
    P11_ATTR_VALUE,
    P11_ATTR_URL,
    P11_ATTR_VALUE_LEN,
    P11_ATTR_MODULUS,
    P11_ATTR_PUBLIC_EXPONENT,
};
/* The length p11_store_read reports for an attribute it could not read. */
#define P11_UNAVAILABLE ((size_t)-1)
/*
 * Reads |attr| into |buf| (|size| bytes); *len is its length, or
 * P11_UNAVAILABLE when the object lacks it, keeps it sensitive or it does
 * not fit: not an error.
 */
sks_status p11_store_read(struct p11_token *tok, p11_handle h, enum p11_attr attr, void *buf,
                          size_t size, size_t *len, struct sks_error *err);
/* Reads |attr| of at most |max| bytes into a new buffer (free(); NUL-terminated). */
sks_status p11_store_get_value(struct p11_token *tok, p11_handle h, enum p11_attr attr, size_t max,
                               unsigned char **out, size_t *len, struct sks_error *err);

/* What indexing an object reads of it, in one call. */
struct p11_object_info {
    CK_OBJECT_CLASS cls;  /* (CK_OBJECT_CLASS)-1 when unreadable */
    CK_KEY_TYPE key_type; /* keys only; (CK_KEY_TYPE)-1 otherwise */
    unsigned char id[P11_ID_MAX];
    size_t id_len;             /* 0 when absent */
    char label[P11_LABEL_MAX]; /* "" when absent */
    bool has_label;            /* false: absent, or longer than |label| (a record) */
    char application[64];      /* data objects: CKA_APPLICATION, "" when absent */
    bool has_application;
};
sks_status p11_store_describe(struct p11_token *tok, p11_handle h, struct p11_object_info *info,
                              struct sks_error *err);
/* The uncompressed point of the EC public key |h|. */
sks_status p11_store_get_ec_point(struct p11_token *tok, p11_handle h,
                                  unsigned char pub[SKS_P256_POINT_LEN], struct sks_error *err);
/* Whether |h| is an EC key on P-256. */
sks_status p11_store_is_p256_key(struct p11_token *tok, p11_handle h, bool *yes,
                                 struct sks_error *err);

sks_status p11_store_create(struct p11_token *tok, const struct p11_template *t, p11_handle *out,
                            struct sks_error *err);
sks_status p11_store_copy(struct p11_token *tok, p11_handle h, const struct p11_template *t,
                          p11_handle *out, struct sks_error *err);
/* C_SetAttributeValue: one call, so atomic as far as the token is concerned. */
sks_status p11_store_set(struct p11_token *tok, p11_handle h, const struct p11_template *t,
                         struct sks_error *err);
/* SKS_ERR_NOT_FOUND when the object is already gone. */
sks_status p11_store_destroy(struct p11_token *tok, p11_handle h, struct sks_error *err);

/*
 * Unwrapping a wrapped signing key (keystore/wrap.c); on failure err->ckr
 * holds the module's return value.  |hash| is the OAEP hash and MGF1 hash.
 */
enum p11_oaep_hash { P11_OAEP_SHA256, P11_OAEP_SHA1 };
/* True when the token unwraps with CKM_RSA_AES_KEY_WRAP (both steps in one). */
bool p11_token_has_rsa_aes_unwrap(struct p11_token *tok);
/* RSA-OAEP with |unwrapping| to p11_template_transient_unwrap_key. */
sks_status p11_store_unwrap_aes(struct p11_token *tok, p11_handle unwrapping,
                                enum p11_oaep_hash hash, const unsigned char *wrapped, size_t len,
                                p11_handle *out, struct sks_error *err);
/* RFC 5649 with the AES key |kek| to p11_template_signing_key_to_check. */
sks_status p11_store_unwrap_kwp(struct p11_token *tok, p11_handle kek, const unsigned char *wrapped,
                                size_t len, p11_handle *out, struct sks_error *err);
/* CKM_RSA_AES_KEY_WRAP (AES-|aes_bits|) with |unwrapping| to p11_template_signing_key_to_check. */
sks_status p11_store_unwrap_rsa_aes(struct p11_token *tok, p11_handle unwrapping,
                                    enum p11_oaep_hash hash, unsigned long aes_bits,
                                    const unsigned char *wrapped, size_t len, p11_handle *out,
                                    struct sks_error *err);
/* One CKM_ECDSA signature of |digest| with |h|; *siglen is the room in |sig|, then the length. */
sks_status p11_store_sign(struct p11_token *tok, p11_handle h, const unsigned char *digest,
                          size_t len, unsigned char *sig, size_t *siglen, struct sks_error *err);
/*
 * Generates the RSA key pair (exponent 65537) wrapped keys come in under:
 * p11_template_wrap_public_key and p11_template_unwrap_key.
 */
sks_status p11_store_generate_rsa_unwrap(struct p11_token *tok, const char *label,
                                         const unsigned char *id, size_t id_len, unsigned long bits,
                                         p11_handle *pub, p11_handle *priv, struct sks_error *err);
/*
 * Re-protects a key made before every key was CKA_MODIFIABLE=FALSE: while
 * it is still modifiable, turns off every usage |role| does not need and
 * limits its mechanisms, then copies it with CKA_MODIFIABLE=FALSE (PKCS#11
 * 2.40 4.4 lets a copy turn it off) and destroys the original.  *out is
 * the copy (|h| itself when it was not modifiable).  *unlimited is NULL
 * when its mechanisms could be limited, else the attributes the token
 * would not set ("CKA_ALLOWED_MECHANISMS", and for the wrapping key "or
 * CKA_UNWRAP_TEMPLATE"): SoftHSM 2.6.1 refuses them after creation
 * (CKR_ATTRIBUTE_READ_ONLY).  *exposed: the key was not sensitive or was
 * extractable, so it may have left the token already.  On a failure after
 * the copy, *out is the copy and err says so.
 */
sks_status p11_store_protect(struct p11_token *tok, p11_handle h, enum p11_key_role role,
                             p11_handle *out, const char **unlimited, bool *exposed,
                             struct sks_error *err);
/*
 * Checks that the token stored what this process wrote: in a fresh instance
 * of the module (a forked child), each of the |n| templates |e| must match a
 * token object (p11_template_find_data, p11_template_find_object).  A module
 * may report CKR_OK for a write that its storage refused and answer
 * later reads from memory (p11/durable.c).  SKS_ERR_TOKEN with *missing the
 * index of the first expectation nothing matched; other statuses when the
 * check could not run (*missing is then |n|).  *checked is false when no
 * fresh instance could open the token (after a few tries), or the child could
 * not be run or did not answer: the objects' fate is then unknown, not bad.
 * Never called when signing.
 */
sks_status p11_store_verify(struct p11_token *tok, const struct p11_template *e, size_t n,
                            size_t *missing, bool *checked, struct sks_error *err);

/* ---- key generation ------------------------------------------------------ */

/*
 * Generates an EC P-256 key pair in the token from p11_template_signing_key
 * and p11_template_ec_public_key: a sign-only private key and a
 * verify-only public key with the same CKA_ID and label, neither modifiable.  A random
 * 16-byte CKA_ID is chosen when |id_len| is 0.  *uri names the private key
 * (free() it).
 */
sks_status p11_generate_p256(struct p11_token *tok, const char *label, const unsigned char *id,
                             size_t id_len, char **uri, struct sks_error *err);

#endif
