/*
 * sksd: start-up, signals and shutdown.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwaitinfo(), so that no handler ever runs inside libmicrohttpd or the
 * PKCS#11 module:
 *   SIGTERM, SIGINT  stop accepting, let in-flight requests finish, exit 0;
 *   SIGHUP           read the configuration again (identities, limits,
 *                    allow-lists; listeners and the token need a restart).
 * systemd learns about readiness, reloads and stopping through the
 * NOTIFY_SOCKET datagram protocol (sd_notify(3)), written here by hand.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "keystore/input.h"
#include "p11/p11.h"
#include "sksd/sksd.h"
#include "verify/x5u.h"

#define EXIT_USAGE 1

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sksd [-c FILE] [--check]\n"
            "\n"
            "The STI-AS signing daemon of shaken-sks: ATIS-1000082 signing with keys held in\n"
            "a PKCS#11 token, and the key import API for the SP-KMS.\n"
            "\n"
            "  -c, --config FILE  configuration file (default %s)\n"
            "  -t, --check        read the configuration (and [verify]'s trust roots) and\n"
            "                     open the token, then exit\n"
            "  -h, --help         this text\n"
            "  -V, --version      the version\n"
            "\n"
            "See sksd(8).\n",
            SKS_CONFIG_DEFAULT);
}

/* ---- systemd notification (sd_notify(3) wire protocol) ----------------------------- */

static void notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {0};
    size_t n;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    n = strlen(path);
    if (n >= sizeof(sun.sun_path))
        return;
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, n);
    /* '@' stands for the abstract namespace: a leading NUL byte. */
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        sksd_log(SKSD_LOG_WARNING, "cannot notify systemd: %s", strerror(errno));
    close(fd);
}

/* ---- the token and the key store -------------------------------------------------- */

static sks_status open_token(struct sksd *d, const struct sks_config *cfg, struct sks_error *err)
{
    sks_status st;

    if (cfg->pin_file == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sks] pin_file is missing: sksd logs in to sign",
                        cfg->path);
    st = sks_config_open_token(cfg, &d->tok, err);
    /* A wrong PIN or an absent token must stop the start, not the first call. */
    if (st == SKS_OK)
        st = p11_token_login(d->tok, err);
    return st;
}

static void keystore_warning(const char *msg, void *arg)
{
    sksd_log(SKSD_LOG_WARNING, "key store: %s", msg);
}

/*
 * The CRLs of activations and of the CRL watch: the guarded fetcher as [sks]
 * crl_* says, into a cache whose entries live no longer than a round of the
 * watch, so that each round sees what the CRL servers publish now.
 */
static sks_status crl_source_setup(struct sksd *d, const struct sks_config *cfg,
                                   struct sks_error *err)
{
    struct sks_fetch_cache_opts copts;

    sks_fetch_cache_opts_init(&copts);
    copts.max_entries = 64;
    if (d->conf->crl_check_interval > 0 && copts.max_ttl > d->conf->crl_check_interval)
        copts.max_ttl = d->conf->crl_check_interval;
    if (copts.min_ttl > copts.max_ttl)
        copts.min_ttl = copts.max_ttl;
    copts.negative_ttl = 0;
    copts.stale_ttl = 0;
    sks_fetch_opts_init(&d->crl_fetch);
    d->crl_fetch.max_bytes = (size_t)cfg->crl_max_bytes;
    d->crl_fetch.allow_private = cfg->crl_allow_private;
    if (cfg->crl_ca_file != NULL && (d->crl_ca_file = strdup(cfg->crl_ca_file)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    d->crl_fetch.ca_file = d->crl_ca_file;
    if ((d->crl_cache = sks_crl_cache_new(&copts, &d->crl_fetch)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory making the CRL cache");
    d->crl_source.get = sks_crl_get;
    d->crl_source.arg = d->crl_cache;
    return SKS_OK;
}

static sks_status open_keystore(struct sksd *d, struct sks_error *err)
{
    const struct sks_config *cfg = &d->conf->store;
    struct sks_keystore_config kcfg;
    sks_status st;

    sks_keystore_config_init(&kcfg);
    st = open_token(d, cfg, err);
    if (st != SKS_OK)
        return st;
    if (cfg->trust_anchors != NULL) {
        st = sks_roots_load(cfg->trust_anchors, &kcfg.roots, err);
        if (st != SKS_OK)
            return st;
    } else {
        sksd_log(SKSD_LOG_WARNING, "%s: [sks] trust_anchors is not set: imports will be refused",
                 cfg->path);
    }
    kcfg.grace_seconds = cfg->grace_period;
    kcfg.expiry_warn_days = cfg->expiry_warn_days;
    kcfg.pending_max_age = cfg->pending_max_age;
    kcfg.sweep_after = cfg->sweep_after;
    kcfg.warn = keystore_warning;
    if (cfg->crl_check && crl_source_setup(d, cfg, err) != SKS_OK) {
        X509_STORE_free(kcfg.roots);
        return err->status;
    }
    if (cfg->crl_check)
        kcfg.crls = &d->crl_source;
    else
        sksd_log(SKSD_LOG_WARNING,
                 "%s: [sks] crl_check = no: activations do not check CRLs and revoked "
                 "certificates keep signing",
                 cfg->path);
    st = sks_keystore_open(d->tok, &kcfg, &d->ks, err);
    X509_STORE_free(kcfg.roots);
    return st;
}

/*
 * What a killed writer (sksd itself, sksctl) left goes before sksd serves:
 * the sweep sksctl runs before each change.  Signing does not depend on it,
 * so a failure is logged and the start goes on.
 */
static void sweep_at_start(struct sksd *d)
{
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_keystore_sweep(d->ks, time(NULL), &err) != SKS_OK)
        sksd_log(SKSD_LOG_WARNING, "start-up sweep: %s; sksctl sweep runs it again", err.msg);
}

/* ---- reload --------------------------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What SIGHUP cannot change: the sockets and the token stay as they started. */
static void warn_fixed(const struct sksd_conf *old, const struct sksd_conf *new)
{
    if (memcmp(&old->signing, &new->signing, sizeof(old->signing)) != 0 ||
        memcmp(&old->import_tls, &new->import_tls, sizeof(old->import_tls)) != 0 ||
        !same_str(old->import_socket, new->import_socket) ||
        !same_str(old->tls_cert, new->tls_cert) || !same_str(old->tls_key, new->tls_key) ||
        old->connection_limit != new->connection_limit || old->threads != new->threads ||
        old->connection_timeout != new->connection_timeout)
        sksd_log(SKSD_LOG_WARNING, "reload: listener settings changed; they apply after a restart");
    if (old->hsm_sessions != new->hsm_sessions)
        sksd_log(SKSD_LOG_WARNING, "reload: hsm_sessions changed; it applies after a restart");
    if (!same_str(old->store.pkcs11_module, new->store.pkcs11_module) ||
        !same_str(old->store.module_env_section, new->store.module_env_section) ||
        !same_str(old->store.token, new->store.token) ||
        !same_str(old->store.pin_file, new->store.pin_file) ||
        !same_str(old->store.trust_anchors, new->store.trust_anchors) ||
        old->store.crl_check != new->store.crl_check ||
        !same_str(old->store.crl_ca_file, new->store.crl_ca_file) ||
        old->store.crl_allow_private != new->store.crl_allow_private ||
        old->store.crl_max_bytes != new->store.crl_max_bytes)
        sksd_log(SKSD_LOG_WARNING, "reload: [sks] changed; the token, trust anchors and CRL "
                                   "settings apply after a restart");
    if (old->verify.enabled != new->verify.enabled ||
        !same_str(old->verify.trust, new->verify.trust) ||
        !same_str(old->verify.x5u_ca_file, new->verify.x5u_ca_file) ||
        old->verify.x5u_allow_private != new->verify.x5u_allow_private ||
        old->verify.crl_check != new->verify.crl_check ||
        old->verify.max_age != new->verify.max_age || old->verify.threads != new->verify.threads ||
        old->verify.fetch.max_bytes != new->verify.fetch.max_bytes ||
        old->verify.fetch.connect_timeout_ms != new->verify.fetch.connect_timeout_ms ||
        old->verify.fetch.timeout_ms != new->verify.fetch.timeout_ms ||
        memcmp(&old->verify.cache, &new->verify.cache, sizeof(old->verify.cache)) != 0 ||
        old->verify.crl_max_bytes != new->verify.crl_max_bytes ||
        memcmp(&old->verify.crl_cache, &new->verify.crl_cache, sizeof(old->verify.crl_cache)) != 0)
        sksd_log(SKSD_LOG_WARNING, "reload: [verify] changed; its queue and timeout_ms apply now, "
                                   "the rest after a restart");
}

static void reload(struct sksd *d)
{
    struct sksd_conf *conf = NULL, *old;
    struct sks_error err;

    notify("RELOADING=1");
    sks_error_clear(&err);
    if (sksd_conf_load(d->conf->store.path, &conf, &err) != SKS_OK) {
        sksd_log(SKSD_LOG_ERR, "reload refused, the running configuration stays: %s", err.msg);
        notify("READY=1");
        return;
    }
    warn_fixed(d->conf, conf);
    pthread_rwlock_wrlock(&d->conf_lock);
    old = d->conf;
    d->conf = conf;
    pthread_rwlock_unlock(&d->conf_lock);
    sksd_pool_reload(d->signer, conf);
    sksd_pool_reload(d->verifier, conf);
    sksd_conf_free(old);
    sksd_log(SKSD_LOG_INFO, "configuration reloaded from %s (%zu TN prefixes, default %s)",
             conf->store.path, conf->nroutes,
             conf->default_identity[0] != '\0' ? conf->default_identity : "none");
    notify("READY=1");
}

/* ---- main ----------------------------------------------------------------------------- */

/* 1,000 idle clients need 1,000 descriptors: take what the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int parse_args(int argc, char **argv, const char **config, bool *check)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *config = optarg;
            break;
        case 't':
            *check = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("sksd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

static void wait_for_signals(struct sksd *d, const sigset_t *set)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);

        if (sig == SIGHUP) {
            reload(d);
        } else if (sig == SIGTERM || sig == SIGINT) {
            sksd_log(SKSD_LOG_INFO, "%s: draining in-flight requests",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            notify("STOPPING=1");
            return;
        }
    }
}

static void shutdown_all(struct sksd *d)
{
    sksd_http_stop(d);
    sksd_crl_watch_stop(d);
    sks_keystore_close(d->ks);
    if (d->crl_cache != NULL)
        sks_fetch_cache_free(d->crl_cache);
    free(d->crl_ca_file);
    p11_token_put(d->tok);
    sksd_conf_free(d->conf);
    pthread_rwlock_destroy(&d->conf_lock);
}

int main(int argc, char **argv)
{
    static struct sksd d;
    const char *config = SKS_CONFIG_DEFAULT;
    struct sks_error err;
    bool check = false;
    sigset_t set;
    int rc;

    rc = parse_args(argc, argv, &config, &check);
    if (rc >= 0)
        return rc;
    sks_error_clear(&err);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Before any thread exists, so that every thread inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    raise_fd_limit();
    pthread_rwlock_init(&d.conf_lock, NULL);
    if (sksd_conf_load(config, &d.conf, &err) != SKS_OK || open_keystore(&d, &err) != SKS_OK)
        goto err;
    if (check) {
        /* The verification API's roots are read as a start would read them. */
        if (d.conf->verify.enabled && sksd_verify_setup(&d, &err) != SKS_OK)
            goto err;
        printf("sksd: %s is valid and the token %s is ready\n", config, p11_token_uri(d.tok));
        shutdown_all(&d);
        return 0;
    }
    sweep_at_start(&d);
    if (sksd_http_start(&d, &err) != SKS_OK || sksd_crl_watch_start(&d, &err) != SKS_OK)
        goto err;
    notify("READY=1");
    sksd_log(SKSD_LOG_INFO, "ready: token %s", p11_token_uri(d.tok));
    wait_for_signals(&d, &set);
    sksd_http_drain(&d);
    shutdown_all(&d);
    sksd_log(SKSD_LOG_INFO, "stopped");
    return 0;
err:
    sksd_log(SKSD_LOG_ERR, "%s", err.msg);
    shutdown_all(&d);
    return sks_exit_code(err.status);
}
