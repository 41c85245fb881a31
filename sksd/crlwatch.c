/*
 * The CRL watch: sksd stops signing with a certificate that becomes
 * revoked (ATIS-1000080 6.3.7).
 *
 * One thread, off the signing path, holds the chain of every identity's
 * active version to the CRLs it names (sks_keystore_crl_check) every
 * [sksd] crl_check_interval seconds, and at the earliest nextUpdate of
 * those CRLs when that comes sooner.  The CRLs come through sksd's CRL
 * cache, whose entries live no longer than the interval, so that each
 * round sees what the CRL servers publish now.
 *
 * When the active certificate (or its STI-CA's) is revoked, the watch
 * activates a standby version that passes the same check, through the key
 * store's activation (durable, seen by every sksd on the token, audited).
 * With none, it holds the version (sks_keystore_hold): signing for the
 * identity answers 503 certificate-revoked until a valid version is
 * activated.  A CRL that cannot be had does not stop signing: the last good
 * verdict stands until that CRL's nextUpdate plus [sksd] crl_stale_max; past
 * it the identity answers 503 crl-unavailable.  An identity never judged
 * good (its CRLs never fetched) keeps signing, as before sksd checked CRLs,
 * and /metrics and the log say so.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sksd/sksd.h"

/* Identities the watch follows, at most; past them /metrics lists none, the log names them. */
#define WATCHED_MAX 1024
#define STANDBY_MAX 64

struct watched {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    unsigned int version; /* the active version last judged */
    unsigned int held;    /* the version held (not signing); 0: none */
    const char *result;   /* the last check's: "ok", a code, or "none" */
    time_t checked;       /* when it ran; 0: never */
    time_t next_update;   /* the earliest nextUpdate of the last good verdict's CRLs */
    time_t good_until;    /* the last good verdict stands until; 0: none yet */
    bool revoked;         /* the active certificate is revoked and nothing took over */
    bool present;         /* in the last list */
};

struct sksd_crl_watch {
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool stop;
    struct watched ids[WATCHED_MAX];
    size_t n;
    unsigned long long rounds, failures, switches;
};

/* One identity as the list shows it, copied out of the callback. */
struct listed {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    unsigned int active;
    unsigned int standby[STANDBY_MAX]; /* newest first */
    size_t nstandby;
};

struct listing {
    struct listed *v;
    size_t n;
};

static const struct sksd_peer watch_peer = {"sksd crl watch"};

static int collect(const struct sks_identity_info *info, void *arg)
{
    struct listing *l = arg;
    struct listed *x;
    size_t i;

    if (info->active == 0 || l->n == WATCHED_MAX)
        return 0;
    x = &l->v[l->n++];
    memset(x, 0, sizeof(*x));
    strcpy(x->name, info->name);
    x->active = info->active;
    for (i = info->nversions; i > 0 && x->nstandby < STANDBY_MAX; i--) {
        if (info->versions[i - 1].state == SKS_VERSION_STANDBY)
            x->standby[x->nstandby++] = info->versions[i - 1].version;
    }
    return 0;
}

/* The state of |name| (w->lock held); NULL when the table is full. */
static struct watched *find(struct sksd_crl_watch *w, const char *name)
{
    size_t i;

    for (i = 0; i < w->n; i++) {
        if (strcmp(w->ids[i].name, name) == 0)
            return &w->ids[i];
    }
    if (w->n == WATCHED_MAX)
        return NULL;
    memset(&w->ids[w->n], 0, sizeof(w->ids[w->n]));
    strcpy(w->ids[w->n].name, name);
    w->ids[w->n].result = "none";
    return &w->ids[w->n++];
}

/* Tries the standby versions newest first; the one activated, or 0. */
static unsigned int take_over(struct sksd *d, const struct listed *x, const struct sks_error *why)
{
    struct sks_error err;
    size_t i;

    for (i = 0; i < x->nstandby; i++) {
        sks_error_clear(&err);
        if (sks_keystore_activate(d->ks, x->name, x->standby[i], &err) == SKS_OK) {
            char detail[SKS_ERROR_MSG_MAX + 32];

            snprintf(detail, sizeof(detail), "replaces version %u: %s", x->active, why->msg);
            sksd_audit(&watch_peer, "crl-switch", x->name, x->standby[i], "ok", detail);
            return x->standby[i];
        }
        sksd_audit(&watch_peer, "crl-switch", x->name, x->standby[i], sks_error_code(&err),
                   err.msg);
    }
    return 0;
}

/* Stops |x|'s active version from signing, saying why with |code|. */
static void hold(struct sksd *d, const struct listed *x, sks_status status, const char *code,
                 const struct sks_error *why)
{
    struct sks_error held, err;

    sks_fail_field(&held, status, code, "identity",
                   "identity %s does not sign with version %u: %s; activate a valid version",
                   x->name, x->active, why->msg);
    sks_error_clear(&err);
    if (sks_keystore_hold(d->ks, x->name, x->active, &held, &err) != SKS_OK)
        sksd_log(SKSD_LOG_ERR, "crl watch: cannot stop %s version %u: %s", x->name, x->active,
                 err.msg);
    sksd_audit(&watch_peer, "crl-hold", x->name, x->active, code, held.msg);
}

static void release(struct sksd *d, struct watched *s)
{
    if (s->held == 0)
        return;
    sks_keystore_hold(d->ks, s->name, s->held, NULL, NULL);
    sksd_audit(&watch_peer, "crl-release", s->name, s->held, "ok",
               "its certificate passes its CRLs again");
    s->held = 0;
}

/* One identity's round; runs without w->lock but for the state updates. */
static void check_one(struct sksd *d, struct sksd_crl_watch *w, const struct listed *x,
                      long stale_max)
{
    struct sks_crl_verdict v;
    struct sks_error err;
    struct watched *s;
    unsigned int took = 0;
    const char *prev;
    bool held, changed;
    time_t now;
    sks_status st;

    pthread_mutex_lock(&w->lock);
    s = find(w, x->name);
    held = s != NULL && s->held == x->active;
    pthread_mutex_unlock(&w->lock);
    sks_error_clear(&err);
    st = sks_keystore_crl_check(d->ks, x->name, x->active, &v, &err);
    now = time(NULL);
    if (v.revoked) {
        if (!held)
            sksd_log(SKSD_LOG_WARNING, "crl watch: %s", err.msg);
        took = take_over(d, x, &err);
        if (took == 0 && !held)
            hold(d, x, SKS_ERR_UNAVAILABLE, SKS_CODE_CERT_REVOKED, &err);
    }
    pthread_mutex_lock(&w->lock);
    if ((s = find(w, x->name)) == NULL) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    s->present = true;
    s->checked = now;
    if (s->version != x->active) {
        /* Another version: the verdicts of the last one say nothing of it. */
        s->good_until = 0;
        s->revoked = false;
        s->result = "none";
        if (s->held != 0 && s->held != x->active)
            sks_keystore_hold(d->ks, s->name, s->held, NULL, NULL);
        s->held = held ? x->active : 0;
    }
    s->version = took != 0 ? took : x->active;
    prev = s->result;
    if (st == SKS_OK) {
        s->result = "ok";
        s->next_update = v.next_update;
        s->good_until = v.next_update + stale_max;
        s->revoked = false;
        release(d, s);
    } else if (v.revoked) {
        s->result = SKS_CODE_CERT_REVOKED;
        s->revoked = took == 0;
        s->held = took == 0 ? x->active : 0;
        s->good_until = 0;
        w->switches += took != 0;
    } else {
        s->result = err.code != NULL ? err.code : sks_error_code(&err);
        w->failures++;
        if (s->good_until != 0 && now > s->good_until && s->held == 0) {
            pthread_mutex_unlock(&w->lock);
            hold(d, x, SKS_ERR_UNAVAILABLE, SKS_CODE_CRL_UNAVAILABLE, &err);
            pthread_mutex_lock(&w->lock);
            if ((s = find(w, x->name)) != NULL)
                s->held = x->active;
        }
    }
    changed = s != NULL && strcmp(prev, s->result) != 0;
    pthread_mutex_unlock(&w->lock);
    /* Once per change of result: a CRL server that stays down is not logged every round. */
    if (changed && st != SKS_OK && !v.revoked)
        sksd_log(SKSD_LOG_WARNING, "crl watch: %s version %u: %s%s", x->name, x->active, err.msg,
                 "; the last good verdict, if any, stands until its CRL's nextUpdate plus "
                 "crl_stale_max");
    else if (changed && st == SKS_OK && strcmp(prev, "none") != 0)
        sksd_log(SKSD_LOG_INFO, "crl watch: %s version %u: its CRLs pass again", x->name,
                 x->active);
}

/* A round over every identity; the earliest nextUpdate of their CRLs (0: none ahead). */
static time_t round_all(struct sksd *d, struct sksd_crl_watch *w, long stale_max)
{
    struct listing l = {calloc(WATCHED_MAX, sizeof(struct listed)), 0};
    struct sks_error err;
    time_t next = 0, now;
    size_t i;

    if (l.v == NULL)
        return 0;
    sks_error_clear(&err);
    if (sks_keystore_list(d->ks, collect, &l, &err) != SKS_OK)
        sksd_log(SKSD_LOG_WARNING, "crl watch: cannot list the key store: %s", err.msg);
    pthread_mutex_lock(&w->lock);
    for (i = 0; i < w->n; i++)
        w->ids[i].present = false;
    pthread_mutex_unlock(&w->lock);
    for (i = 0; i < l.n; i++)
        check_one(d, w, &l.v[i], stale_max);
    now = time(NULL);
    pthread_mutex_lock(&w->lock);
    w->rounds++;
    for (i = 0; i < w->n; i++) {
        const struct watched *s = &w->ids[i];

        if (s->present && s->next_update > now && (next == 0 || s->next_update < next))
            next = s->next_update;
    }
    pthread_mutex_unlock(&w->lock);
    free(l.v);
    return next;
}

/* A reload that sets crl_check_interval = 0 pauses the rounds; this often it looks again. */
#define PAUSED_RECHECK_S 60

static void *watch_main(void *arg)
{
    struct sksd *d = arg;
    struct sksd_crl_watch *w = d->crlwatch;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        long interval, stale_max;
        time_t next = 0;

        pthread_mutex_unlock(&w->lock);
        pthread_rwlock_rdlock(&d->conf_lock);
        interval = d->conf->crl_check_interval;
        stale_max = d->conf->crl_stale_max;
        pthread_rwlock_unlock(&d->conf_lock);
        /* The next round is due an interval after this one starts, or at a nextUpdate before. */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += interval > 0 ? interval : PAUSED_RECHECK_S;
        if (interval > 0)
            next = round_all(d, w, stale_max);
        if (next != 0 && next < until.tv_sec) {
            until.tv_sec = next;
            until.tv_nsec = 0;
        }
        pthread_mutex_lock(&w->lock);
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

sks_status sksd_crl_watch_start(struct sksd *d, struct sks_error *err)
{
    struct sksd_crl_watch *w;

    if (d->conf->store.crl_check == false || d->conf->crl_check_interval == 0) {
        sksd_log(SKSD_LOG_WARNING, "signing: the CRLs of active certificates are not watched (%s)",
                 d->conf->store.crl_check ? "crl_check_interval = 0" : "crl_check = no");
        return SKS_OK;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory starting the CRL watch");
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    d->crlwatch = w;
    if (pthread_create(&w->thread, NULL, watch_main, d) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot start the CRL watch thread");
    w->started = true;
    sksd_log(SKSD_LOG_INFO, "signing: the CRLs of active certificates are checked every %ld s",
             d->conf->crl_check_interval);
    return SKS_OK;
}

void sksd_crl_watch_stop(struct sksd *d)
{
    struct sksd_crl_watch *w = d->crlwatch;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->started)
        pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    d->crlwatch = NULL;
}

/* The per-identity series of /metrics, one family each. */
static const struct {
    const char *name, *help;
} series[] = {
    {"sksd_certificate_revoked",
     "1 when the identity's active certificate is revoked and it does not sign."},
    {"sksd_crl_check_result",
     "The last CRL check of the identity's active certificate: ok or a stable code (value 1)."},
    {"sksd_crl_check_timestamp_seconds", "When that check ran."},
    {"sksd_crl_next_update_timestamp_seconds",
     "The earliest nextUpdate of the CRLs of the last good verdict; 0: none."},
};

static void write_sample(FILE *f, size_t k, const struct watched *s)
{
    switch (k) {
    case 0:
        fprintf(f, "%s{identity=\"%s\",version=\"%u\"} %d\n", series[k].name, s->name, s->version,
                s->revoked ? 1 : 0);
        break;
    case 1:
        fprintf(f, "%s{identity=\"%s\",result=\"%s\"} 1\n", series[k].name, s->name, s->result);
        break;
    default:
        fprintf(f, "%s{identity=\"%s\"} %lld\n", series[k].name, s->name,
                (long long)(k == 2 ? s->checked : s->next_update));
        break;
    }
}

void sksd_crl_watch_metrics(struct sksd *d, FILE *f)
{
    struct sksd_crl_watch *w = d->crlwatch;
    size_t i, k;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    fprintf(f,
            "# HELP sksd_crl_watch_rounds_total Rounds of the CRL watch over every active "
            "certificate.\n"
            "# TYPE sksd_crl_watch_rounds_total counter\nsksd_crl_watch_rounds_total %llu\n"
            "# HELP sksd_crl_watch_failures_total CRL checks of active certificates that could "
            "not judge (a CRL unavailable or invalid).\n"
            "# TYPE sksd_crl_watch_failures_total counter\nsksd_crl_watch_failures_total %llu\n"
            "# HELP sksd_crl_watch_switches_total Standby versions activated because the active "
            "certificate was revoked.\n"
            "# TYPE sksd_crl_watch_switches_total counter\nsksd_crl_watch_switches_total %llu\n",
            w->rounds, w->failures, w->switches);
    for (k = 0; k < sizeof(series) / sizeof(series[0]); k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", series[k].name, series[k].help,
                series[k].name);
        for (i = 0; i < w->n; i++) {
            if (w->ids[i].present)
                write_sample(f, k, &w->ids[i]);
        }
    }
    pthread_mutex_unlock(&w->lock);
}
