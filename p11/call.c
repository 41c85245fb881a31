/*
 * The one way an operation runs on a pooled session: fork check, login
 * where needed, handles resolved for the current epoch, the operation, and
 * one retry after the session, the login or the token was lost.  Signing
 * and the object store both run through here, so that what counts as lost
 * is decided once (p11_rv_lost, p11/ckr.c).
 */
#include "config.h"

#include "p11/internal.h"

/*
 * After a failure with |rv| on an attempt that began in |epoch|: whether one
 * more attempt may succeed.  A caller whose handles are resolved again per
 * epoch also retries after a stale handle, and after another thread reset
 * the token under the attempt: the reset destroyed the sessions and session
 * key copies it used, which modules report with whatever code their race
 * gives (SoftHSM: CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_GENERAL_ERROR).  A
 * caller's own handles are not re-resolved, so a stale one is its to handle.
 */
static bool may_retry(struct p11_token *tok, const struct p11_call *c, unsigned long long epoch,
                      CK_RV rv)
{
    if (c->resolve != NULL)
        return p11_token_recover(tok, epoch, rv) || atomic_load(&tok->epoch) != epoch;
    return p11_rv_lost(rv) >= P11_LOST_LOGIN && p11_token_recover(tok, epoch, rv);
}

sks_status p11_call_run(struct p11_token *tok, const struct p11_call *c, CK_RV *rv,
                        struct sks_error *err)
{
    struct sks_error local, *e = err != NULL ? err : &local;
    struct p11_session s;
    unsigned long long epoch;
    sks_status st;
    int attempt;

    local.ckr = CKR_OK; /* a step that fails without a PKCS#11 cause leaves it so */
    for (attempt = 0;; attempt++) {
        *rv = CKR_OK;
        epoch = atomic_load(&tok->epoch);
        st = p11_module_check_fork(tok->mod, e);
        if (st == SKS_OK && c->login)
            st = p11_token_login(tok, e);
        if (st == SKS_OK && c->resolve != NULL)
            st = c->resolve(c->arg, e);
        if (st == SKS_OK)
            st = p11_session_acquire(tok, &s, e);
        if (st != SKS_OK) {
            /* Failed before the operation: |e| names the step; retry on its cause. */
            if (attempt == 0 && may_retry(tok, c, epoch, e->ckr))
                continue;
            *rv = e->ckr;
            return st;
        }
        *rv = c->op(tok, s.handle, c->arg);
        p11_session_release(tok, &s, *rv);
        if (*rv == CKR_OK)
            return SKS_OK;
        if (attempt > 0 || !may_retry(tok, c, s.epoch, *rv))
            return SKS_ERR_TOKEN;
    }
}
