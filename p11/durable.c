/*
 * Checking that the token stored what it said it stored.
 *
 * A token library may report CKR_OK for a write that never reached its
 * storage: SoftHSM 2.6.1 writes object files through stdio and ignores the
 * error fclose() reports on a full file system, so C_CreateObject and
 * C_SetAttributeValue succeed while the file is left empty or cut at a page.
 * The library keeps its own copy of every object in memory, and this process
 * reads that copy back, in any session: a read back here proves nothing.
 *
 * So the check runs in a forked child that starts the module afresh and
 * looks the objects up by their attributes, as another process would after
 * a restart.  PKCS#11 2.40 5.4 asks a child for C_Initialize; a module whose
 * state survived fork (SoftHSM) answers CKR_CRYPTOKI_ALREADY_INITIALIZED and
 * would answer from its copy, so it is finalised and started once more: in
 * the child only, whose sessions and handles are its own.
 *
 * Measured on SoftHSM 2.6.1 with a small token: about 40 ms per check (the
 * module start and C_Login dominate), once per key store change; signing
 * never runs it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "p11/internal.h"

/* Longest wait for the child: a module that hangs must not hang a write. */
#define VERIFY_TIMEOUT_MS 30000
/* Further checks when a fresh instance cannot open the token: 50 ms, doubling. */
#define VERIFY_RETRIES 4

struct verdict {
    int stage; /* 0: done, else the step that failed */
    CK_RV rv;
    size_t missing; /* the first expectation no object matched; n when all matched */
};

enum { STAGE_DONE, STAGE_INIT, STAGE_SLOT, STAGE_SESSION, STAGE_LOGIN, STAGE_FIND };

static const char *const stage_names[] = {
    [STAGE_INIT] = "C_Initialize",     [STAGE_SLOT] = "finding the token's slot",
    [STAGE_SESSION] = "C_OpenSession", [STAGE_LOGIN] = "C_Login",
    [STAGE_FIND] = "C_FindObjects",
};

/* The slot that holds |tok| in a fresh module instance: by serial and label. */
static CK_RV find_slot(struct p11_token *tok, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = sizeof(slots) / sizeof(slots[0]), i;
    CK_TOKEN_INFO info;
    CK_RV rv = P11_CALL(tok->mod, C_GetSlotList, CK_TRUE, slots, &n);

    if (rv != CKR_OK)
        return rv;
    for (i = 0; i < n; i++) {
        if (P11_CALL(tok->mod, C_GetTokenInfo, slots[i], &info) == CKR_OK &&
            memcmp(info.serialNumber, tok->info.serialNumber, sizeof(info.serialNumber)) == 0 &&
            memcmp(info.label, tok->info.label, sizeof(info.label)) == 0) {
            *slot = slots[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

static bool matches(struct p11_token *tok, CK_SESSION_HANDLE s, const struct p11_template *e,
                    CK_RV *rv)
{
    CK_OBJECT_HANDLE h;
    CK_ULONG got = 0;

    *rv = P11_CALL(tok->mod, C_FindObjectsInit, s, (CK_ATTRIBUTE *)e->attr, e->n);
    if (*rv != CKR_OK)
        return false;
    *rv = P11_CALL(tok->mod, C_FindObjects, s, &h, 1, &got);
    P11_CALL(tok->mod, C_FindObjectsFinal, s);
    return *rv == CKR_OK && got == 1;
}

static struct verdict child_check(struct p11_token *tok, const struct p11_template *e, size_t n)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    struct verdict v = {STAGE_INIT, CKR_OK, n};
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    size_t i;

    v.rv = P11_CALL(tok->mod, C_Initialize, &args);
    if (v.rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        P11_CALL(tok->mod, C_Finalize, NULL);
        v.rv = P11_CALL(tok->mod, C_Initialize, &args);
    }
    if (v.rv != CKR_OK)
        return v;
    v.stage = STAGE_SLOT;
    if ((v.rv = find_slot(tok, &slot)) != CKR_OK)
        return v;
    v.stage = STAGE_SESSION;
    v.rv = P11_CALL(tok->mod, C_OpenSession, slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (v.rv != CKR_OK)
        return v;
    v.stage = STAGE_LOGIN;
    v.rv =
        P11_CALL(tok->mod, C_Login, s, CKU_USER, (CK_UTF8CHAR_PTR)tok->pin, (CK_ULONG)tok->pin_len);
    if (v.rv != CKR_OK && v.rv != CKR_USER_ALREADY_LOGGED_IN)
        return v;
    v.stage = STAGE_FIND;
    for (i = 0; i < n; i++) {
        if (!matches(tok, s, &e[i], &v.rv)) {
            if (v.rv != CKR_OK)
                return v;
            v.missing = i;
            break;
        }
    }
    v.stage = STAGE_DONE;
    v.rv = CKR_OK;
    return v;
}

/* Reads the child's verdict from |fd|, waiting at most VERIFY_TIMEOUT_MS. */
static bool read_verdict(int fd, struct verdict *v)
{
    struct pollfd p = {fd, POLLIN, 0};
    size_t got = 0;
    ssize_t r;

    while (got < sizeof(*v)) {
        int pr = poll(&p, 1, VERIFY_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return false;
        r = read(fd, (char *)v + got, sizeof(*v) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* One check in one child; *v is its verdict when SKS_OK. */
static sks_status verify_once(struct p11_token *tok, const struct p11_template *e, size_t n,
                              struct verdict *out, struct sks_error *err)
{
    struct verdict v;
    int fds[2], status;
    bool answered;
    pid_t pid, parent;
    sks_status st;

    /* The PIN is in memory after this, for the child to log in with. */
    st = p11_token_login(tok, err);
    if (st != SKS_OK)
        return st;
    if (pipe(fds) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot check what %s stored: pipe: %s", tok->uri,
                        strerror(errno));
    parent = getpid();
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot check what %s stored: fork: %s", tok->uri,
                        strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        /*
         * The check dies with the writer: a writer killed mid-change must not
         * leave a child that logs in (SoftHSM rewrites token.object on
         * C_Login) after whoever recovers from the kill has looked.
         */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(0);
        v = child_check(tok, e, n);
        (void)!write(fds[1], &v, sizeof(v));
        /* No exit handlers: they belong to the parent (OpenSSL, the module). */
        _exit(0);
    }
    close(fds[1]);
    answered = read_verdict(fds[0], &v);
    close(fds[0]);
    if (!answered)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!answered)
        return sks_fail(err, SKS_ERR_UNAVAILABLE,
                        "cannot check what %s stored: a fresh instance of the module did not "
                        "answer within %d s",
                        tok->uri, VERIFY_TIMEOUT_MS / 1000);
    *out = v;
    return SKS_OK;
}

sks_status p11_store_verify(struct p11_token *tok, const struct p11_template *e, size_t n,
                            size_t *missing, bool *checked, struct sks_error *err)
{
    struct verdict v = {STAGE_INIT, CKR_OK, 0};
    unsigned int delay_ms = 50;
    int attempt;
    sks_status st;

    *missing = n;
    *checked = false;
    /*
     * A fresh instance that cannot open the token proves nothing about the
     * objects: SoftHSM rewrites token.object in place on C_Login, so another
     * process's login (or its crash during one) leaves a moment, or a file,
     * in which a new instance finds no token.  Try again briefly, then say
     * that the check could not run rather than fail a stored change.
     */
    for (attempt = 0;; attempt++) {
        st = verify_once(tok, e, n, &v, err);
        if (st != SKS_OK)
            return st;
        if (v.stage == STAGE_DONE || v.stage > STAGE_SESSION || attempt == VERIFY_RETRIES)
            break;
        usleep(delay_ms * 1000);
        delay_ms *= 2;
    }
    /* Past C_OpenSession the fresh instance has the token: its answer counts. */
    *checked = v.stage == STAGE_DONE || v.stage > STAGE_SESSION;
    if (v.stage != STAGE_DONE)
        return p11_fail(err, v.rv, "cannot check what %s stored: %s in a fresh instance of %s",
                        tok->uri, stage_names[v.stage], tok->mod->path);
    *missing = v.missing;
    if (v.missing < n)
        return sks_fail(err, SKS_ERR_TOKEN, "an object written to %s is not on the token",
                        tok->uri);
    return SKS_OK;
}
