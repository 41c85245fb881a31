/*
 * Listeners of sksd: the sockets, and the three libmicrohttpd daemons that
 * serve them (sksd_route_request() answers on each).
 *
 * Signing listener: a pool of epoll worker threads, one per core, that
 * read requests and send answers; the token signs on the signer pool
 * (pool.c) while the connection is suspended, and so do verifications.
 * Hostile clients: idle and slow connections are closed after the
 * connection timeout; the connection count and the memory each may use are
 * bounded.  None of them holds a worker.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sksd/sksd.h"

#define LISTEN_BACKLOG 1024
/* The import API over TLS: 1.2 and 1.3 only. */
#define SKSD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sksd_log(SKSD_LOG_WARNING, "http: %s", msg);
}

static void describe(const struct sockaddr *sa, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else {
        snprintf(out, size, "?");
    }
}

static sks_status listen_tcp(const struct sksd_listen *where, const char *what, int *out,
                             struct sks_error *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    char port[8], name[INET6_ADDRSTRLEN + 8];
    const char *host = strcmp(where->host, "*") == 0 ? NULL : where->host;
    int fd = -1, one = 1, rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", where->port);
    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        return sks_fail(err, SKS_ERR_INPUT, "%s: cannot resolve %s: %s", what, where->host,
                        gai_strerror(rc));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return sks_fail(err, SKS_ERR_SYSTEM, "%s: cannot listen on %s:%u: %s", what, where->host,
                        where->port, strerror(e));
    }
    freeaddrinfo(ai);
    describe((struct sockaddr *)&bound, name, sizeof(name));
    /* Tests and operators read the port from this line when they asked for port 0. */
    sksd_log(SKSD_LOG_INFO, "%s listening on %s", what, name);
    *out = fd;
    return SKS_OK;
}

/*
 * World-connectable on purpose: the uid allow-list decides, so that every
 * refused attempt reaches the audit log rather than dying at connect().
 */
static sks_status listen_unix(const char *path, int *out, struct sks_error *err)
{
    struct sockaddr_un sun = {0};
    struct stat st;
    int fd;

    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return sks_fail(err, SKS_ERR_INPUT,
                            "import socket %s exists and is not a socket: remove it or choose "
                            "another path",
                            path);
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, 0666) != 0 ||
        listen(fd, 64) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot listen on import socket %s: %s", path,
                        strerror(e));
    }
    sksd_log(SKSD_LOG_INFO, "import API listening on unix:%s", path);
    *out = fd;
    return SKS_OK;
}

/* ---- starting and stopping --------------------------------------------------------- */

static unsigned int worker_threads(const struct sksd_conf *conf)
{
    long n;

    if (conf->threads > 0)
        return conf->threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned int)n : 1;
}

static sks_status start_signing(struct sksd *d, struct sks_error *err)
{
    const struct sksd_conf *conf = d->conf;
    unsigned int threads = worker_threads(conf);
    int fd;

    if (listen_tcp(&conf->signing, "signing API", &fd, err) != SKS_OK)
        return SKS_ERR_SYSTEM;
    d->listener[SKSD_LISTEN_SIGNING] = (struct sksd_listener){d, SKSD_LISTEN_SIGNING};
    d->signing = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, sksd_route_request, &d->listener[SKSD_LISTEN_SIGNING],
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, conf->connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, conf->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        conf->connection_memory, MHD_OPTION_NOTIFY_COMPLETED, sksd_route_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, sksd_route_connection, NULL, MHD_OPTION_END);
    if (d->signing == NULL) {
        close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "libmicrohttpd could not start the signing API");
    }
    sksd_log(SKSD_LOG_INFO, "signing API: %u worker threads, up to %u connections", threads,
             conf->connection_limit);
    return SKS_OK;
}

static sks_status start_import_tls(struct sksd *d, struct sks_error *err)
{
    const struct sksd_conf *conf = d->conf;
    struct sksd_tls_files f;
    sks_status st;
    int fd = -1;

    if ((st = sksd_tls_read(conf, &f, err)) != SKS_OK ||
        (st = sksd_client_ca_load(conf->tls_client_ca, &d->client_ca, err)) != SKS_OK ||
        (st = listen_tcp(&conf->import_tls, "import API (TLS)", &fd, err)) != SKS_OK)
        goto done;
    d->listener[SKSD_LISTEN_IMPORT_TLS] = (struct sksd_listener){d, SKSD_LISTEN_IMPORT_TLS};
    d->import_tls = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TLS |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, sksd_route_request, &d->listener[SKSD_LISTEN_IMPORT_TLS],
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_HTTPS_MEM_CERT, f.cert, MHD_OPTION_HTTPS_MEM_KEY, f.key,
        MHD_OPTION_HTTPS_MEM_TRUST, f.ca, MHD_OPTION_HTTPS_PRIORITIES, SKSD_TLS_PRIORITIES,
        MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT, conf->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, sksd_route_completed, NULL, MHD_OPTION_END);
    if (d->import_tls == NULL) {
        close(fd);
        st = sks_fail(err, SKS_ERR_INPUT,
                      "libmicrohttpd could not start the TLS import API: check %s and %s",
                      conf->tls_cert, conf->tls_key);
    }
done:
    sksd_tls_free(&f);
    return st;
}

static sks_status start_import_unix(struct sksd *d, struct sks_error *err)
{
    int fd;

    if (listen_unix(d->conf->import_socket, &fd, err) != SKS_OK)
        return SKS_ERR_SYSTEM;
    snprintf(d->unix_path, sizeof(d->unix_path), "%s", d->conf->import_socket);
    d->listener[SKSD_LISTEN_IMPORT_UNIX] = (struct sksd_listener){d, SKSD_LISTEN_IMPORT_UNIX};
    d->import_unix = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, sksd_route_request, &d->listener[SKSD_LISTEN_IMPORT_UNIX], MHD_OPTION_LISTEN_SOCKET,
        fd, MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_CONNECTION_TIMEOUT,
        d->conf->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED, sksd_route_completed, NULL,
        MHD_OPTION_END);
    if (d->import_unix == NULL) {
        close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "libmicrohttpd could not start the import socket");
    }
    return SKS_OK;
}

sks_status sksd_http_start(struct sksd *d, struct sks_error *err)
{
    if (sksd_pool_start(d, SKSD_POOL_SIGN, &d->signer, err) != SKS_OK)
        return err->status;
    if (d->conf->verify.enabled &&
        (sksd_verify_setup(d, err) != SKS_OK ||
         sksd_pool_start(d, SKSD_POOL_VERIFY, &d->verifier, err) != SKS_OK))
        return err->status;
    if (start_signing(d, err) != SKS_OK)
        return err->status;
    if (d->conf->tls_cert != NULL && start_import_tls(d, err) != SKS_OK)
        return err->status;
    if (d->conf->import_socket != NULL && start_import_unix(d, err) != SKS_OK)
        return err->status;
    return SKS_OK;
}

static void quiesce(struct MHD_Daemon *daemon)
{
    MHD_socket fd;

    if (daemon == NULL)
        return;
    fd = MHD_quiesce_daemon(daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void sksd_http_drain(struct sksd *d)
{
    unsigned long long deadline;
    unsigned int secs;

    pthread_rwlock_rdlock(&d->conf_lock);
    secs = d->conf->drain_seconds;
    pthread_rwlock_unlock(&d->conf_lock);
    atomic_store(&d->draining, true);
    quiesce(d->signing);
    quiesce(d->import_tls);
    quiesce(d->import_unix);
    deadline = sksd_now_ns() + (unsigned long long)secs * 1000000000ULL;
    while (atomic_load(&d->inflight) > 0 && sksd_now_ns() < deadline)
        usleep(10 * 1000);
    if (atomic_load(&d->inflight) > 0)
        sksd_log(SKSD_LOG_WARNING, "%ld requests still in flight after %u s: stopping anyway",
                 atomic_load(&d->inflight), secs);
    sksd_pool_stop(d->signer, deadline);
    sksd_pool_stop(d->verifier, deadline);
}

void sksd_http_stop(struct sksd *d)
{
    /* Without a drain (a failed start): the workers get no time. */
    sksd_pool_stop(d->signer, 0);
    sksd_pool_stop(d->verifier, 0);
    if (d->signing != NULL)
        MHD_stop_daemon(d->signing);
    if (d->import_tls != NULL)
        MHD_stop_daemon(d->import_tls);
    if (d->import_unix != NULL)
        MHD_stop_daemon(d->import_unix);
    d->signing = d->import_tls = d->import_unix = NULL;
    if (d->unix_path[0] != '\0')
        unlink(d->unix_path);
    d->unix_path[0] = '\0';
    X509_STORE_free(d->client_ca);
    d->client_ca = NULL;
    sksd_pool_free(&d->signer);
    /* A verifier left behind still uses the cache: the process is exiting. */
    sksd_pool_free(&d->verifier);
    if (d->verifier == NULL)
        sksd_verify_teardown(d);
}
