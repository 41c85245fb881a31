/*
 * p11fault: a PKCS#11 module that forwards every call to a real module and
 * makes it fail on demand.  It exists for the recovery tests: a healthy
 * SoftHSM never loses a session, logs out or disappears, so the code that
 * recovers from those faults would otherwise never run.  Built for `make
 * check` only, never installed.
 *
 * Environment
 *   P11FAULT_MODULE   the real module (required), e.g. SoftHSM's libsofthsm2.so
 *   P11FAULT_CONTROL  the control file (optional; no file, no fault)
 *   P11FAULT_STATS    where the counters are written (optional).  A forked
 *                     child writes to P11FAULT_STATS.<pid> instead, so that it
 *                     does not overwrite its parent's figures.
 *
 * The control file is read again whenever it changes (its inode, size or
 * mtime; looked at no more than once every 2 ms).  Each version replaces the
 * previous directives, and the counting of nth= starts again from it.  Write
 * it atomically (write a temporary file, then rename it over the old one).
 * One directive per line; '#' starts a comment:
 *
 *   fail FUNCTION CODE nth=N [times=K]
 *       the Nth call of FUNCTION (and the K-1 calls after it) returns CODE
 *   fail FUNCTION CODE every
 *       every call of FUNCTION returns CODE
 *   delay FUNCTION DURATION [nth=N [times=K] | every]
 *       sleeps before forwarding (default: every call); DURATION is a number
 *       followed by us, ms or s: 200us, 5ms, 1.5s
 *   sessions N
 *       C_GetTokenInfo says the token allows N sessions, N read-write
 *       (ulMaxSessionCount, ulMaxRwSessionCount), as an HSM partition with a
 *       session limit does
 *   remove SECONDS [CODE]
 *       the token is removed for SECONDS from the file's mtime: every call
 *       but C_Initialize, C_Finalize, C_GetInfo and C_WaitForSlotEvent fails
 *       with CODE (default CKR_DEVICE_REMOVED; CKR_TOKEN_NOT_PRESENT is the
 *       other sensible choice), C_GetSlotList(tokenPresent) lists no slot and
 *       C_GetSlotInfo clears CKF_TOKEN_PRESENT.  When the window ends the
 *       token "restarts" as an HSM does: C_CloseAllSessions on every slot of
 *       the real module (which also logs out and destroys session objects),
 *       and every session and object handle issued before is refused from
 *       then on.  A process that first used the module after the window
 *       ended is left alone.
 *
 * FUNCTION is a PKCS#11 function name (C_Sign, C_SignInit, C_Login, ...);
 * CODE a CKR_ name as p11_ckr_name() spells it, or a number (0x...).
 *
 * An injected fault has the side effects the same fault has on a real token,
 * so that a caller that ignores it is caught, not forgiven:
 *   CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED: the real session is
 *       closed, and its handle refused from then on;
 *   CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID on a call naming an
 *       object: that handle is refused from then on (until the real module
 *       issues it again);
 *   CKR_USER_NOT_LOGGED_IN on a call with a session: the real token is
 *       logged out (C_Logout), which also invalidates private object handles.
 * Functions that continue an active operation (C_Sign, C_SignUpdate,
 * C_Encrypt, ...) are forwarded first and their result replaced: a failed
 * C_Sign ends the signing operation (PKCS#11 2.40, C_Sign), so the real
 * module must end it too.  Other functions fail without reaching the real
 * module.
 *
 * The statistics file (rewritten at most every 50 ms, on every window event
 * and at exit) has one fact a line:
 *   calls FUNCTION N                 calls received, faults included
 *   fault KIND FUNCTION CODE N       faults by kind: fail, removed,
 *                                    stale-session, stale-object
 *   fault delay FUNCTION - N         delayed calls
 *   total KIND N                     the same, summed over functions
 *   restarts N                       token restarts after a window
 *   window I start_us=S end_us=E restarted_us=R   (CLOCK_REALTIME, us)
 *   rule I calls=N hits=H TEXT       the current directives: calls of their
 *                                    function since this version was read
 *   error control line L: MESSAGE    a directive that was refused
 *
 * Threads: every entry point may be called from any thread.  One lock guards
 * the directives, the handle table and the counters.  It is never held while
 * forwarding a call or sleeping, only across the real calls a fault's side
 * effects and a restart make (C_CloseSession, C_Logout, C_CloseAllSessions).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "p11/p11.h"

#define CONTROL_CHECK_NS (2 * 1000 * 1000LL)
#define STATS_PERIOD_NS (50 * 1000 * 1000LL)
#define MAX_RULES 32
#define MAX_WINDOWS 16
#define MAX_FAULT_KINDS 128
#define MAX_ERRORS 8
#define LINE_MAX_LEN 512

/*
 * Every function of the 2.40 function list, in its order.  The second field
 * is 1 for the functions that continue an active operation: a fault there is
 * returned after the real call has ended the operation.
 */
/* clang-format off */
#define P11FAULT_FUNCTIONS(X) \
    X(C_Initialize, 0) X(C_Finalize, 0) X(C_GetInfo, 0) X(C_GetFunctionList, 0) \
    X(C_GetSlotList, 0) X(C_GetSlotInfo, 0) X(C_GetTokenInfo, 0) X(C_GetMechanismList, 0) \
    X(C_GetMechanismInfo, 0) X(C_InitToken, 0) X(C_InitPIN, 0) X(C_SetPIN, 0) \
    X(C_OpenSession, 0) X(C_CloseSession, 0) X(C_CloseAllSessions, 0) X(C_GetSessionInfo, 0) \
    X(C_GetOperationState, 0) X(C_SetOperationState, 0) X(C_Login, 0) X(C_Logout, 0) \
    X(C_CreateObject, 0) X(C_CopyObject, 0) X(C_DestroyObject, 0) X(C_GetObjectSize, 0) \
    X(C_GetAttributeValue, 0) X(C_SetAttributeValue, 0) X(C_FindObjectsInit, 0) \
    X(C_FindObjects, 0) X(C_FindObjectsFinal, 0) X(C_EncryptInit, 0) X(C_Encrypt, 1) \
    X(C_EncryptUpdate, 1) X(C_EncryptFinal, 1) X(C_DecryptInit, 0) X(C_Decrypt, 1) \
    X(C_DecryptUpdate, 1) X(C_DecryptFinal, 1) X(C_DigestInit, 0) X(C_Digest, 1) \
    X(C_DigestUpdate, 1) X(C_DigestKey, 1) X(C_DigestFinal, 1) X(C_SignInit, 0) X(C_Sign, 1) \
    X(C_SignUpdate, 1) X(C_SignFinal, 1) X(C_SignRecoverInit, 0) X(C_SignRecover, 1) \
    X(C_VerifyInit, 0) X(C_Verify, 1) X(C_VerifyUpdate, 1) X(C_VerifyFinal, 1) \
    X(C_VerifyRecoverInit, 0) X(C_VerifyRecover, 1) X(C_DigestEncryptUpdate, 1) \
    X(C_DecryptDigestUpdate, 1) X(C_SignEncryptUpdate, 1) X(C_DecryptVerifyUpdate, 1) \
    X(C_GenerateKey, 0) X(C_GenerateKeyPair, 0) X(C_WrapKey, 0) X(C_UnwrapKey, 0) \
    X(C_DeriveKey, 0) X(C_SeedRandom, 0) X(C_GenerateRandom, 0) X(C_GetFunctionStatus, 0) \
    X(C_CancelFunction, 0) X(C_WaitForSlotEvent, 0)
/* clang-format on */

enum fn {
#define FN_ENUM(name, late) FN_##name,
    P11FAULT_FUNCTIONS(FN_ENUM)
#undef FN_ENUM
        FN_COUNT
};

static const struct {
    const char *name;
    bool late;
} functions[FN_COUNT] = {
#define FN_INFO(name, is_late) {#name, is_late},
    P11FAULT_FUNCTIONS(FN_INFO)
#undef FN_INFO
};

enum rule_kind { RULE_FAIL, RULE_DELAY };

struct rule {
    enum rule_kind kind;
    enum fn fn;
    CK_RV rv;           /* RULE_FAIL */
    long long delay_ns; /* RULE_DELAY */
    bool every;
    unsigned long nth, times;
    unsigned long calls, hits;
    char text[LINE_MAX_LEN];
};

enum fault_kind { FAULT_FAIL, FAULT_REMOVED, FAULT_STALE_SESSION, FAULT_STALE_OBJECT, FAULT_DELAY };
static const char *const fault_kind_names[] = {"fail", "removed", "stale-session", "stale-object",
                                               "delay"};
#define FAULT_KINDS (sizeof(fault_kind_names) / sizeof(fault_kind_names[0]))

struct fault_count {
    enum fault_kind kind;
    enum fn fn;
    CK_RV rv;
    unsigned long count;
};

struct window {
    long long start_us, end_us, restarted_us;
    CK_RV rv;
    bool restarted;
};

/* Issued handles and the token generation they were issued in; 0 means refused. */
struct handle_slot {
    CK_ULONG handle;
    unsigned long gen;
};

static struct {
    pthread_once_t once;
    CK_FUNCTION_LIST *real;
    void *dl;
    pid_t pid;
    long long loaded_us;

    pthread_mutex_t lock; /* everything below */
    _Atomic long long next_control_check_ns;
    struct stat control_st;
    bool control_seen;
    struct rule rules[MAX_RULES];
    size_t nrules;
    char errors[MAX_ERRORS][LINE_MAX_LEN];
    size_t nerrors;
    CK_ULONG max_sessions; /* "sessions N"; 0: what the real module says */

    struct window windows[MAX_WINDOWS];
    size_t nwindows;
    unsigned long restarts;
    unsigned long gen; /* bumped by every restart */
    struct handle_slot *handles;
    size_t handles_cap, handles_len;

    _Atomic unsigned long calls[FN_COUNT];
    struct fault_count faults[MAX_FAULT_KINDS];
    size_t nfaults;
    long long last_stats_ns;
} shim = {
    .once = PTHREAD_ONCE_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .gen = 1,
};

static CK_FUNCTION_LIST fault_list;

/* ---- clocks ------------------------------------------------------------- */

static long long now_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long realtime_us(void)
{
    return now_ns(CLOCK_REALTIME) / 1000;
}

static void sleep_ns(long long ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the handle table (shim.lock held) ---------------------------------- */

static size_t handle_hash(CK_ULONG h, size_t cap)
{
    return (size_t)((h * 0x9E3779B97F4A7C15ULL) >> 16) & (cap - 1);
}

static struct handle_slot *handle_find(CK_ULONG h)
{
    size_t i;

    /* CK_INVALID_HANDLE marks the free slots: it is never issued, nor refused. */
    if (shim.handles_cap == 0 || h == CK_INVALID_HANDLE)
        return NULL;
    for (i = handle_hash(h, shim.handles_cap);; i = (i + 1) & (shim.handles_cap - 1)) {
        if (shim.handles[i].handle == h)
            return &shim.handles[i];
        if (shim.handles[i].handle == CK_INVALID_HANDLE)
            return NULL;
    }
}

static void handle_insert(struct handle_slot *table, size_t cap, CK_ULONG h, unsigned long gen)
{
    size_t i = handle_hash(h, cap);

    while (table[i].handle != CK_INVALID_HANDLE && table[i].handle != h)
        i = (i + 1) & (cap - 1);
    table[i].handle = h;
    table[i].gen = gen;
}

/* Records that the real module issued |h| now (or, with gen 0, that it is refused). */
static void handle_set(CK_ULONG h, unsigned long gen)
{
    struct handle_slot *slot = handle_find(h);
    size_t i;

    if (h == CK_INVALID_HANDLE)
        return;
    if (slot != NULL) {
        slot->gen = gen;
        return;
    }
    if (2 * (shim.handles_len + 1) > shim.handles_cap) {
        size_t cap = shim.handles_cap ? 2 * shim.handles_cap : 256;
        struct handle_slot *grown = calloc(cap, sizeof(*grown));

        if (grown == NULL)
            return; /* the table only adds faults; without memory it adds fewer */
        for (i = 0; i < shim.handles_cap; i++) {
            if (shim.handles[i].handle != CK_INVALID_HANDLE)
                handle_insert(grown, cap, shim.handles[i].handle, shim.handles[i].gen);
        }
        free(shim.handles);
        shim.handles = grown;
        shim.handles_cap = cap;
    }
    handle_insert(shim.handles, shim.handles_cap, h, gen);
    shim.handles_len++;
}

/* True for a handle issued before the last restart, or refused by an injected fault. */
static bool handle_dead(CK_ULONG h)
{
    struct handle_slot *slot = handle_find(h);

    return slot != NULL && slot->gen < shim.gen;
}

static void handles_issued(const CK_ULONG *h, CK_ULONG n)
{
    CK_ULONG i;

    pthread_mutex_lock(&shim.lock);
    for (i = 0; i < n; i++)
        handle_set(h[i], shim.gen);
    pthread_mutex_unlock(&shim.lock);
}

/* ---- counters and the statistics file (shim.lock held) ------------------- */

static void count_fault(enum fault_kind kind, enum fn fn, CK_RV rv)
{
    size_t i;

    for (i = 0; i < shim.nfaults; i++) {
        if (shim.faults[i].kind == kind && shim.faults[i].fn == fn && shim.faults[i].rv == rv) {
            shim.faults[i].count++;
            return;
        }
    }
    if (shim.nfaults < MAX_FAULT_KINDS)
        shim.faults[shim.nfaults++] = (struct fault_count){kind, fn, rv, 1};
}

static void stats_print(FILE *f)
{
    unsigned long totals[FAULT_KINDS] = {0};
    size_t i;

    fprintf(f, "pid %ld\n", (long)getpid());
    for (i = 0; i < FN_COUNT; i++) {
        unsigned long n = atomic_load(&shim.calls[i]);
        if (n != 0)
            fprintf(f, "calls %s %lu\n", functions[i].name, n);
    }
    for (i = 0; i < shim.nfaults; i++) {
        const struct fault_count *fc = &shim.faults[i];
        fprintf(f, "fault %s %s %s %lu\n", fault_kind_names[fc->kind], functions[fc->fn].name,
                fc->kind == FAULT_DELAY ? "-" : p11_ckr_name(fc->rv), fc->count);
        totals[fc->kind] += fc->count;
    }
    for (i = 0; i < FAULT_KINDS; i++)
        fprintf(f, "total %s %lu\n", fault_kind_names[i], totals[i]);
    fprintf(f, "restarts %lu\n", shim.restarts);
    for (i = 0; i < shim.nwindows; i++) {
        const struct window *w = &shim.windows[i];
        fprintf(f, "window %zu start_us=%lld end_us=%lld restarted_us=%lld code=%s\n", i + 1,
                w->start_us, w->end_us, w->restarted ? w->restarted_us : 0LL, p11_ckr_name(w->rv));
    }
    for (i = 0; i < shim.nrules; i++)
        fprintf(f, "rule %zu calls=%lu hits=%lu %s\n", i + 1, shim.rules[i].calls,
                shim.rules[i].hits, shim.rules[i].text);
    for (i = 0; i < shim.nerrors; i++)
        fprintf(f, "error %s\n", shim.errors[i]);
}

static void stats_write_locked(void)
{
    const char *base = getenv("P11FAULT_STATS");
    char path[4096], tmp[4200];
    FILE *f;

    shim.last_stats_ns = now_ns(CLOCK_MONOTONIC);
    if (base == NULL || base[0] == '\0')
        return;
    if (getpid() == shim.pid)
        snprintf(path, sizeof(path), "%s", base);
    else
        snprintf(path, sizeof(path), "%s.%ld", base, (long)getpid());
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL)
        return;
    stats_print(f);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

static void stats_maybe_write_locked(void)
{
    if (now_ns(CLOCK_MONOTONIC) - shim.last_stats_ns >= STATS_PERIOD_NS)
        stats_write_locked();
}

/* ---- the control file ---------------------------------------------------- */

static void control_error(size_t line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void control_error(size_t line, const char *fmt, ...)
{
    char msg[LINE_MAX_LEN - 32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "p11fault: control line %zu: %s\n", line, msg);
    if (shim.nerrors < MAX_ERRORS)
        snprintf(shim.errors[shim.nerrors++], LINE_MAX_LEN, "control line %zu: %s", line, msg);
}

static bool parse_function(const char *s, enum fn *out)
{
    size_t i;

    for (i = 0; i < FN_COUNT; i++) {
        if (strcmp(s, functions[i].name) == 0) {
            *out = (enum fn)i;
            return true;
        }
    }
    return false;
}

/* The names are the PKCS#11 layer's own (p11_ckr_name), so messages and directives agree. */
static bool parse_code(const char *s, CK_RV *out)
{
    char *end;
    CK_RV rv;

    if (strncmp(s, "0x", 2) == 0) {
        *out = strtoul(s, &end, 16);
        return *end == '\0' && end != s + 2;
    }
    for (rv = 0; rv <= 0x2ff; rv++) {
        if (strcmp(s, p11_ckr_name(rv)) == 0) {
            *out = rv;
            return true;
        }
    }
    return false;
}

/* "5ms", "200us", "1.5s" */
static bool parse_duration(const char *s, long long *ns)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || v < 0)
        return false;
    if (strcmp(end, "us") == 0)
        *ns = (long long)(v * 1e3);
    else if (strcmp(end, "ms") == 0)
        *ns = (long long)(v * 1e6);
    else if (strcmp(end, "s") == 0)
        *ns = (long long)(v * 1e9);
    else
        return false;
    return true;
}

static bool parse_count(const char *s, const char *key, unsigned long *out)
{
    size_t klen = strlen(key);
    char *end;

    if (strncmp(s, key, klen) != 0)
        return false;
    *out = strtoul(s + klen, &end, 10);
    return *end == '\0' && end != s + klen && *out > 0;
}

/* nth=N [times=K] | every, from word |i| on; returns false on anything else. */
static bool parse_when(char **words, size_t n, size_t i, struct rule *r, bool optional)
{
    r->every = false;
    r->times = 1;
    if (i == n) {
        r->every = optional;
        return optional;
    }
    if (strcmp(words[i], "every") == 0 && i + 1 == n) {
        r->every = true;
        return true;
    }
    if (!parse_count(words[i], "nth=", &r->nth))
        return false;
    if (i + 1 == n)
        return true;
    return i + 2 == n && parse_count(words[i + 1], "times=", &r->times);
}

static void parse_remove(char **words, size_t n, size_t line, long long mtime_us)
{
    struct window *w;
    char *end;
    double seconds;
    CK_RV rv = CKR_DEVICE_REMOVED;

    if (n < 2 || n > 3 || (seconds = strtod(words[1], &end)) <= 0 || *end != '\0') {
        control_error(line, "usage: remove SECONDS [CODE]");
        return;
    }
    if (n == 3 && !parse_code(words[2], &rv)) {
        control_error(line, "unknown return code \"%s\"", words[2]);
        return;
    }
    if (shim.nwindows == MAX_WINDOWS) {
        control_error(line, "too many remove windows in one run");
        return;
    }
    w = &shim.windows[shim.nwindows++];
    *w = (struct window){.start_us = mtime_us,
                         .end_us = mtime_us + (long long)(seconds * 1e6),
                         .rv = rv,
                         /* A process that arrived after the window has nothing to restart. */
                         .restarted = mtime_us + (long long)(seconds * 1e6) < shim.loaded_us};
}

static void parse_line(char *text, size_t line, long long mtime_us)
{
    char copy[LINE_MAX_LEN], *words[8], *save = NULL, *w;
    struct rule r = {0};
    size_t n = 0;

    text[strcspn(text, "#\r\n")] = '\0';
    snprintf(copy, sizeof(copy), "%s", text);
    for (w = strtok_r(text, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
        if (n == sizeof(words) / sizeof(words[0])) {
            control_error(line, "too many words");
            return;
        }
        words[n++] = w;
    }
    if (n == 0)
        return;
    if (strcmp(words[0], "remove") == 0) {
        parse_remove(words, n, line, mtime_us);
        return;
    }
    if (strcmp(words[0], "sessions") == 0) {
        char *end;
        unsigned long v = n == 2 ? strtoul(words[1], &end, 10) : 0;

        if (n != 2 || v == 0 || *end != '\0')
            control_error(line, "usage: sessions N (N from 1)");
        else
            shim.max_sessions = v;
        return;
    }
    if (strcmp(words[0], "fail") == 0) {
        r.kind = RULE_FAIL;
        if (n < 4) {
            control_error(line, "usage: fail FUNCTION CODE (nth=N [times=K] | every)");
            return;
        }
        if (!parse_code(words[2], &r.rv)) {
            control_error(line, "unknown return code \"%s\"", words[2]);
            return;
        }
    } else if (strcmp(words[0], "delay") == 0) {
        r.kind = RULE_DELAY;
        if (n < 3) {
            control_error(line, "usage: delay FUNCTION DURATION [nth=N [times=K] | every]");
            return;
        }
        if (!parse_duration(words[2], &r.delay_ns)) {
            control_error(line, "\"%s\" is not a duration (5ms, 200us, 1.5s)", words[2]);
            return;
        }
    } else {
        control_error(line, "unknown directive \"%s\"", words[0]);
        return;
    }
    if (!parse_function(words[1], &r.fn)) {
        control_error(line, "unknown PKCS#11 function \"%s\"", words[1]);
        return;
    }
    if (!parse_when(words, n, 3, &r, r.kind == RULE_DELAY)) {
        control_error(line, "after \"%s %s %s\": expected nth=N (N from 1) [times=K] or every",
                      words[0], words[1], words[2]);
        return;
    }
    if (shim.nrules == MAX_RULES) {
        control_error(line, "too many directives");
        return;
    }
    snprintf(r.text, sizeof(r.text), "%s", copy);
    shim.rules[shim.nrules++] = r;
}

static void control_load_locked(const char *path, const struct stat *st)
{
    char line[LINE_MAX_LEN];
    size_t lineno = 0;
    long long mtime_us = (long long)st->st_mtim.tv_sec * 1000000LL + st->st_mtim.tv_nsec / 1000;
    FILE *f = fopen(path, "r");

    shim.nrules = 0;
    shim.nerrors = 0;
    shim.max_sessions = 0;
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        parse_line(line, ++lineno, mtime_us);
    fclose(f);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Cheap on the hot path: one clock read, and a stat() at most every 2 ms. */
static void control_refresh_locked(void)
{
    const char *path = getenv("P11FAULT_CONTROL");
    long long now = now_ns(CLOCK_MONOTONIC);
    struct stat st;

    if (path == NULL || now < atomic_load(&shim.next_control_check_ns))
        return;
    atomic_store(&shim.next_control_check_ns, now + CONTROL_CHECK_NS);
    if (stat(path, &st) != 0) {
        if (shim.control_seen) {
            shim.control_seen = false;
            shim.nrules = 0;
            shim.nerrors = 0;
            shim.max_sessions = 0;
        }
        return;
    }
    if (shim.control_seen && same_file(&st, &shim.control_st))
        return;
    shim.control_st = st;
    shim.control_seen = true;
    control_load_locked(path, &st);
    stats_write_locked();
}

/* ---- token removal ------------------------------------------------------- */

/* The window the token is in now, or NULL; restarts the token after a window. */
static const struct window *removal_locked(void)
{
    long long now = realtime_us();
    const struct window *active = NULL;
    size_t i;

    for (i = 0; i < shim.nwindows; i++) {
        struct window *w = &shim.windows[i];

        if (now >= w->start_us && now < w->end_us) {
            active = w;
        } else if (now >= w->end_us && !w->restarted) {
            CK_SLOT_ID slots[64];
            CK_ULONG n = sizeof(slots) / sizeof(slots[0]), s;

            /* As after an HSM restart: no session, no login, no session object. */
            if (shim.real->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK) {
                for (s = 0; s < n; s++)
                    shim.real->C_CloseAllSessions(slots[s]);
            }
            shim.gen++;
            shim.restarts++;
            w->restarted = true;
            w->restarted_us = realtime_us();
            stats_write_locked();
        }
    }
    return active;
}

/* ---- the call path -------------------------------------------------------- */

enum call_flags { CALL_SESSION = 1, CALL_OBJECT = 2, CALL_MODULE = 4 };

struct call {
    enum fn fn;
    unsigned flags;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;
    CK_RV late; /* a fault to return once the real call has returned */
};

/* What a real token does when it reports |rv|: see the comment at the top. */
static void fault_side_effects(const struct call *c, CK_RV rv)
{
    if ((rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) &&
        (c->flags & CALL_SESSION)) {
        shim.real->C_CloseSession(c->session);
        handle_set(c->session, 0);
    } else if ((rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) &&
               (c->flags & CALL_OBJECT)) {
        handle_set(c->object, 0);
    } else if (rv == CKR_USER_NOT_LOGGED_IN && (c->flags & CALL_SESSION)) {
        shim.real->C_Logout(c->session);
    }
}

/* Matches the directives against |c|: returns the fault to inject, adds up delays. */
static CK_RV rules_match_locked(const struct call *c, long long *delay_ns)
{
    CK_RV rv = CKR_OK;
    size_t i;

    for (i = 0; i < shim.nrules; i++) {
        struct rule *r = &shim.rules[i];
        bool hit;

        if (r->fn != c->fn)
            continue;
        r->calls++;
        hit = r->every || (r->calls >= r->nth && r->calls - r->nth < r->times);
        if (!hit)
            continue;
        if (r->kind == RULE_DELAY) {
            r->hits++;
            *delay_ns += r->delay_ns;
            count_fault(FAULT_DELAY, c->fn, CKR_OK);
        } else if (rv == CKR_OK) {
            r->hits++;
            rv = r->rv;
            count_fault(FAULT_FAIL, c->fn, rv);
        }
    }
    return rv;
}

/* Returns CKR_OK to forward the call, or the fault to return instead. */
static CK_RV call_enter(struct call *c)
{
    const struct window *w;
    long long delay_ns = 0;
    CK_RV rv = CKR_OK;

    atomic_fetch_add(&shim.calls[c->fn], 1);
    pthread_mutex_lock(&shim.lock);
    control_refresh_locked();
    w = removal_locked();
    if (w != NULL && !(c->flags & CALL_MODULE)) {
        rv = w->rv;
        count_fault(FAULT_REMOVED, c->fn, rv);
    } else if ((c->flags & CALL_SESSION) && handle_dead(c->session)) {
        rv = CKR_SESSION_HANDLE_INVALID;
        count_fault(FAULT_STALE_SESSION, c->fn, rv);
    } else if ((c->flags & CALL_OBJECT) && handle_dead(c->object)) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        count_fault(FAULT_STALE_OBJECT, c->fn, rv);
    } else {
        rv = rules_match_locked(c, &delay_ns);
        if (rv != CKR_OK && functions[c->fn].late) {
            c->late = rv;
            rv = CKR_OK;
        } else if (rv != CKR_OK) {
            fault_side_effects(c, rv);
        }
    }
    stats_maybe_write_locked();
    pthread_mutex_unlock(&shim.lock);
    if (delay_ns > 0 && rv == CKR_OK)
        sleep_ns(delay_ns);
    return rv;
}

static CK_RV call_leave(struct call *c, CK_RV rv)
{
    if (c->late == CKR_OK)
        return rv;
    pthread_mutex_lock(&shim.lock);
    fault_side_effects(c, c->late);
    pthread_mutex_unlock(&shim.lock);
    return c->late;
}

#define FORWARD(c, name, args)                                                                     \
    do {                                                                                           \
        CK_RV rv_ = call_enter(&(c));                                                              \
        if (rv_ != CKR_OK)                                                                         \
            return rv_;                                                                            \
        return call_leave(&(c), shim.real->name args);                                             \
    } while (0)

/*
 * The wrappers below are written as NAME(C_Function, SHAPE): SHAPE expands
 * to the parameter list and the argument list of the call, so that the
 * shapes the standard repeats are written once.
 */
#define SESSION_ONLY (CK_SESSION_HANDLE session), (session)
#define BYTES_IN (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len), (session, in, in_len)
#define BYTES_OUT                                                                                  \
    (CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len), (session, out, out_len)
#define BYTES_IN_OUT                                                                               \
    (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,                  \
     CK_ULONG_PTR out_len),                                                                        \
        (session, in, in_len, out, out_len)
#define KEY_INIT                                                                                   \
    (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key), (session, mech, key)
#define ATTRIBUTES                                                                                 \
    (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count),   \
        (session, object, tmpl, count)

/* Functions that touch no slot, session or object: never refused while removed. */
#define MODULE_FUNCTION(...) MODULE_FUNCTION_(__VA_ARGS__)
#define MODULE_FUNCTION_(name, params, args)                                                       \
    static CK_RV fault_##name params                                                               \
    {                                                                                              \
        struct call c = {.fn = FN_##name, .flags = CALL_MODULE};                                   \
        FORWARD(c, name, args);                                                                    \
    }

/* Functions on a slot. */
#define SLOT_FUNCTION(...) SLOT_FUNCTION_(__VA_ARGS__)
#define SLOT_FUNCTION_(name, params, args)                                                         \
    static CK_RV fault_##name params                                                               \
    {                                                                                              \
        struct call c = {.fn = FN_##name};                                                         \
        FORWARD(c, name, args);                                                                    \
    }

/* Functions on a session; |session| is their first parameter. */
#define SESSION_FUNCTION(...) SESSION_FUNCTION_(__VA_ARGS__)
#define SESSION_FUNCTION_(name, params, args)                                                      \
    static CK_RV fault_##name params                                                               \
    {                                                                                              \
        struct call c = {.fn = FN_##name, .flags = CALL_SESSION, .session = session};              \
        FORWARD(c, name, args);                                                                    \
    }

/* Functions on a session and the object named by the parameter |object_param|. */
#define OBJECT_FUNCTION(...) OBJECT_FUNCTION_(__VA_ARGS__)
#define OBJECT_FUNCTION_(name, object_param, params, args)                                         \
    static CK_RV fault_##name params                                                               \
    {                                                                                              \
        struct call c = {.fn = FN_##name,                                                          \
                         .flags = CALL_SESSION | CALL_OBJECT,                                      \
                         .session = session,                                                       \
                         .object = object_param};                                                  \
        FORWARD(c, name, args);                                                                    \
    }

/* The token's information, with the session limit of a "sessions N" directive. */
static CK_RV fault_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    struct call c = {.fn = FN_C_GetTokenInfo};
    CK_RV rv = call_enter(&c);
    CK_ULONG max;

    if (rv != CKR_OK)
        return rv;
    rv = call_leave(&c, shim.real->C_GetTokenInfo(slot, info));
    pthread_mutex_lock(&shim.lock);
    max = shim.max_sessions;
    pthread_mutex_unlock(&shim.lock);
    if (rv == CKR_OK && info != NULL && max != 0)
        info->ulMaxSessionCount = info->ulMaxRwSessionCount = max;
    return rv;
}

/* clang-format off */
MODULE_FUNCTION(C_Initialize, (CK_VOID_PTR init_args), (init_args))
MODULE_FUNCTION(C_GetInfo, (CK_INFO_PTR info), (info))
MODULE_FUNCTION(C_WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved),
                (flags, slot, reserved))

SLOT_FUNCTION(C_GetMechanismList, (CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count),
              (slot, list, count))
SLOT_FUNCTION(C_GetMechanismInfo,
              (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info),
              (slot, type, info))
SLOT_FUNCTION(C_InitToken,
              (CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG len, CK_UTF8CHAR_PTR label),
              (slot, pin, len, label))
SLOT_FUNCTION(C_CloseAllSessions, (CK_SLOT_ID slot), (slot))

SESSION_FUNCTION(C_InitPIN, BYTES_IN)
SESSION_FUNCTION(C_SetPIN,
                 (CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                  CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len),
                 (session, old_pin, old_len, new_pin, new_len))
SESSION_FUNCTION(C_CloseSession, SESSION_ONLY)
SESSION_FUNCTION(C_GetSessionInfo, (CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info),
                 (session, info))
SESSION_FUNCTION(C_GetOperationState, BYTES_OUT)
SESSION_FUNCTION(C_SetOperationState,
                 (CK_SESSION_HANDLE session, CK_BYTE_PTR state, CK_ULONG len,
                  CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key),
                 (session, state, len, enc_key, auth_key))
SESSION_FUNCTION(C_Login,
                 (CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len),
                 (session, user, pin, len))
SESSION_FUNCTION(C_Logout, SESSION_ONLY)
OBJECT_FUNCTION(C_DestroyObject, object, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object),
                (session, object))
OBJECT_FUNCTION(C_GetObjectSize, object,
                (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size),
                (session, object, size))
OBJECT_FUNCTION(C_GetAttributeValue, object, ATTRIBUTES)
OBJECT_FUNCTION(C_SetAttributeValue, object, ATTRIBUTES)
SESSION_FUNCTION(C_FindObjectsInit,
                 (CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count),
                 (session, tmpl, count))
SESSION_FUNCTION(C_FindObjectsFinal, SESSION_ONLY)

OBJECT_FUNCTION(C_EncryptInit, key, KEY_INIT)
SESSION_FUNCTION(C_Encrypt, BYTES_IN_OUT)
SESSION_FUNCTION(C_EncryptUpdate, BYTES_IN_OUT)
SESSION_FUNCTION(C_EncryptFinal, BYTES_OUT)
OBJECT_FUNCTION(C_DecryptInit, key, KEY_INIT)
SESSION_FUNCTION(C_Decrypt, BYTES_IN_OUT)
SESSION_FUNCTION(C_DecryptUpdate, BYTES_IN_OUT)
SESSION_FUNCTION(C_DecryptFinal, BYTES_OUT)
SESSION_FUNCTION(C_DigestInit, (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech), (session, mech))
SESSION_FUNCTION(C_Digest, BYTES_IN_OUT)
SESSION_FUNCTION(C_DigestUpdate, BYTES_IN)
OBJECT_FUNCTION(C_DigestKey, key, (CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key), (session, key))
SESSION_FUNCTION(C_DigestFinal, BYTES_OUT)
OBJECT_FUNCTION(C_SignInit, key, KEY_INIT)
SESSION_FUNCTION(C_Sign, BYTES_IN_OUT)
SESSION_FUNCTION(C_SignUpdate, BYTES_IN)
SESSION_FUNCTION(C_SignFinal, BYTES_OUT)
OBJECT_FUNCTION(C_SignRecoverInit, key, KEY_INIT)
SESSION_FUNCTION(C_SignRecover, BYTES_IN_OUT)
OBJECT_FUNCTION(C_VerifyInit, key, KEY_INIT)
SESSION_FUNCTION(C_Verify,
                 (CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig,
                  CK_ULONG sig_len),
                 (session, in, in_len, sig, sig_len))
SESSION_FUNCTION(C_VerifyUpdate, BYTES_IN)
SESSION_FUNCTION(C_VerifyFinal, BYTES_IN)
OBJECT_FUNCTION(C_VerifyRecoverInit, key, KEY_INIT)
SESSION_FUNCTION(C_VerifyRecover, BYTES_IN_OUT)
SESSION_FUNCTION(C_DigestEncryptUpdate, BYTES_IN_OUT)
SESSION_FUNCTION(C_DecryptDigestUpdate, BYTES_IN_OUT)
SESSION_FUNCTION(C_SignEncryptUpdate, BYTES_IN_OUT)
SESSION_FUNCTION(C_DecryptVerifyUpdate, BYTES_IN_OUT)
OBJECT_FUNCTION(C_WrapKey, key,
                (CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping_key,
                 CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len),
                (session, mech, wrapping_key, key, out, out_len))
SESSION_FUNCTION(C_SeedRandom, BYTES_IN)
SESSION_FUNCTION(C_GenerateRandom, BYTES_IN)
SESSION_FUNCTION(C_GetFunctionStatus, SESSION_ONLY)
SESSION_FUNCTION(C_CancelFunction, SESSION_ONLY)
/* clang-format on */

/* ---- functions that issue handles or describe presence --------------------- */

/* Forwards a call that issues handles, and records the handles it issued. */
#define ISSUING_CALL(c, name, args, issued, count)                                                 \
    do {                                                                                           \
        CK_RV rv_ = call_enter(&(c));                                                              \
        if (rv_ != CKR_OK)                                                                         \
            return rv_;                                                                            \
        rv_ = call_leave(&(c), shim.real->name args);                                              \
        if (rv_ == CKR_OK)                                                                         \
            handles_issued((issued), (count));                                                     \
        return rv_;                                                                                \
    } while (0)

static CK_RV fault_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                                 CK_SESSION_HANDLE_PTR session)
{
    struct call c = {.fn = FN_C_OpenSession};

    ISSUING_CALL(c, C_OpenSession, (slot, flags, app, notify, session), session, 1);
}

static CK_RV fault_C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                                  CK_OBJECT_HANDLE_PTR object)
{
    struct call c = {.fn = FN_C_CreateObject, .flags = CALL_SESSION, .session = session};

    ISSUING_CALL(c, C_CreateObject, (session, tmpl, count, object), object, 1);
}

static CK_RV fault_C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                                CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                                CK_OBJECT_HANDLE_PTR new_object)
{
    struct call c = {.fn = FN_C_CopyObject,
                     .flags = CALL_SESSION | CALL_OBJECT,
                     .session = session,
                     .object = object};

    ISSUING_CALL(c, C_CopyObject, (session, object, tmpl, count, new_object), new_object, 1);
}

static CK_RV fault_C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects,
                                 CK_ULONG max, CK_ULONG_PTR count)
{
    struct call c = {.fn = FN_C_FindObjects, .flags = CALL_SESSION, .session = session};

    ISSUING_CALL(c, C_FindObjects, (session, objects, max, count), objects, *count);
}

static CK_RV fault_C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                                 CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    struct call c = {.fn = FN_C_GenerateKey, .flags = CALL_SESSION, .session = session};

    ISSUING_CALL(c, C_GenerateKey, (session, mech, tmpl, count, key), key, 1);
}

static CK_RV fault_C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                                     CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count,
                                     CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                                     CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    struct call c = {.fn = FN_C_GenerateKeyPair, .flags = CALL_SESSION, .session = session};
    CK_RV rv = call_enter(&c);

    if (rv != CKR_OK)
        return rv;
    rv = call_leave(&c, shim.real->C_GenerateKeyPair(session, mech, pub_tmpl, pub_count, priv_tmpl,
                                                     priv_count, pub, priv));
    if (rv == CKR_OK) {
        handles_issued(pub, 1);
        handles_issued(priv, 1);
    }
    return rv;
}

static CK_RV fault_C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                               CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                               CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                               CK_OBJECT_HANDLE_PTR key)
{
    struct call c = {.fn = FN_C_UnwrapKey,
                     .flags = CALL_SESSION | CALL_OBJECT,
                     .session = session,
                     .object = unwrapping_key};

    ISSUING_CALL(c, C_UnwrapKey,
                 (session, mech, unwrapping_key, wrapped, wrapped_len, tmpl, count, key), key, 1);
}

static CK_RV fault_C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                               CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                               CK_OBJECT_HANDLE_PTR key)
{
    struct call c = {.fn = FN_C_DeriveKey,
                     .flags = CALL_SESSION | CALL_OBJECT,
                     .session = session,
                     .object = base_key};

    ISSUING_CALL(c, C_DeriveKey, (session, mech, base_key, tmpl, count, key), key, 1);
}

/* Removed tokens are not listed: C_GetSlotList(tokenPresent) is how callers look for them. */
static CK_RV fault_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    struct call c = {.fn = FN_C_GetSlotList, .flags = CALL_MODULE};
    CK_RV rv = call_enter(&c);
    bool removed;

    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock(&shim.lock);
    removed = removal_locked() != NULL && present;
    if (removed)
        count_fault(FAULT_REMOVED, c.fn, CKR_OK);
    pthread_mutex_unlock(&shim.lock);
    if (removed) {
        *count = 0;
        return CKR_OK;
    }
    return call_leave(&c, shim.real->C_GetSlotList(present, list, count));
}

static CK_RV fault_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    struct call c = {.fn = FN_C_GetSlotInfo, .flags = CALL_MODULE};
    CK_RV rv = call_enter(&c);
    bool removed;

    if (rv != CKR_OK)
        return rv;
    rv = call_leave(&c, shim.real->C_GetSlotInfo(slot, info));
    pthread_mutex_lock(&shim.lock);
    removed = removal_locked() != NULL;
    if (removed)
        count_fault(FAULT_REMOVED, c.fn, CKR_OK);
    pthread_mutex_unlock(&shim.lock);
    if (rv == CKR_OK && removed)
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    return rv;
}

static CK_RV fault_C_Finalize(CK_VOID_PTR reserved)
{
    struct call c = {.fn = FN_C_Finalize, .flags = CALL_MODULE};
    CK_RV rv = call_enter(&c);

    if (rv != CKR_OK)
        return rv;
    rv = call_leave(&c, shim.real->C_Finalize(reserved));
    pthread_mutex_lock(&shim.lock);
    stats_write_locked();
    pthread_mutex_unlock(&shim.lock);
    return rv;
}

static CK_RV fault_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    atomic_fetch_add(&shim.calls[FN_C_GetFunctionList], 1);
    *list = &fault_list;
    return CKR_OK;
}

/* ---- loading ---------------------------------------------------------------- */

/*
 * The child counts its own calls, into its own file (P11FAULT_STATS.<pid>).
 * Another thread of the parent may have held the lock at fork(); the child
 * has only this thread, so it starts with a fresh lock.  Taking the lock in
 * a prepare handler instead would deadlock against a caller (the PKCS#11
 * layer) that holds its own lock across a call into this module while its
 * own prepare handler, run after ours, waits for that lock.
 */
static void atfork_child(void)
{
    size_t i;

    pthread_mutex_init(&shim.lock, NULL);
    for (i = 0; i < FN_COUNT; i++)
        atomic_store(&shim.calls[i], 0);
    shim.nfaults = 0;
    shim.last_stats_ns = 0;
}

static void load_real_module(void)
{
    const char *path = getenv("P11FAULT_MODULE");
    CK_C_GetFunctionList get;

    shim.pid = getpid();
    shim.loaded_us = realtime_us();
    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "p11fault: P11FAULT_MODULE is not set: name the real PKCS#11 module\n");
        return;
    }
    shim.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (shim.dl == NULL) {
        fprintf(stderr, "p11fault: cannot load %s: %s\n", path, dlerror());
        return;
    }
    get = (CK_C_GetFunctionList)dlsym(shim.dl, "C_GetFunctionList");
    if (get == NULL || get(&shim.real) != CKR_OK || shim.real == NULL) {
        fprintf(stderr, "p11fault: %s has no usable C_GetFunctionList\n", path);
        shim.real = NULL;
        return;
    }
    fault_list = (CK_FUNCTION_LIST){.version = shim.real->version,
#define FN_ENTRY(name, late) .name = fault_##name,
                                    P11FAULT_FUNCTIONS(FN_ENTRY)
#undef FN_ENTRY
    };
    pthread_atfork(NULL, NULL, atfork_child);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    pthread_once(&shim.once, load_real_module);
    if (shim.real == NULL)
        return CKR_GENERAL_ERROR;
    return fault_C_GetFunctionList(list);
}

/* The last figures, whatever the process did (exit, or unloading the module). */
__attribute__((destructor)) static void write_final_stats(void)
{
    if (shim.real == NULL)
        return;
    pthread_mutex_lock(&shim.lock);
    stats_write_locked();
    free(shim.handles);
    shim.handles = NULL;
    shim.handles_cap = shim.handles_len = 0;
    pthread_mutex_unlock(&shim.lock);
}
