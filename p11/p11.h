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

struct p11_module;
struct p11_token;
struct p11_key;

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
sks_status p11_token_initialise(struct p11_module *mod, P11KitUri *slot_match,
                                const char *label, const char *so_pin_file,
                                const char *user_pin_file, struct sks_error *err);

/* ---- tokens ------------------------------------------------------------- */

/*
 * Finds the first token present whose slot and token attributes match both
 * |match| and |also| (NULL matches any).  Tokens are shared per module and
 * slot; each call takes a reference.
 */
sks_status p11_token_find(struct p11_module *mod, P11KitUri *match, P11KitUri *also,
                          struct p11_token **out, struct sks_error *err);
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

/* A read-write session from the token's pool, used by one thread at a time. */
sks_status p11_session_acquire(struct p11_token *tok, struct p11_session *s,
                               struct sks_error *err);
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
    char *uri;                 /* pkcs11: URI naming exactly this object */
    CK_OBJECT_HANDLE handle;   /* valid only while the token stays in |epoch| */
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

#endif

/* ---- key generation ------------------------------------------------------ */

/*
 * Generates an EC P-256 key pair in the token.  The private key is
 * CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not extractable and sign-only;
 * the public key is a token object with the same CKA_ID and label.  A random
 * 16-byte CKA_ID is chosen when |id_len| is 0.  *uri names the private key
 * (free() it).
 */
sks_status p11_generate_p256(struct p11_token *tok, const char *label, const unsigned char *id,
                             size_t id_len, char **uri, struct sks_error *err);
