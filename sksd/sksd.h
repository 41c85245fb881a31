/*
 * sksd: the STI-AS signing daemon of shaken-sks.
 *
 * Three HTTP listeners (libmicrohttpd):
 *   - signing: POST /stir/v1/signing (ATIS-1000082), /healthz and /metrics,
 *     and POST /stir/v1/verification (the STI-VS) when [verify] is set;
 *   - import over TLS with client certificates, and
 *   - import over a Unix socket with SO_PEERCRED: the SP-KMS API that puts
 *     keys into the key store (keystore/keystore.h).
 * The import API is never served on the signing port.
 */
#ifndef SKS_SKSD_H
#define SKS_SKSD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "fetch/cache.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"
#include "shaken/passport.h"
#include "verify/verify.h"

/* ---- configuration (conf.c) ------------------------------------------------ */

/* One entry of the orig TN prefix map: calls from |prefix|... sign as |identity|. */
struct sksd_route {
    char prefix[SKS_TN_MAX + 1];
    char identity[SKS_IDENTITY_NAME_MAX + 1];
};

struct sksd_listen {
    char host[256]; /* empty: not configured */
    unsigned short port;
};

/*
 * How the signing API writes an error: {"error":{"code","field","message"}},
 * or {"signingResponse":{"code","message"}} as vesper does.
 */
enum sksd_error_body { SKSD_ERRORS_ATIS, SKSD_ERRORS_VESPER };

/* [verify]: the verification API, its certificate fetching and cache. */
struct sksd_verify_conf {
    bool enabled;                /* [sksd] verify names a section */
    char *trust;                 /* STI-PA roots, PEM; NULL: [sks] trust_anchors */
    char *x5u_ca_file;           /* TLS roots of x5u servers; NULL: the system's */
    bool x5u_allow_private;      /* x5u may reach loopback and private addresses */
    bool crl_check;              /* hold every certificate that names a CRL to it */
    long max_age;                /* seconds iat may lie from the request's time */
    struct sks_fetch_opts fetch; /* its ca_file and allow_private come from the above */
    struct sks_fetch_cache_opts cache;
    size_t crl_max_bytes; /* a CRL's body, at most; the rest of its fetch is |fetch|'s */
    /* The CRL cache: its own entries and bytes, the TTL bounds of |cache|. */
    struct sks_fetch_cache_opts crl_cache;
    unsigned int threads; /* verifying at once */
    size_t queue;         /* verification requests waiting for a thread, at most */
    long timeout_ms;      /* from arrival to answer, at most */
};

struct sksd_conf {
    /* [sks]: the token and the trust anchors, as sksctl reads them. */
    struct sks_config store;

    /* Listeners. */
    struct sksd_listen signing;
    struct sksd_listen import_tls;
    char *tls_cert, *tls_key, *tls_client_ca;
    char **allowed_subjects; /* RFC 2253 subject names */
    size_t nallowed_subjects;
    char *import_socket;
    uid_t *allowed_uids;
    size_t nallowed_uids;

    /* Identities. */
    char default_identity[SKS_IDENTITY_NAME_MAX + 1]; /* empty: none */
    struct sksd_route *routes;                        /* longest prefix first */
    size_t nroutes;

    /* Limits. */
    size_t max_body;        /* signing request body, bytes */
    size_t max_import_body; /* import request body, bytes */
    unsigned int connection_limit;
    unsigned int connection_timeout; /* seconds of inactivity */
    size_t connection_memory;        /* per connection, bytes */
    unsigned int threads;            /* HTTP worker threads of the signing listener */
    unsigned int hsm_sessions;       /* token sessions signing at once; 0: chosen */
    size_t sign_queue;               /* signing requests waiting for a session, at most */
    long sign_timeout_ms;            /* from arrival to signature, at most */
    long key_max_age_ms;             /* how stale a cached active key may be */
    unsigned int drain_seconds;      /* SIGTERM: how long in-flight requests get */
    unsigned int retry_after;        /* seconds, on 503 */

    /* Compatibility. */
    enum sksd_error_body error_body; /* the signing API's error bodies */

    struct sksd_verify_conf verify;

    /* The CRL watch of active certificates (crlwatch.c); [sks] crl_check turns it off. */
    long crl_check_interval; /* seconds between rounds; 0: no watch */
    long crl_stale_max;      /* seconds past a CRL's nextUpdate its last good verdict stands */
};

/* Reads |path|; every error names the section, the key and the value. */
sks_status sksd_conf_load(const char *path, struct sksd_conf **out, struct sks_error *err);
void sksd_conf_free(struct sksd_conf *conf);
/*
 * The identity that signs for |orig| (canonical TN) when the request names
 * none: the longest matching prefix, else the default.  NULL when neither.
 */
const char *sksd_conf_route(const struct sksd_conf *conf, const char *orig);

/* ---- metrics (metrics.c) ---------------------------------------------------- */

enum sksd_api {
    SKSD_API_SIGNING,
    SKSD_API_VERIFICATION,
    SKSD_API_IMPORT,
    SKSD_API_OTHER,
    SKSD_API_COUNT
};

/* Upper bounds of the signing-latency histogram, in microseconds. */
#define SKSD_LATENCY_BUCKETS 14
#define SKSD_STATUS_SLOTS 16

struct sksd_histogram {
    atomic_ulong bucket[SKSD_LATENCY_BUCKETS + 1]; /* last: +Inf */
    atomic_ullong sum_ns;
};

struct sksd_metrics {
    atomic_ulong requests[SKSD_API_COUNT][SKSD_STATUS_SLOTS];
    struct sksd_histogram signing; /* arrival to answer */
    struct sksd_histogram hsm;     /* one token signature (C_Sign and what precedes it) */
    atomic_ulong hsm_errors;
    atomic_ulong signatures;
    atomic_ulong sign_rejected;      /* the queue was full */
    atomic_ulong sign_timeouts;      /* not signed within sign_timeout_ms */
    struct sksd_histogram verifying; /* arrival to answer */
    atomic_ulong verstat[3];         /* answers by verstat: passed, failed, none */
    atomic_ulong verify_rejected;    /* the queue was full */
    atomic_ulong verify_timeouts;    /* not answered within [verify] timeout_ms */
};

void sksd_metrics_request(struct sksd_metrics *m, enum sksd_api api, unsigned int status);
void sksd_metrics_observe(struct sksd_histogram *h, unsigned long long ns);

/* ---- the daemon ------------------------------------------------------------ */

enum sksd_listener_kind { SKSD_LISTEN_SIGNING, SKSD_LISTEN_IMPORT_TLS, SKSD_LISTEN_IMPORT_UNIX };

/* What libmicrohttpd hands the request handler of each listener. */
struct sksd_listener {
    struct sksd *d;
    enum sksd_listener_kind kind;
};

struct sksd {
    pthread_rwlock_t conf_lock; /* guards |conf|, swapped by SIGHUP */
    struct sksd_conf *conf;

    struct p11_token *tok;
    struct sks_keystore *ks;

    struct MHD_Daemon *signing;
    struct MHD_Daemon *import_tls;
    struct MHD_Daemon *import_unix;
    char unix_path[108];              /* the import socket this process made, removed on exit */
    X509_STORE *client_ca;            /* import TLS: the CA that issues SP-KMS certificates */
    struct sksd_listener listener[3]; /* by enum sksd_listener_kind */

    struct sksd_pool *signer;
    struct sksd_pool *verifier;       /* NULL without [verify] */
    struct sksd_verify_state *vstate; /* the x5u cache and roots; NULL without [verify] */

    /* The CRLs of the signing side: activations and the CRL watch ([sks] crl_*). */
    char *crl_ca_file; /* crl_fetch.ca_file points here: the configuration may be swapped */
    struct sks_fetch_opts crl_fetch;
    struct sks_fetch_cache *crl_cache; /* NULL: crl_check = no */
    struct sks_crl_source crl_source;
    struct sksd_crl_watch *crlwatch; /* NULL: not watching */

    struct sksd_metrics metrics;
    atomic_long inflight; /* requests received and not yet answered */
    atomic_bool draining;
};

/* Identity signing (signing.c). */
struct sksd_sign_result {
    struct sks_error err; /* status, code, the request member at fault and the message */
    char identity[SKS_IDENTITY_MAX + 1];
    size_t identity_len;
    /* "rcdPassport": true: the ppt=rcd PASSporT's Identity header (0 bytes without). */
    const char *rcd_identity;
    size_t rcd_identity_len;
};

/*
 * Signs the signing request |body| (|len| bytes of JSON) with the active
 * key of |identity| (NULL: choose by the orig TN).  Returns SKS_OK with the
 * Identity header in |res|, or the failure in |res->err|.  A request for a
 * separate ppt=rcd PASSporT writes its header into |*extra|, allocated
 * there (SKS_IDENTITY_MAX + 1 bytes) on first use and the caller's to free:
 * requests without one allocate nothing.
 */
sks_status sksd_sign_request(struct sksd *d, const char *body, size_t len, const char *identity,
                             char **extra, struct sksd_sign_result *res);

/* Identity verification (verification.c). */
struct sksd_verification {
    struct sks_error err; /* a request the API refuses (400), or the verifier's failure */
    bool judged;          /* the PASSporT was judged: |set.res| holds the outcome */
    bool several;         /* identity was an array: the call's values judged as a set */
    struct sks_verify_set set;
};

/*
 * Verifies the verificationRequest |body| (|len| bytes of JSON).  A body
 * the API cannot read fails in |out->err| (400 with a stable code);
 * otherwise |out->judged| and |out->res| say what the PASSporT is worth.
 * Without |wait| it never blocks: false when the answer needs an x5u
 * fetched first (then ask again with |wait|, on the verification pool).
 */
bool sksd_verify_request(struct sksd *d, const char *body, size_t len, bool wait,
                         struct sksd_verification *out);
/*
 * Sets |pp|'s rcdi (a signingRequest's "rcdi": true) to the digests of what
 * its rcd points at, fetched through [verify]'s guarded fetcher into the
 * Rich Call Data cache verification uses, waiting for it.  Fails without
 * [verify] (422 rcdi-not-configured), with invalid-rcd for an rcd that
 * points at nothing, and with 422 rcd-content-unavailable naming the URL
 * when content cannot be had.
 */
sks_status sksd_rcdi_compute(struct sksd *d, struct sks_passport *pp, struct sks_error *err);
/* The x5u and CRL caches and trust roots of [verify]; nothing without it. */
sks_status sksd_verify_setup(struct sksd *d, struct sks_error *err);
void sksd_verify_teardown(struct sksd *d);
/* The x5u cache's and the CRL cache's figures (zero without); false when CRLs are not checked. */
bool sksd_verify_cache_stats(struct sksd *d, struct sks_fetch_cache_stats *x5u,
                             struct sks_fetch_cache_stats *crl);

/* ---- the worker pools (pool.c) ---------------------------------------------- */

/*
 * A job: the request body and, once answered, the response, in one buffer
 * that a keep-alive connection reuses from request to request, whichever
 * pool it goes to.
 */
struct sksd_job;

/* A job whose buffer holds |cap| bytes of body and then |response| bytes. */
struct sksd_job *sksd_job_new(size_t cap, size_t response);
char *sksd_job_body(struct sksd_job *j);
size_t sksd_job_cap(const struct sksd_job *j);
/* The connection lets its job go (it closes): freed now, or by its worker. */
void sksd_job_put(struct sksd_job *j);

enum sksd_pool_kind { SKSD_POOL_SIGN, SKSD_POOL_VERIFY };
struct sksd_pool;

/*
 * Starts a pool and its deadline thread: for signing, hsm_sessions threads
 * (clamped to what the token allows); for verification, [verify] threads.
 * |*out| is set even on failure, for sksd_pool_stop() and sksd_pool_free().
 */
sks_status sksd_pool_start(struct sksd *d, enum sksd_pool_kind kind, struct sksd_pool **out,
                           struct sks_error *err);
/* SIGHUP: the new queue length applies to the next request; threads after a restart. */
void sksd_pool_reload(struct sksd_pool *p, const struct sksd_conf *conf);
/*
 * Answers every waiting job with a timeout and stops the threads; a worker
 * stuck in the token or a fetch is waited for until |deadline_ns|
 * (sksd_now_ns time), then left behind.  sksd_pool_free() after the
 * listeners stopped.
 */
void sksd_pool_stop(struct sksd_pool *p, unsigned long long deadline_ns);
void sksd_pool_free(struct sksd_pool **p);

enum sksd_submit { SKSD_SUBMIT_QUEUED, SKSD_SUBMIT_FULL, SKSD_SUBMIT_STOPPING };
/*
 * Queues |j| (its first |body_len| bytes are the request) on |p|, to be
 * signed as |identity| (NULL: by the orig TN; verification: ignored),
 * suspending |c| until it is done or its deadline passes.  FULL and
 * STOPPING leave |c| running: answer 503.
 */
enum sksd_submit sksd_pool_submit(struct sksd_pool *p, struct sksd_job *j, struct MHD_Connection *c,
                                  const char *identity, size_t body_len);

enum sksd_job_outcome { SKSD_JOB_DONE, SKSD_JOB_TIMED_OUT };
/*
 * After |c| was resumed: DONE with the result in sksd_job_sign_result() or
 * sksd_job_verification(), or TIMED_OUT.  A job timed out while its worker
 * still has it is let go: |*j| becomes NULL.
 */
enum sksd_job_outcome sksd_job_outcome(struct sksd_job **j);
const struct sksd_sign_result *sksd_job_sign_result(const struct sksd_job *j);
const struct sksd_verification *sksd_job_verification(const struct sksd_job *j);

struct sksd_pool_gauges {
    unsigned int sessions, busy;
    size_t queued, depth;
};
void sksd_pool_gauges(struct sksd_pool *p, struct sksd_pool_gauges *g);

/* ---- requests --------------------------------------------------------------- */

/* Who is calling the import API, for the audit log. */
struct sksd_peer {
    char who[320];
};

/* What one request carries between libmicrohttpd's calls of the handler. */
struct sksd_req {
    struct sksd *d;
    unsigned int route;
    unsigned int status; /* the status queued, 0 before */
    bool answered;       /* a response is queued already: drop whatever body follows */
    enum sksd_api api;
    char *body; /* |body_cap| bytes; for signing, the connection's buffer */
    size_t body_len;
    size_t body_cap;
    size_t discarded; /* bytes past the limit, read and dropped */
    bool too_big;
    bool close;     /* the answer closes the connection: the rest of the request is not read */
    bool heap;      /* this struct and |body| belong to this request alone */
    bool submitted; /* signing, verification: the job is with its pool */
    unsigned long long t0_ns;
    struct sksd_peer peer; /* import API: the authenticated caller */
};

/* ---- replies (reply.c): the one place a failure becomes an HTTP status ---- */

/* The HTTP status of a library failure. */
unsigned int sksd_http_status(sks_status st);
/*
 * Queues |resp| (NULL: out of memory) with the request ID echoed and
 * records the status in |r|; Connection: close when the request asks it.
 */
enum MHD_Result sksd_reply_queue(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                 struct MHD_Response *resp);
/* A JSON response; takes the reference to |body|.  503 gets Retry-After. */
enum MHD_Result sksd_reply_json(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                json_t *body);
/* {"error":{"code":...,"field":...,"message":...}}: an HTTP-level refusal (413, 415, ...). */
enum MHD_Result sksd_reply_error(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                 const char *code, const char *field, const char *message);
enum MHD_Result sksd_reply_errorf(struct sksd_req *r, struct MHD_Connection *c, unsigned int status,
                                  const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The error body of a library failure: its status, code, field and message as they are. */
enum MHD_Result sksd_reply_failure(struct sksd_req *r, struct MHD_Connection *c,
                                   const struct sks_error *err);
/* 405 with Allow. */
enum MHD_Result sksd_reply_method_not_allowed(struct sksd_req *r, struct MHD_Connection *c,
                                              const char *method, const char *url,
                                              const char *allow);

/* ---- what a request may be (negotiate.c, body.c) --------------------------- */

/* |value| (a Content-Type) is the media type |type|, parameters aside. */
bool sksd_media_type_is(const char *value, const char *type);
/* Accept is absent or admits application/json. */
bool sksd_accepts_json(struct MHD_Connection *c);
/* Content-Length over |max|: refuse before reading a byte of the body. */
bool sksd_body_declared_too_big(struct MHD_Connection *c, size_t max);
/* Returns false when the client keeps streaming far past the limit: cut it off. */
bool sksd_body_take(struct sksd_req *r, const char *data, size_t len);
/* 413; the body is left unread and the connection closes after the answer. */
enum MHD_Result sksd_body_too_big(struct sksd_req *r, struct MHD_Connection *c, size_t max);
/*
 * Refuses (400, then close) a request whose body length two parsers could
 * read differently; true when it queued the refusal (|*ret|).
 */
bool sksd_body_framing_refused(struct sksd_req *r, struct MHD_Connection *c, enum MHD_Result *ret);

/* ---- routing (route.c): libmicrohttpd's callbacks ---------------------------- */

/* MHD_AccessHandlerCallback; |cls| is the struct sksd_listener. */
enum MHD_Result sksd_route_request(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **req_cls);
void sksd_route_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe);
/* The signing listener's per-connection buffer. */
void sksd_route_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);

/* ---- listeners (listen.c, tls.c) ---------------------------------------------- */

sks_status sksd_http_start(struct sksd *d, struct sks_error *err);
/* Stops accepting, lets in-flight requests finish (up to drain_seconds). */
void sksd_http_drain(struct sksd *d);
void sksd_http_stop(struct sksd *d);

/* The import listener's certificate, key and client CA, read for GnuTLS. */
struct sksd_tls_files {
    char *cert, *key, *ca;
    size_t cert_len, key_len, ca_len;
};
sks_status sksd_tls_read(const struct sksd_conf *conf, struct sksd_tls_files *out,
                         struct sks_error *err);
/* Frees |f|, cleansing the key. */
void sksd_tls_free(struct sksd_tls_files *f);

/* ---- import API (import.c, auth.c) ------------------------------------------ */

/*
 * Authenticates the caller of an import request: a client certificate from
 * the configured CA with an allowed subject (TLS), or an allowed peer uid
 * (Unix socket).  On failure queues 401 or 403, writes the audit line and
 * returns false with the queue result in |*ret|.
 */
bool sksd_import_authenticate(struct sksd *d, struct MHD_Connection *c, bool tls,
                              struct sksd_peer *peer, struct sksd_req *r, enum MHD_Result *ret);
sks_status sksd_client_ca_load(const char *path, X509_STORE **out, struct sks_error *err);

/* Serves one authenticated import request with its complete body. */
enum MHD_Result sksd_import_handle(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                   const char *method, const char *url, const char *body,
                                   size_t len);

/* ---- health and metrics (metrics.c) ----------------------------------------- */

/* The Prometheus text of /metrics; NULL when out of memory. */
struct MHD_Response *sksd_metrics_response(struct sksd *d);
/* The status and JSON body of /healthz. */
unsigned int sksd_health(struct sksd *d, json_t **body);

/* ---- the CRL watch (crlwatch.c) ------------------------------------------------ */

/*
 * Starts the thread that re-checks the CRLs of every active certificate
 * (nothing with crl_check = no or crl_check_interval = 0).  Stop it before
 * the key store closes.
 */
sks_status sksd_crl_watch_start(struct sksd *d, struct sks_error *err);
void sksd_crl_watch_stop(struct sksd *d);
/* Its series of /metrics: per identity revoked or not, the last check's result and time. */
void sksd_crl_watch_metrics(struct sksd *d, FILE *f);

/* ---- logging (audit.c) ------------------------------------------------------- */

enum sksd_log_level { SKSD_LOG_ERR = 3, SKSD_LOG_WARNING = 4, SKSD_LOG_INFO = 6 };

void sksd_log(enum sksd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * One audit line: who did what to which identity and version, and the
 * result.  Never key material.  |version| 0 leaves it out.
 */
void sksd_audit(const struct sksd_peer *peer, const char *what, const char *identity,
                unsigned int version, const char *result, const char *detail);

unsigned long long sksd_now_ns(void);

#endif
