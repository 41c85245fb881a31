/*
 * The worker pools: signing and verification requests leave the HTTP
 * workers here, so that the token's latency (signing) or a certificate
 * server's (verification, which may fetch an x5u) never holds the threads
 * that read and answer HTTP.  The two pools are two instances of this code,
 * each with its own threads, queue and deadline: a flood of verifications
 * cannot take a signer's place.
 *
 * An HTTP worker that has a complete signing request suspends its
 * connection (MHD_suspend_connection) and queues the job; one of
 * hsm_sessions signer threads, each with its own token session in flight,
 * signs it and resumes the connection, whose worker then sends the answer.
 * Throughput is hsm_sessions / token latency, whatever the number of
 * cores; no thread waits per request.  Verification works the same way on
 * [verify] threads.
 *
 * Two bounds keep the latency from growing instead:
 *   - the queue holds at most sign_queue (verify: queue) jobs: one more is
 *     refused at once with 503 "overloaded" and Retry-After;
 *   - a job not done within sign_timeout_ms (verify: timeout_ms) of its
 *     arrival is answered 503 by the deadline thread, whether it still
 *     waits in the queue or its worker is stuck in the token or a fetch.
 *     A stuck worker's job is abandoned: the worker frees it when it is
 *     let go.
 *
 * One lock guards the queue and every job's state; no PKCS#11 call and no
 * libmicrohttpd call is made under it but MHD_suspend_connection(), which
 * calls nothing of ours.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p11/p11.h"
#include "sksd/sksd.h"

enum job_state {
    JOB_IDLE,      /* owned by its connection alone */
    JOB_QUEUED,    /* waiting for a worker */
    JOB_WORKING,   /* a worker has it */
    JOB_DONE,      /* done or refused: |res| holds the outcome */
    JOB_EXPIRED,   /* the deadline passed first: the answer is a timeout */
    JOB_ABANDONED, /* expired while a worker has it: the worker frees it */
};

struct sksd_job {
    enum job_state state;
    struct sksd_pool *pool; /* the pool it was last submitted to; NULL: never */
    struct MHD_Connection *conn;
    unsigned long long deadline_ns;
    struct sksd_job *next; /* the queue */
    /* Every job not yet answered, oldest first: what the deadline thread watches. */
    struct sksd_job *older, *newer;

    bool released; /* abandoned: the first of worker and connection to let go says so */
    char identity[SKS_IDENTITY_NAME_MAX + 1];
    bool named;
    size_t body_len;
    char *extra; /* a second Identity header, for the requests that ask for one */
    union {
        struct sksd_sign_result sign;
        struct sksd_verification verify;
    } res;
    size_t cap;
    char buf[]; /* the body (cap bytes), then the response */
};

struct sksd_pool {
    struct sksd *d;
    enum sksd_pool_kind kind;
    atomic_ulong *rejected, *timeouts; /* the pool's counters in d->metrics */
    pthread_mutex_t lock;
    pthread_cond_t work;     /* workers: the queue is not empty, or stop */
    pthread_cond_t deadline; /* the deadline thread: a new oldest job, or stop */
    struct sksd_job *head, *tail;
    struct sksd_job *oldest, *newest;
    size_t queued, depth;
    unsigned int sessions, busy;
    bool stopping;
    pthread_t *threads;
    unsigned int nthreads;
    pthread_t reaper;
    bool reaper_started;
    bool left_behind;
    bool stopped; /* sksd_pool_stop() ran: only the main thread reads this */
};

/* ---- jobs ------------------------------------------------------------------ */

struct sksd_job *sksd_job_new(size_t cap, size_t response)
{
    struct sksd_job *j = malloc(sizeof(*j) + cap + response);

    if (j == NULL)
        return NULL;
    memset(j, 0, sizeof(*j));
    j->cap = cap;
    return j;
}

static void job_free(struct sksd_job *j)
{
    if (j == NULL)
        return;
    OPENSSL_cleanse(j->buf, j->body_len);
    free(j->extra);
    free(j);
}

char *sksd_job_body(struct sksd_job *j)
{
    return j->buf;
}

size_t sksd_job_cap(const struct sksd_job *j)
{
    return j->cap;
}

/* ---- the queue, under the lock ---------------------------------------------- */

static void unlink_pending(struct sksd_pool *s, struct sksd_job *j)
{
    if (j->older != NULL)
        j->older->newer = j->newer;
    else
        s->oldest = j->newer;
    if (j->newer != NULL)
        j->newer->older = j->older;
    else
        s->newest = j->older;
    j->older = j->newer = NULL;
}

static void remove_queued(struct sksd_pool *s, struct sksd_job *j)
{
    struct sksd_job **p;

    for (p = &s->head; *p != NULL; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            if (s->tail == j)
                s->tail = NULL;
            break;
        }
    }
    if (s->tail == NULL)
        for (s->tail = s->head; s->tail != NULL && s->tail->next != NULL; s->tail = s->tail->next)
            ;
    j->next = NULL;
    s->queued--;
}

/*
 * The deadline of |j| passed: the connection is told at once.  Returns
 * true when the caller must resume it (outside the lock).
 */
static bool expire(struct sksd_pool *s, struct sksd_job *j)
{
    unlink_pending(s, j);
    if (j->state == JOB_QUEUED) {
        remove_queued(s, j);
        j->state = JOB_EXPIRED;
    } else {
        j->state = JOB_ABANDONED;
    }
    atomic_fetch_add_explicit(s->timeouts, 1, memory_order_relaxed);
    return true;
}

/*
 * An abandoned job has two owners, its worker and its connection: the
 * second to let go frees it.  True for that one.
 */
static bool let_go(struct sksd_job *j)
{
    if (j->released)
        return true;
    j->released = true;
    return false;
}

/* ---- the threads ------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct sksd_pool *s = arg;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct sksd_job *j;

        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->work, &s->lock);
        if (s->head == NULL)
            break;
        j = s->head;
        s->head = j->next;
        if (s->head == NULL)
            s->tail = NULL;
        j->next = NULL;
        s->queued--;
        j->state = JOB_WORKING;
        s->busy++;
        pthread_mutex_unlock(&s->lock);

        if (s->kind == SKSD_POOL_SIGN)
            sksd_sign_request(s->d, j->buf, j->body_len, j->named ? j->identity : NULL, &j->extra,
                              &j->res.sign);
        else
            (void)sksd_verify_request(s->d, j->buf, j->body_len, true, &j->res.verify);

        pthread_mutex_lock(&s->lock);
        s->busy--;
        if (j->state != JOB_WORKING) {
            /* Answered already by the deadline thread. */
            if (!let_go(j))
                continue;
            pthread_mutex_unlock(&s->lock);
            job_free(j);
        } else {
            unlink_pending(s, j);
            j->state = JOB_DONE;
            pthread_mutex_unlock(&s->lock);
            MHD_resume_connection(j->conn);
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* |ts| is |ns| from now on |clock|. */
static void in_ns(clockid_t clock, unsigned long long ns, struct timespec *ts)
{
    clock_gettime(clock, ts);
    ts->tv_sec += (time_t)(ns / 1000000000ULL);
    ts->tv_nsec += (long)(ns % 1000000000ULL);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *reaper_main(void *arg)
{
    struct sksd_pool *s = arg;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct sksd_job *j = s->oldest;
        unsigned long long now = sksd_now_ns();

        if (j == NULL) {
            pthread_cond_wait(&s->deadline, &s->lock);
        } else if (now >= j->deadline_ns) {
            struct MHD_Connection *c = j->conn;

            expire(s, j);
            pthread_mutex_unlock(&s->lock);
            MHD_resume_connection(c);
            pthread_mutex_lock(&s->lock);
        } else {
            struct timespec ts;

            in_ns(CLOCK_MONOTONIC, j->deadline_ns - now, &ts);
            pthread_cond_timedwait(&s->deadline, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the pool ------------------------------------------------------------------ */

/*
 * Without hsm_sessions: enough sessions to keep a token 5 ms away (a network
 * HSM) busy at the rate sksd reaches on two cores with a local token (about
 * 6000 signatures/s).  p11-kit's client module is the exception: it carries
 * one call at a time over its connection to the p11-kit server, so more than
 * a few sessions only add threads spinning for each other's replies (4 sign
 * at 2.5 times the rate of 32 there).
 */
#define SESSIONS_LOCAL 32
#define SESSIONS_P11KIT_REMOTE 4

static unsigned int default_sessions(const struct sksd_conf *conf)
{
    const char *path = conf->store.pkcs11_module, *base;

    if (path == NULL)
        return SESSIONS_LOCAL;
    base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strcmp(base, "p11-kit-client.so") != 0)
        return SESSIONS_LOCAL;
    sksd_log(SKSD_LOG_INFO,
             "%s forwards one call at a time to its p11-kit server: %u token sessions "
             "(hsm_sessions sets another number)",
             path, SESSIONS_P11KIT_REMOTE);
    return SESSIONS_P11KIT_REMOTE;
}

/* hsm_sessions, clamped to what the token and the session pool allow. */
static unsigned int sessions_for(const struct sksd_conf *conf, struct p11_token *tok)
{
    unsigned long max = p11_token_max_sessions(tok);
    unsigned int n = conf->hsm_sessions != 0 ? conf->hsm_sessions : default_sessions(conf);

    if (max != 0 && n > max) {
        sksd_log(SKSD_LOG_WARNING,
                 "hsm_sessions = %u is more than the %lu read-write sessions the token allows: "
                 "using %lu",
                 n, max, max);
        n = (unsigned int)max;
    }
    if (n > P11_POOL_MAX) {
        sksd_log(SKSD_LOG_WARNING,
                 "hsm_sessions = %u is more than the %u sessions the session pool keeps open: "
                 "using %u",
                 n, P11_POOL_MAX, P11_POOL_MAX);
        n = P11_POOL_MAX;
    }
    return n;
}

static const char *pool_name(enum sksd_pool_kind kind)
{
    return kind == SKSD_POOL_SIGN ? "signing" : "verification";
}

sks_status sksd_pool_start(struct sksd *d, enum sksd_pool_kind kind, struct sksd_pool **out,
                           struct sks_error *err)
{
    struct sksd_pool *s = calloc(1, sizeof(*s));
    const char *name = pool_name(kind);
    pthread_condattr_t ca;
    unsigned int i;

    if (s == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory starting the %s pool", name);
    s->d = d;
    s->kind = kind;
    if (kind == SKSD_POOL_SIGN) {
        s->sessions = sessions_for(d->conf, d->tok);
        s->depth = d->conf->sign_queue;
        s->rejected = &d->metrics.sign_rejected;
        s->timeouts = &d->metrics.sign_timeouts;
    } else {
        s->sessions = d->conf->verify.threads;
        s->depth = d->conf->verify.queue;
        s->rejected = &d->metrics.verify_rejected;
        s->timeouts = &d->metrics.verify_timeouts;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->deadline, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    s->threads = calloc(s->sessions, sizeof(*s->threads));
    if (s->threads == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory starting %u %s threads", s->sessions,
                        name);
    for (i = 0; i < s->sessions; i++) {
        int rc = pthread_create(&s->threads[i], NULL, worker_main, s);

        if (rc != 0)
            return sks_fail(err, SKS_ERR_SYSTEM, "cannot start %s thread %u of %u: %s", name, i + 1,
                            s->sessions, strerror(rc));
        s->nthreads++;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot start the %s deadline thread", name);
    s->reaper_started = true;
    if (kind == SKSD_POOL_SIGN)
        sksd_log(SKSD_LOG_INFO,
                 "signing: %u token sessions in flight, a queue of %zu, deadline %ld ms",
                 s->sessions, s->depth, d->conf->sign_timeout_ms);
    else
        sksd_log(SKSD_LOG_INFO, "verification: %u threads, a queue of %zu, deadline %ld ms",
                 s->sessions, s->depth, d->conf->verify.timeout_ms);
    return SKS_OK;
}

void sksd_pool_reload(struct sksd_pool *s, const struct sksd_conf *conf)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->depth = s->kind == SKSD_POOL_SIGN ? conf->sign_queue : conf->verify.queue;
    pthread_mutex_unlock(&s->lock);
}

void sksd_pool_stop(struct sksd_pool *s, unsigned long long deadline_ns)
{
    unsigned long long wait_ns;
    struct timespec until;
    bool left = false;
    unsigned int i;

    if (s == NULL || s->stopped)
        return;
    s->stopped = true;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    while (s->oldest != NULL) {
        struct MHD_Connection *c = s->oldest->conn;

        expire(s, s->oldest);
        pthread_mutex_unlock(&s->lock);
        MHD_resume_connection(c);
        pthread_mutex_lock(&s->lock);
    }
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->deadline);
    pthread_mutex_unlock(&s->lock);
    if (s->reaper_started)
        pthread_join(s->reaper, NULL);
    /* pthread_timedjoin_np() takes a CLOCK_REALTIME time. */
    wait_ns = deadline_ns > sksd_now_ns() ? deadline_ns - sksd_now_ns() : 0;
    in_ns(CLOCK_REALTIME, wait_ns, &until);
    for (i = 0; i < s->nthreads; i++) {
        if (pthread_timedjoin_np(s->threads[i], NULL, &until) != 0)
            left = true;
    }
    s->left_behind = left;
    if (left)
        sksd_log(SKSD_LOG_WARNING, "a %s thread is still at work: not waiting longer",
                 pool_name(s->kind));
}

void sksd_pool_free(struct sksd_pool **sp)
{
    struct sksd_pool *s = *sp;

    /* A worker left behind still uses the pool: the process is exiting. */
    if (s == NULL || s->left_behind)
        return;
    *sp = NULL;
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->deadline);
    pthread_mutex_destroy(&s->lock);
    free(s->threads);
    free(s);
}

enum sksd_submit sksd_pool_submit(struct sksd_pool *s, struct sksd_job *j, struct MHD_Connection *c,
                                  const char *identity, size_t body_len)
{
    struct sksd *d = s->d;
    long timeout_ms;

    pthread_rwlock_rdlock(&d->conf_lock);
    timeout_ms = s->kind == SKSD_POOL_SIGN ? d->conf->sign_timeout_ms : d->conf->verify.timeout_ms;
    pthread_rwlock_unlock(&d->conf_lock);
    j->named = identity != NULL;
    if (identity != NULL)
        snprintf(j->identity, sizeof(j->identity), "%s", identity);
    j->body_len = body_len;
    j->conn = c;
    j->deadline_ns = sksd_now_ns() + (unsigned long long)timeout_ms * 1000000ULL;
    pthread_mutex_lock(&s->lock);
    if (s->stopping || s->queued >= s->depth) {
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_add_explicit(s->rejected, 1, memory_order_relaxed);
        return s->stopping ? SKSD_SUBMIT_STOPPING : SKSD_SUBMIT_FULL;
    }
    MHD_suspend_connection(c);
    j->pool = s;
    j->state = JOB_QUEUED;
    j->next = NULL;
    if (s->tail != NULL)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    j->older = s->newest;
    if (s->newest != NULL)
        s->newest->newer = j;
    else
        s->oldest = j;
    s->newest = j;
    if (s->oldest == j)
        pthread_cond_signal(&s->deadline);
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return SKSD_SUBMIT_QUEUED;
}

enum sksd_job_outcome sksd_job_outcome(struct sksd_job **jp)
{
    struct sksd_job *j = *jp;
    struct sksd_pool *s = j->pool;
    enum sksd_job_outcome out = SKSD_JOB_DONE;
    bool last = false;

    pthread_mutex_lock(&s->lock);
    if (j->state == JOB_EXPIRED || j->state == JOB_ABANDONED)
        out = SKSD_JOB_TIMED_OUT;
    if (j->state == JOB_ABANDONED) {
        /* Its worker still has it: the connection takes another for its next request. */
        last = let_go(j);
        *jp = NULL;
    } else {
        j->state = JOB_IDLE;
    }
    pthread_mutex_unlock(&s->lock);
    if (last)
        job_free(j);
    return out;
}

void sksd_job_put(struct sksd_job *j)
{
    struct sksd_pool *s;
    bool last = true;

    if (j == NULL)
        return;
    s = j->pool;
    if (s != NULL) {
        pthread_mutex_lock(&s->lock);
        if (j->state == JOB_ABANDONED)
            last = let_go(j);
        pthread_mutex_unlock(&s->lock);
    }
    if (last)
        job_free(j);
}

const struct sksd_sign_result *sksd_job_sign_result(const struct sksd_job *j)
{
    return &j->res.sign;
}

const struct sksd_verification *sksd_job_verification(const struct sksd_job *j)
{
    return &j->res.verify;
}

void sksd_pool_gauges(struct sksd_pool *s, struct sksd_pool_gauges *g)
{
    memset(g, 0, sizeof(*g));
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    g->sessions = s->sessions;
    g->busy = s->busy;
    g->queued = s->queued;
    g->depth = s->depth;
    pthread_mutex_unlock(&s->lock);
}
