/*
 * The session pool.  A session is used by one thread at a time; the lock
 * guards only the idle list, never a PKCS#11 operation on a pooled session.
 */
#include "config.h"

#include <stdlib.h>

#include "p11/internal.h"

/* Idle sessions kept beyond this are closed; more are opened under load. */

sks_status p11_session_acquire(struct p11_token *tok, struct p11_session *s, struct sks_error *err)
{
    sks_status st = p11_module_check_fork(tok->mod, err);
    CK_SLOT_ID slot;
    CK_RV rv;

    if (st != SKS_OK)
        return st;
    pthread_mutex_lock(&tok->lock);
    s->epoch = atomic_load(&tok->epoch);
    if (tok->pool_len > 0) {
        s->handle = tok->pool[--tok->pool_len];
        pthread_mutex_unlock(&tok->lock);
        return SKS_OK;
    }
    slot = tok->slot;
    pthread_mutex_unlock(&tok->lock);

    rv = P11_CALL(tok->mod, C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                  &s->handle);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot open a session on %s", tok->uri);
    return SKS_OK;
}

void p11_session_release(struct p11_token *tok, struct p11_session *s, CK_RV rv)
{
    if (p11_rv_lost(rv) >= P11_LOST_SESSION)
        return;
    pthread_mutex_lock(&tok->lock);
    if (s->epoch == atomic_load(&tok->epoch)) {
        if (tok->pool_len == tok->pool_cap && tok->pool_cap < P11_POOL_MAX) {
            size_t cap = tok->pool_cap ? tok->pool_cap * 2 : 4;
            CK_SESSION_HANDLE *grown = realloc(tok->pool, cap * sizeof(*grown));
            if (grown != NULL) {
                tok->pool = grown;
                tok->pool_cap = cap;
            }
        }
        if (tok->pool_len < tok->pool_cap) {
            tok->pool[tok->pool_len++] = s->handle;
            pthread_mutex_unlock(&tok->lock);
            return;
        }
    }
    pthread_mutex_unlock(&tok->lock);
    /* A session of an earlier epoch, or one too many. */
    P11_CALL(tok->mod, C_CloseSession, s->handle);
}
