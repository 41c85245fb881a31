/* Internals shared by the files of the PKCS#11 layer. */
#ifndef SKS_P11_INTERNAL_H
#define SKS_P11_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "p11/p11.h"

/*
 * Every call into a module goes through P11_CALL so that tracing (env
 * SKS_P11_TRACE=1) lives in one place.  It evaluates to the CK_RV.
 */
extern int p11_trace_enabled;
CK_RV p11_trace(const char *fn, CK_RV rv);
#define P11_CALL(mod, fn, ...)                                                                     \
    (p11_trace_enabled ? p11_trace(#fn, (mod)->fl->fn(__VA_ARGS__)) : (mod)->fl->fn(__VA_ARGS__))

struct p11_module {
    struct p11_module *next;
    char *path;
    CK_FUNCTION_LIST *fl;
    int refs;                 /* under the registry lock */
    unsigned long fork_gen;   /* p11_fork_generation when last initialised */
    struct p11_token *tokens; /* under the registry lock */
};

struct p11_token {
    struct p11_token *next;
    struct p11_module *mod;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    char *uri;
    int refs; /* under the registry lock */

    pthread_mutex_t lock; /* everything below, except where noted */
    /*
     * Bumped on every reset.  Object handles, session copies and pooled
     * sessions belong to one epoch; a new epoch invalidates them all.
     */
    _Atomic unsigned long long epoch;
    CK_SESSION_HANDLE anchor; /* owns session copies; used under the lock */
    bool anchor_open;
    bool logged_in;
    CK_SESSION_HANDLE *pool; /* idle sessions of the current epoch */
    size_t pool_len, pool_cap;
    char *pin; /* cleansed on release */
    size_t pin_len;
    char *pin_source;
    CK_RV login_failure;           /* a refused PIN is never tried again */
    _Atomic int mech_ecdsa_sha256; /* -1 unknown, 0 no, 1 yes */
};

struct p11_key {
    _Atomic int refs;
    struct p11_token *tok;
    CK_OBJECT_CLASS cls;
    unsigned char id[P11_ID_MAX];
    size_t id_len;
    char *uri;
    unsigned char pub[SKS_P256_POINT_LEN];
    size_t pub_len;
    /* Resolved handles and the epoch they belong to; written under tok->lock. */
    _Atomic unsigned long long epoch;
    _Atomic CK_OBJECT_HANDLE handle;      /* the token object */
    _Atomic CK_OBJECT_HANDLE sign_handle; /* its session copy, or the token object */
};

/* Fork generation, bumped in the child; modules and tokens compare against it. */
extern _Atomic unsigned long p11_fork_generation;
/* The registry lock: modules, their token lists and reference counts. */
void p11_registry_lock(void);
void p11_registry_unlock(void);
/* Re-initialises |mod| in a forked child (takes the registry lock). */
sks_status p11_module_after_fork(struct p11_module *mod, struct sks_error *err);
static inline sks_status p11_module_check_fork(struct p11_module *mod, struct sks_error *err)
{
    if (mod->fork_gen == atomic_load_explicit(&p11_fork_generation, memory_order_relaxed))
        return SKS_OK;
    return p11_module_after_fork(mod, err);
}
/* Forgets sessions and login of a token in a forked child, without closing them. */
void p11_token_forget(struct p11_token *tok);
/* Called with tok->lock held. */
sks_status p11_token_anchor_locked(struct p11_token *tok, struct sks_error *err);
sks_status p11_token_login_locked(struct p11_token *tok, struct sks_error *err);
void p11_token_reset_locked(struct p11_token *tok);

/* A PKCS#11 failure: "what: CKR_NAME" with status chosen from |rv|. */
sks_status p11_fail(struct sks_error *err, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * What a return value says was lost, in increasing order: the one table
 * (p11/ckr.c) that session release, recovery and the retry decide by.
 */
enum p11_lost {
    P11_LOST_NOTHING = 0, /* any other failure: not retried */
    P11_LOST_HANDLE,      /* an object handle of an earlier epoch */
    P11_LOST_LOGIN,       /* the session stands, its login does not */
    P11_LOST_SESSION,     /* the session is gone: never pooled again */
    P11_LOST_TOKEN,       /* the token or the module's state is gone */
};
enum p11_lost p11_rv_lost(CK_RV rv);

/* One operation on a pooled session; p11_call_run() runs it (p11/call.c). */
struct p11_call {
    CK_RV (*op)(struct p11_token *tok, CK_SESSION_HANDLE session, void *arg);
    /*
     * Resolves the handles |op| uses for the token's current epoch (cheap
     * when they are current); NULL when |op| uses the caller's handles.
     */
    sks_status (*resolve)(void *arg, struct sks_error *err);
    void *arg;
    bool login; /* log in before the operation */
};
/*
 * Runs |c|, once more after recovery.  When the operation fails, returns
 * SKS_ERR_TOKEN with *rv set and |err| untouched, so that the caller names
 * the operation and the object; a failure before it fills |err|.
 */
sks_status p11_call_run(struct p11_token *tok, const struct p11_call *c, CK_RV *rv,
                        struct sks_error *err);

/*
 * One C_SignInit + C_Sign of |in| with |h| (a p11_call op); |key|, when set,
 * resolves |h| per epoch.  |room| is the space in |sig|, |siglen| the result.
 */
struct p11_sign_arg {
    struct p11_key *key;
    CK_OBJECT_HANDLE h;
    CK_MECHANISM mech;
    const unsigned char *in;
    size_t len;
    unsigned char *sig;
    CK_ULONG room, siglen;
};
CK_RV p11_sign_op(struct p11_token *tok, CK_SESSION_HANDLE session, void *arg);

/*
 * CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some
 * modules give the bare point.  Accepts both; takes only uncompressed P-256.
 */
bool p11_ec_point_decode(const unsigned char *der, size_t len,
                         unsigned char out[SKS_P256_POINT_LEN]);

/* Builds "pkcs11:token=..;id=..;object=..;type=.." for an object. */
char *p11_object_uri(const struct p11_token *tok, CK_OBJECT_CLASS cls, const unsigned char *id,
                     size_t id_len, const char *label);
/* Finds the object of |cls| with CKA_ID |id| using |session| (tok->lock held). */
sks_status p11_find_by_id_locked(struct p11_token *tok, CK_SESSION_HANDLE session,
                                 CK_OBJECT_CLASS cls, const unsigned char *id, size_t id_len,
                                 CK_OBJECT_HANDLE *out, struct sks_error *err);

#endif
