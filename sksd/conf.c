/*
 * sksd's configuration: the openssl.cnf-style (NCONF) file sksctl reads
 * (keystore/conf.h: [sks] says where the key store is), with sksd's own sections.
 *
 *   [sksd]
 *   listen      = 127.0.0.1:8080      signing API, /healthz, /metrics
 *   identities  = sksd_identities     section: default and TN prefixes
 *   limits      = sksd_limits         section: sizes, timeouts, threads
 *   import_tls  = sksd_import_tls     section: import API over TLS
 *   import_unix = sksd_import_unix    section: import API on a Unix socket
 *   verify      = sksd_verify         section: the verification API
 *   crl_check_interval = 3600         seconds between re-checks of active certificates' CRLs
 *   crl_stale_max = 86400             seconds past a CRL's nextUpdate its last verdict stands
 *
 * Every error names the section, the key and what is wrong with the value.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/err.h>

#include "sksd/sksd.h"
#include "shaken/tn.h"
#include "verify/x5u.h"

#define SKSD_SECTION "sksd"

#define MAX_ROUTES 4096
#define MAX_ALLOWED 256

struct conf_reader {
    CONF *cnf;
    const char *path;
};

static const char *get(const struct conf_reader *r, const char *section, const char *key)
{
    const char *v = NCONF_get_string(r->cnf, section, key);

    /* NCONF_get_string queues an error for a missing key: that is no error here. */
    ERR_clear_error();
    return v;
}

static sks_status dup_opt(const struct conf_reader *r, const char *section, const char *key,
                          char **out, struct sks_error *err)
{
    const char *v = get(r, section, key);

    *out = NULL;
    if (v == NULL)
        return SKS_OK;
    *out = strdup(v);
    if (*out == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    return SKS_OK;
}

/* A file named relative to the configuration file's directory, as [sks] does. */
static sks_status dup_path(const struct conf_reader *r, const char *section, const char *key,
                           char **out, struct sks_error *err)
{
    const char *v = get(r, section, key), *slash = strrchr(r->path, '/');
    size_t dlen = slash != NULL ? (size_t)(slash - r->path) : 1;

    *out = NULL;
    if (v == NULL || v[0] == '/')
        return dup_opt(r, section, key, out, err);
    *out = malloc(dlen + 1 + strlen(v) + 1);
    if (*out == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    snprintf(*out, dlen + 1 + strlen(v) + 1, "%.*s/%s", (int)dlen, slash != NULL ? r->path : ".",
             v);
    return SKS_OK;
}

static sks_status bad_value(const struct conf_reader *r, const char *section, const char *key,
                            const char *value, const char *want, struct sks_error *err)
{
    return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] %s = \"%.64s\": %s", r->path, section, key, value,
                    want);
}

/* An unsigned decimal in [min, max]; |*out| keeps its default when the key is absent. */
static sks_status get_ulong(const struct conf_reader *r, const char *section, const char *key,
                            unsigned long min, unsigned long max, unsigned long *out,
                            struct sks_error *err)
{
    const char *v = section != NULL ? get(r, section, key) : NULL;
    char *end;
    unsigned long n;

    if (v == NULL)
        return SKS_OK;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0 || n < min || n > max) {
        char want[96];

        snprintf(want, sizeof(want), "expected a whole number from %lu to %lu", min, max);
        return bad_value(r, section, key, v, want, err);
    }
    *out = n;
    return SKS_OK;
}

/*
 * get_ulong() into |lvalue| (of any unsigned or long type) of section
 * |section|, returning from the reader on a bad value; needs |r| and |err|.
 */
#define LIMIT(section, key, min, max, lvalue)                                                      \
    do {                                                                                           \
        unsigned long v_ = (unsigned long)(lvalue);                                                \
        if (get_ulong(r, section, key, min, max, &v_, err) != SKS_OK)                              \
            return SKS_ERR_INPUT;                                                                  \
        (lvalue) = v_;                                                                             \
    } while (0)

/* "host:port", "[v6]:port" or "*:port" (all addresses). */
static sks_status parse_listen(const struct conf_reader *r, const char *section, const char *key,
                               struct sksd_listen *out, struct sks_error *err)
{
    const char *v = get(r, section, key), *colon, *host;
    size_t hlen;
    char *end;
    unsigned long port;

    memset(out, 0, sizeof(*out));
    if (v == NULL)
        return SKS_OK;
    colon = strrchr(v, ':');
    if (colon == NULL || colon == v)
        return bad_value(r, section, key, v, "expected ADDRESS:PORT, e.g. 127.0.0.1:8080", err);
    host = v;
    hlen = (size_t)(colon - v);
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return bad_value(r, section, key, v, "an IPv6 address needs brackets: [::1]:8080", err);
        host++;
        hlen -= 2;
    }
    if (hlen >= sizeof(out->host))
        return bad_value(r, section, key, v, "the address is too long", err);
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 || port > 65535)
        return bad_value(r, section, key, v, "the port must be a number from 0 to 65535", err);
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (unsigned short)port;
    return SKS_OK;
}

static int route_cmp(const void *a, const void *b)
{
    const struct sksd_route *x = a, *y = b;
    size_t lx = strlen(x->prefix), ly = strlen(y->prefix);

    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(x->prefix, y->prefix);
}

static sks_status add_route(const struct conf_reader *r, const char *section, const CONF_VALUE *cv,
                            struct sksd_conf *c, struct sks_error *err)
{
    struct sksd_route *rt;

    /* A prefix of canonical TNs is one itself: the TN rule of shaken/tn.h. */
    if (sks_tn_check_canonical(cv->name, NULL) != SKS_OK)
        return bad_value(r, section, cv->name, cv->value,
                         "a key is \"default\" or a TN prefix of 1 to 15 digits, '#' or '*'", err);
    if (!sks_identity_name_ok(cv->value))
        return bad_value(
            r, section, cv->name, cv->value,
            "an identity name is 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", err);
    if (c->nroutes >= MAX_ROUTES)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] has more than %d TN prefixes", r->path,
                        section, MAX_ROUTES);
    rt = &c->routes[c->nroutes++];
    strcpy(rt->prefix, cv->name);
    strcpy(rt->identity, cv->value);
    return SKS_OK;
}

static sks_status read_identities(const struct conf_reader *r, struct sksd_conf *c,
                                  struct sks_error *err)
{
    const char *section = get(r, SKSD_SECTION, "identities");
    STACK_OF(CONF_VALUE) * sk;
    int i, n;

    if (section == NULL)
        return SKS_OK;
    sk = NCONF_get_section(r->cnf, section);
    if (sk == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sksd] identities = %s: no such section", r->path,
                        section);
    n = sk_CONF_VALUE_num(sk);
    c->routes = calloc((size_t)n + 1, sizeof(*c->routes));
    if (c->routes == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    for (i = 0; i < n; i++) {
        const CONF_VALUE *cv = sk_CONF_VALUE_value(sk, i);

        if (strcmp(cv->name, "default") == 0) {
            if (!sks_identity_name_ok(cv->value))
                return bad_value(
                    r, section, cv->name, cv->value,
                    "an identity name is 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit",
                    err);
            strcpy(c->default_identity, cv->value);
        } else if (add_route(r, section, cv, c, err) != SKS_OK) {
            return SKS_ERR_INPUT;
        }
    }
    qsort(c->routes, c->nroutes, sizeof(*c->routes), route_cmp);
    return SKS_OK;
}

static sks_status read_limits(const struct conf_reader *r, struct sksd_conf *c,
                              struct sks_error *err)
{
    const char *s = get(r, SKSD_SECTION, "limits");

    if (s != NULL && NCONF_get_section(r->cnf, s) == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sksd] limits = %s: no such section", r->path, s);

    LIMIT(s, "max_body", 256, 1024 * 1024, c->max_body);
    LIMIT(s, "max_import_body", 4096, 16 * 1024 * 1024, c->max_import_body);
    LIMIT(s, "connection_limit", 16, 1000000, c->connection_limit);
    LIMIT(s, "connection_timeout", 1, 3600, c->connection_timeout);
    LIMIT(s, "connection_memory", 8192, 1024 * 1024, c->connection_memory);
    LIMIT(s, "threads", 0, 1024, c->threads);
    LIMIT(s, "hsm_sessions", 0, 1024, c->hsm_sessions);
    LIMIT(s, "sign_queue", 1, 100000, c->sign_queue);
    LIMIT(s, "sign_timeout_ms", 10, 60000, c->sign_timeout_ms);
    LIMIT(s, "key_max_age_ms", 0, 1000, c->key_max_age_ms);
    LIMIT(s, "drain_seconds", 0, 3600, c->drain_seconds);
    LIMIT(s, "retry_after", 1, 3600, c->retry_after);
    return SKS_OK;
}

static sks_status read_uids(const struct conf_reader *r, const char *section, struct sksd_conf *c,
                            struct sks_error *err)
{
    const char *v = get(r, section, "allowed_uids"), *p;

    if (v == NULL)
        return SKS_OK;
    c->allowed_uids = calloc(MAX_ALLOWED, sizeof(*c->allowed_uids));
    if (c->allowed_uids == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    for (p = v; *p != '\0';) {
        char *end;
        unsigned long uid;

        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        errno = 0;
        uid = strtoul(p, &end, 10);
        if (!isdigit((unsigned char)*p) || errno != 0 || uid >= (unsigned long)UINT_MAX ||
            (*end != '\0' && *end != ',' && *end != ' '))
            return bad_value(r, section, "allowed_uids", v,
                             "expected numeric uids separated by commas", err);
        if (c->nallowed_uids >= MAX_ALLOWED)
            return bad_value(r, section, "allowed_uids", v, "too many uids", err);
        c->allowed_uids[c->nallowed_uids++] = (uid_t)uid;
        p = end;
    }
    return SKS_OK;
}

static sks_status read_import_unix(const struct conf_reader *r, struct sksd_conf *c,
                                   struct sks_error *err)
{
    const char *s = get(r, SKSD_SECTION, "import_unix");

    if (s == NULL)
        return SKS_OK;
    if (NCONF_get_section(r->cnf, s) == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sksd] import_unix = %s: no such section", r->path,
                        s);
    if (dup_opt(r, s, "path", &c->import_socket, err) != SKS_OK ||
        read_uids(r, s, c, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (c->import_socket == NULL || c->import_socket[0] != '/')
        return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] path: the socket needs an absolute path",
                        r->path, s);
    if (strlen(c->import_socket) >= 108)
        return bad_value(r, s, "path", c->import_socket, "longer than a Unix socket path can be",
                         err);
    if (c->nallowed_uids == 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [%s] allowed_uids is missing: name the uids that may import keys",
                        r->path, s);
    return SKS_OK;
}

/* Keys "subject", "subject.1", "subject.2"...: one allowed client subject each. */
static sks_status read_subjects(const struct conf_reader *r, const char *section,
                                struct sksd_conf *c, struct sks_error *err)
{
    STACK_OF(CONF_VALUE) *sk = NCONF_get_section(r->cnf, section);
    int i;

    c->allowed_subjects = calloc(MAX_ALLOWED, sizeof(*c->allowed_subjects));
    if (c->allowed_subjects == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    for (i = 0; i < sk_CONF_VALUE_num(sk); i++) {
        const CONF_VALUE *cv = sk_CONF_VALUE_value(sk, i);

        if (strcmp(cv->name, "subject") != 0 && strncmp(cv->name, "subject.", 8) != 0)
            continue;
        if (c->nallowed_subjects >= MAX_ALLOWED)
            return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] has too many subjects", r->path, section);
        c->allowed_subjects[c->nallowed_subjects] = strdup(cv->value);
        if (c->allowed_subjects[c->nallowed_subjects++] == NULL)
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", r->path);
    }
    return SKS_OK;
}

static sks_status read_import_tls(const struct conf_reader *r, struct sksd_conf *c,
                                  struct sks_error *err)
{
    const char *s = get(r, SKSD_SECTION, "import_tls");

    if (s == NULL)
        return SKS_OK;
    if (NCONF_get_section(r->cnf, s) == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sksd] import_tls = %s: no such section", r->path,
                        s);
    if (parse_listen(r, s, "listen", &c->import_tls, err) != SKS_OK ||
        dup_path(r, s, "cert", &c->tls_cert, err) != SKS_OK ||
        dup_path(r, s, "key", &c->tls_key, err) != SKS_OK ||
        dup_path(r, s, "client_ca", &c->tls_client_ca, err) != SKS_OK ||
        read_subjects(r, s, c, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (c->import_tls.host[0] == '\0' || c->tls_cert == NULL || c->tls_key == NULL ||
        c->tls_client_ca == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] needs listen, cert, key and client_ca",
                        r->path, s);
    if (c->nallowed_subjects == 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [%s] names no subject: add subject = <RFC 2253 name> for each "
                        "client allowed to import keys",
                        r->path, s);
    return SKS_OK;
}

/* yes or no; |*out| keeps its default when the key is absent. */
static sks_status get_bool(const struct conf_reader *r, const char *section, const char *key,
                           bool *out, struct sks_error *err)
{
    const char *v = get(r, section, key);

    if (v == NULL)
        return SKS_OK;
    if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) {
        *out = v[0] == 'y';
        return SKS_OK;
    }
    return bad_value(r, section, key, v, "expected yes or no", err);
}

/*
 * The CRL cache's bounds, apart from the x5u cache's: a CRL can be far
 * larger than a certificate chain, and a verifier needs few of them.  Its
 * TTLs are the x5u cache's, and no entry outlives its CRL's nextUpdate.
 */
/*
 * A cache of |bytes| must hold the largest entry a fetch of up to |max| bytes
 * can make (a parsed body takes up to SKS_X5U_COST_FACTOR times its size):
 * otherwise every such entry would be evicted as soon as it was stored and
 * fetched again on each request.
 */
static sks_status cache_holds_one(const struct conf_reader *r, const char *s, const char *key,
                                  size_t bytes, const char *what, const char *max_key, size_t max,
                                  struct sks_error *err)
{
    if (bytes / SKS_X5U_COST_FACTOR >= max)
        return SKS_OK;
    return sks_fail(err, SKS_ERR_INPUT,
                    "%s: [%s] %s = %zu cannot hold one %s of %s = %zu (a parsed %s takes up to "
                    "%d times its size): give at least %zu",
                    r->path, s, key, bytes, what, max_key, max, what, SKS_X5U_COST_FACTOR,
                    max * SKS_X5U_COST_FACTOR);
}

static sks_status read_crl_cache(const struct conf_reader *r, const char *s,
                                 struct sksd_verify_conf *vc, struct sks_error *err)
{
    size_t crl_entries = vc->crl_cache.max_entries, crl_bytes = vc->crl_cache.max_bytes;

    LIMIT(s, "crl_max_bytes", 1024, 32 * 1024 * 1024, vc->crl_max_bytes);
    LIMIT(s, "crl_cache_entries", 1, 1000000, crl_entries);
    LIMIT(s, "crl_cache_bytes", 65536, 64UL * 1024 * 1024 * 1024, crl_bytes);
    vc->crl_cache = vc->cache;
    vc->crl_cache.max_entries = crl_entries;
    vc->crl_cache.max_bytes = crl_bytes;
    return cache_holds_one(r, s, "crl_cache_bytes", crl_bytes, "CRL", "crl_max_bytes",
                           vc->crl_max_bytes, err);
}

static sks_status read_verify(const struct conf_reader *r, struct sksd_conf *c,
                              struct sks_error *err)
{
    struct sksd_verify_conf *vc = &c->verify;
    const char *s = get(r, SKSD_SECTION, "verify");

    if (s == NULL)
        return SKS_OK;
    if (NCONF_get_section(r->cnf, s) == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [sksd] verify = %s: no such section", r->path, s);
    vc->enabled = true;

    LIMIT(s, "max_age", 1, 3600, vc->max_age);
    LIMIT(s, "threads", 1, 1024, vc->threads);
    LIMIT(s, "queue", 1, 100000, vc->queue);
    LIMIT(s, "timeout_ms", 10, 60000, vc->timeout_ms);
    LIMIT(s, "x5u_max_bytes", 1024, 1024 * 1024, vc->fetch.max_bytes);
    LIMIT(s, "x5u_connect_timeout_ms", 10, 60000, vc->fetch.connect_timeout_ms);
    LIMIT(s, "x5u_timeout_ms", 10, 60000, vc->fetch.timeout_ms);
    LIMIT(s, "cache_entries", 1, 10000000, vc->cache.max_entries);
    LIMIT(s, "cache_bytes", 65536, 64UL * 1024 * 1024 * 1024, vc->cache.max_bytes);
    LIMIT(s, "cache_min_ttl", 0, 30 * 86400, vc->cache.min_ttl);
    LIMIT(s, "cache_max_ttl", 0, 30 * 86400, vc->cache.max_ttl);
    LIMIT(s, "cache_default_ttl", 0, 30 * 86400, vc->cache.default_ttl);
    LIMIT(s, "cache_negative_ttl", 0, 86400, vc->cache.negative_ttl);
    LIMIT(s, "cache_stale_ttl", 0, 86400, vc->cache.stale_ttl);
    if (vc->cache.min_ttl > vc->cache.max_ttl)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [%s] cache_min_ttl = %ld is more than cache_max_ttl = %ld", r->path, s,
                        vc->cache.min_ttl, vc->cache.max_ttl);
    if (cache_holds_one(r, s, "cache_bytes", vc->cache.max_bytes, "chain", "x5u_max_bytes",
                        vc->fetch.max_bytes, err) != SKS_OK ||
        read_crl_cache(r, s, vc, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (get_bool(r, s, "x5u_allow_private", &vc->x5u_allow_private, err) != SKS_OK ||
        get_bool(r, s, "crl_check", &vc->crl_check, err) != SKS_OK ||
        dup_path(r, s, "trust", &vc->trust, err) != SKS_OK ||
        dup_path(r, s, "x5u_ca_file", &vc->x5u_ca_file, err) != SKS_OK)
        return err->status;
    if (vc->trust == NULL && c->store.trust_anchors == NULL)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [%s] needs trust = <PEM file of STI-PA roots> (or [sks] "
                        "trust_anchors): a certificate from the signer's own URL means nothing "
                        "without a root",
                        r->path, s);
    return SKS_OK;
}

static void set_defaults(struct sksd_conf *c)
{
    c->max_body = 32 * 1024;
    c->max_import_body = 1024 * 1024;
    c->connection_limit = 10000;
    c->connection_timeout = 30;
    c->connection_memory = 32 * 1024;
    c->threads = 0;
    c->hsm_sessions = 0; /* chosen for the module: sksd_pool_start() */
    c->sign_queue = 256;
    c->sign_timeout_ms = 1000;
    /* Half the one second within which another process's rotation must show. */
    c->key_max_age_ms = 500;
    c->drain_seconds = 10;
    c->retry_after = 1;
    c->crl_check_interval = 3600;
    c->crl_stale_max = 86400;
    c->verify.max_age = SKS_VERIFY_MAX_AGE_DEFAULT;
    c->verify.crl_check = true;
    c->verify.threads = 8;
    c->verify.queue = 1024;
    c->verify.timeout_ms = 3000;
    sks_fetch_opts_init(&c->verify.fetch);
    c->verify.fetch.connect_timeout_ms = 1000;
    c->verify.fetch.timeout_ms = 2000;
    sks_fetch_cache_opts_init(&c->verify.cache);
    c->verify.crl_max_bytes = SKS_CRL_MAX_BYTES_DEFAULT;
    c->verify.crl_cache.max_entries = 100;
    c->verify.crl_cache.max_bytes = 64 * 1024 * 1024;
}

static sks_status read_error_body(const struct conf_reader *r, struct sksd_conf *c,
                                  struct sks_error *err)
{
    const char *v = get(r, SKSD_SECTION, "error_body");

    if (v == NULL || strcmp(v, "atis") == 0)
        c->error_body = SKSD_ERRORS_ATIS;
    else if (strcmp(v, "vesper") == 0)
        c->error_body = SKSD_ERRORS_VESPER;
    else
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [sksd] error_body = %s: it must be atis (the default) or vesper",
                        r->path, v);
    return SKS_OK;
}

static sks_status read_all(const struct conf_reader *r, struct sksd_conf *c, struct sks_error *err)
{
    if (parse_listen(r, SKSD_SECTION, "listen", &c->signing, err) != SKS_OK ||
        read_identities(r, c, err) != SKS_OK || read_limits(r, c, err) != SKS_OK ||
        read_import_tls(r, c, err) != SKS_OK || read_import_unix(r, c, err) != SKS_OK ||
        read_error_body(r, c, err) != SKS_OK || read_verify(r, c, err) != SKS_OK)
        return SKS_ERR_INPUT;
    LIMIT(SKSD_SECTION, "crl_check_interval", 0, 7 * 86400, c->crl_check_interval);
    LIMIT(SKSD_SECTION, "crl_stale_max", 0, 30 * 86400, c->crl_stale_max);
    if (c->signing.host[0] == '\0')
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [sksd] listen is missing: give the signing API address, "
                        "e.g. listen = 127.0.0.1:8080",
                        r->path);
    return SKS_OK;
}

sks_status sksd_conf_load(const char *path, struct sksd_conf **out, struct sks_error *err)
{
    struct sksd_conf *c = calloc(1, sizeof(*c));
    struct conf_reader r = {NULL, path};
    sks_status st;

    *out = NULL;
    if (c == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", path);
    set_defaults(c);
    st = sks_config_load(path, &c->store, err);
    if (st != SKS_OK) {
        free(c);
        return st;
    }
    r.cnf = sks_config_conf(&c->store);
    if (r.cnf == NULL) {
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no configuration file at %s", path);
        goto err;
    }
    st = read_all(&r, c, err);
    if (st != SKS_OK)
        goto err;
    *out = c;
    return SKS_OK;
err:
    sksd_conf_free(c);
    return st;
}

void sksd_conf_free(struct sksd_conf *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nallowed_subjects; i++)
        free(c->allowed_subjects[i]);
    free(c->allowed_subjects);
    free(c->allowed_uids);
    free(c->routes);
    sks_config_free(&c->store);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_client_ca);
    free(c->import_socket);
    free(c->verify.trust);
    free(c->verify.x5u_ca_file);
    free(c);
}

const char *sksd_conf_route(const struct sksd_conf *c, const char *orig)
{
    size_t i;

    for (i = 0; i < c->nroutes; i++) {
        if (strncmp(orig, c->routes[i].prefix, strlen(c->routes[i].prefix)) == 0)
            return c->routes[i].identity;
    }
    return c->default_identity[0] != '\0' ? c->default_identity : NULL;
}
