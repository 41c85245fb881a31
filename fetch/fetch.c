/*
 * HTTPS requests on libcurl under the limits fetch.h promises.  One easy
 * handle per fetch: callers that fetch often keep what they fetched, not
 * the connection.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fetch/fetch.h"

void sks_fetch_opts_init(struct sks_fetch_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_bytes = SKS_FETCH_MAX_BYTES_DEFAULT;
    opts->connect_timeout_ms = SKS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT;
    opts->timeout_ms = SKS_FETCH_TIMEOUT_MS_DEFAULT;
    opts->max_redirects = SKS_FETCH_MAX_REDIRECTS_DEFAULT;
}

void sks_fetched_clear(struct sks_fetched *f)
{
    free(f->data);
    free(f->location);
    memset(f, 0, sizeof(*f));
}

/* curl_global_init() once per process, whichever thread fetches first. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct transfer {
    const struct sks_fetch_opts *opts;
    unsigned char *buf;
    size_t len, cap;
    bool too_large;
    char refused[256]; /* the addresses the guard refused, and their kinds */
};

/* ---- the address guard ------------------------------------------------------- */

/* The kind of a non-public IPv4 address ("a loopback"), NULL for a public one. */
static const char *v4_kind(const unsigned char a[4])
{
    if (a[0] == 0)
        return "an unspecified";
    if (a[0] == 127)
        return "a loopback";
    if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
        return "a private";
    if (a[0] == 100 && (a[1] & 0xc0) == 64)
        return "a shared (RFC 6598)";
    if (a[0] == 169 && a[1] == 254)
        return "a link-local";
    if (a[0] >= 224)
        return a[0] < 240 ? "a multicast" : "a reserved";
    return NULL;
}

static const char *v6_kind(const unsigned char a[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char zero[16] = {0};

    if (memcmp(a, mapped, sizeof(mapped)) == 0)
        return v4_kind(a + 12);
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 0 ? "an unspecified" : a[15] == 1 ? "a loopback" : "a reserved";
    if ((a[0] & 0xfe) == 0xfc)
        return "a private (unique local)";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "a link-local";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return "a site-local";
    if (a[0] == 0xff)
        return "a multicast";
    return NULL;
}

const char *sks_fetch_address_kind(int family, const void *addr)
{
    if (family == AF_INET)
        return v4_kind(addr);
    if (family == AF_INET6)
        return v6_kind(addr);
    return "a non-IP";
}

/*
 * curl's socket opener: every address curl is about to connect to, after
 * DNS and on every redirect, passes here first.
 */
static curl_socket_t open_guarded(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct transfer *t = ctx;
    char ip[INET6_ADDRSTRLEN] = "?";
    const char *kind = NULL;

    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (a->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->addr;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        kind = sks_fetch_address_kind(AF_INET, &in->sin_addr);
    } else if (a->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->addr;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        kind = sks_fetch_address_kind(AF_INET6, &in6->sin6_addr);
    } else {
        kind = sks_fetch_address_kind(a->family, NULL);
    }
    if (kind != NULL && !t->opts->allow_private) {
        size_t used = strlen(t->refused);

        snprintf(t->refused + used, sizeof(t->refused) - used, "%s%s is %s address",
                 used > 0 ? ", " : "", ip, kind);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ---- the body ---------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    size_t len = size * n;

    if (len > t->opts->max_bytes - t->len) {
        t->too_large = true;
        return 0;
    }
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 4096;
        unsigned char *p;

        while (cap < t->len + len + 1)
            cap *= 2;
        if ((p = realloc(t->buf, cap)) == NULL)
            return 0;
        t->buf = p;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, data, len);
    t->len += len;
    t->buf[t->len] = '\0';
    return len;
}

/* ---- the headers that say how long a body may be kept -------------------------- */

/*
 * Where directive |name| (e.g. "max-age") of Cache-Control value |v| ends,
 * or NULL: a match counts only at the start of a directive and up to its
 * end or its "=".
 */
static const char *directive(const char *v, const char *name)
{
    size_t n = strlen(name);
    const char *p = v;

    while ((p = strcasestr(p, name)) != NULL) {
        bool starts = p == v || strchr(" ,\t", p[-1]) != NULL;

        p += n;
        if (starts && strchr("=, \t\r\n", *p) != NULL)
            return p;
    }
    return NULL;
}

/* The seconds of directive |name| ("max-age=60", quoted or not), or -1. */
static long directive_seconds(const char *v, const char *name)
{
    const char *p = directive(v, name);
    char *end;
    long secs;

    if (p == NULL || *p++ != '=')
        return -1;
    if (*p == '"')
        p++;
    secs = strtol(p, &end, 10);
    return end != p && secs >= 0 ? secs : -1;
}

/* What one response's headers said: a redirect's are forgotten at the next status line. */
static void reset_headers(struct sks_fetched *f)
{
    f->max_age = -1;
    f->expires = -1;
    f->no_store = false;
    free(f->location);
    f->location = NULL;
    f->replay_nonce[0] = '\0';
    f->retry_after = -1;
}

/* The header value after |name_len| bytes of "Name:", without blanks around it. */
static char *header_value(char *line, size_t name_len)
{
    char *v = line + name_len, *end;

    v += strspn(v, " \t");
    end = v + strlen(v);
    while (end > v && strchr(" \t\r\n", end[-1]) != NULL)
        *--end = '\0';
    return v;
}

/* RFC 9110 10.2.3: Retry-After is delay-seconds or an HTTP-date; seconds from now, or -1. */
static long retry_after_seconds(const char *v)
{
    char *end;
    long secs = strtol(v, &end, 10);
    time_t when;

    if (end != v && *end == '\0')
        return secs >= 0 ? secs : -1;
    if ((when = curl_getdate(v, NULL)) < 0)
        return -1;
    return when > time(NULL) ? (long)(when - time(NULL)) : 0;
}

/* Each header line; a status line starts the headers of the next answer (after a redirect). */
static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
    struct sks_fetched *f = ctx;
    size_t len = size * n;
    char v[2048];

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        reset_headers(f);
        return len;
    }
    if (len >= sizeof(v))
        return len;
    memcpy(v, line, len);
    v[len] = '\0';
    if (strncasecmp(v, "Cache-Control:", 14) == 0) {
        long s = directive_seconds(v + 14, "s-maxage");

        f->max_age = s >= 0 ? s : directive_seconds(v + 14, "max-age");
        f->no_store =
            directive(v + 14, "no-store") != NULL || directive(v + 14, "no-cache") != NULL;
    } else if (strncasecmp(v, "Expires:", 8) == 0) {
        time_t t = curl_getdate(v + 8, NULL);

        /* RFC 9111 section 5.3: an invalid date ("0") means already expired. */
        f->expires = t > 0 ? (long)t : 0;
    } else if (strncasecmp(v, "Location:", 9) == 0) {
        free(f->location);
        f->location = strdup(header_value(v, 9));
    } else if (strncasecmp(v, "Replay-Nonce:", 13) == 0) {
        snprintf(f->replay_nonce, sizeof(f->replay_nonce), "%s", header_value(v, 13));
    } else if (strncasecmp(v, "Retry-After:", 12) == 0) {
        f->retry_after = retry_after_seconds(header_value(v, 12));
    }
    return len;
}

/* ---- the URL ----------------------------------------------------------------- */

static sks_status check_url(const char *url, struct sks_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *user = NULL;
    sks_status st = SKS_OK;

    if (u == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        st = sks_fail_field(err, SKS_ERR_INPUT, "fetch-refused", "url", "%s: not a URL", url);
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             strcmp(scheme, "https") != 0)
        st = sks_fail_field(err, SKS_ERR_POLICY, "fetch-refused", "url",
                            "%s: only https URLs are fetched", url);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
        st = sks_fail_field(err, SKS_ERR_POLICY, "fetch-refused", "url",
                            "%s: a URL with a user name or password is not fetched", url);
    curl_free(scheme);
    curl_free(user);
    curl_url_cleanup(u);
    return st;
}

/* ---- the fetch --------------------------------------------------------------- */

static sks_status failed(const struct transfer *t, const char *url, CURLcode rc, const char *detail,
                         struct sks_error *err)
{
    const char *why = detail[0] != '\0' ? detail : curl_easy_strerror(rc);

    if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return sks_fail_field(err, SKS_ERR_INPUT, "fetch-too-large", "url",
                              "%s: the body is larger than the %zu bytes allowed", url,
                              t->opts->max_bytes);
    if (t->refused[0] != '\0' && rc == CURLE_COULDNT_CONNECT)
        return sks_fail_field(err, SKS_ERR_POLICY, "fetch-refused", "url",
                              "%s: %s: not fetched from (only public addresses are)", url,
                              t->refused);
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
        return sks_fail_field(err, SKS_ERR_POLICY, "fetch-refused", "url",
                              "%s: redirected to a URL that is not https", url);
    case CURLE_TOO_MANY_REDIRECTS:
        return sks_fail_field(err, SKS_ERR_POLICY, "fetch-refused", "url",
                              "%s: more than %u redirects", url, t->opts->max_redirects);
    case CURLE_OPERATION_TIMEDOUT:
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, "fetch-timeout", "url",
                              "%s: no complete answer in time (connect %ld ms, all %ld ms): %s",
                              url, t->opts->connect_timeout_ms, t->opts->timeout_ms, why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return sks_fail_field(err, SKS_ERR_VERIFY, "fetch-tls", "url",
                              "%s: TLS with the server failed: %s", url, why);
    default:
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, "fetch-failed", "url", "%s: %s", url, why);
    }
}

static void set_options(CURL *h, const char *url, struct transfer *t, bool follow,
                        struct sks_fetched *out, char *errbuf)
{
    const struct sks_fetch_opts *o = t->opts;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow && o->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)o->max_redirects);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    /* A proxy from the environment would be the address the guard sees. */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
}

/* A header line "Name: value" appended to |*list|; false when out of memory. */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    struct curl_slist *l;

    if (line == NULL)
        return false;
    snprintf(line, n, "%s: %s", name, value);
    l = curl_slist_append(*list, line);
    OPENSSL_cleanse(line, n);
    free(line);
    if (l == NULL)
        return false;
    *list = l;
    return true;
}

/* The headers go: the Authorization value is a secret, so its copies are wiped first. */
static void free_headers(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l != NULL; l = l->next)
        OPENSSL_cleanse(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

/* Sets the method, body and headers of |req| on |h|; SKS_OK or the failure. */
static sks_status set_request(CURL *h, const char *url, const struct sks_fetch_request *req,
                              struct curl_slist **headers, struct sks_error *err)
{
    const char *m = req->method != NULL ? req->method : "GET";
    bool ok = true;

    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (m[1] == 'U')
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        /* No "Expect: 100-continue" round trip: the body goes at once. */
        ok = add_header(headers, "Expect", "");
    } else if (strcmp(m, "GET") != 0) {
        return sks_fail_field(err, SKS_ERR_INTERNAL, "fetch-refused", "url",
                              "%s: method %s is not one the client sends", url, m);
    }
    if (ok && req->content_type != NULL)
        ok = add_header(headers, "Content-Type", req->content_type);
    if (ok && req->accept != NULL)
        ok = add_header(headers, "Accept", req->accept);
    if (ok && req->authorization != NULL)
        ok = add_header(headers, "Authorization", req->authorization);
    if (!ok)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    return SKS_OK;
}

/*
 * The one transfer: |req| NULL is sks_fetch()'s GET (200 only), otherwise
 * the request it describes.
 */
static sks_status perform(const struct sks_fetch_opts *opts, const char *url,
                          const struct sks_fetch_request *req, struct sks_fetched *out,
                          struct sks_error *err)
{
    struct transfer t = {opts, NULL, 0, 0, false, ""};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    const char *ctype = NULL;
    sks_status st = SKS_OK;
    bool follow = true;
    long status = 0;
    CURLcode rc;
    CURL *h;

    memset(out, 0, sizeof(*out));
    reset_headers(out);
    if (check_url(url, err) != SKS_OK)
        return err->status;
    if (req != NULL && req->method != NULL)
        follow = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK || (h = curl_easy_init()) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot start libcurl: %s",
                        curl_easy_strerror(global_rc != CURLE_OK ? global_rc : CURLE_FAILED_INIT));
    set_options(h, url, &t, follow, out, errbuf);
    if (req != NULL && (st = set_request(h, url, req, &headers, err)) != SKS_OK)
        goto done;
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        st = failed(&t, url, rc, errbuf, err);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    out->status = status;
    if (req == NULL ? status != 200 : !req->any_status && (status < 200 || status > 299)) {
        st = sks_fail_field(err, status == 404 ? SKS_ERR_NOT_FOUND : SKS_ERR_UNAVAILABLE,
                            "fetch-http", "url", "%s: HTTP status %ld, not %s", url, status,
                            req == NULL ? "200" : "2xx");
        goto done;
    }
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL)
        snprintf(out->content_type, sizeof(out->content_type), "%s", ctype);
    if (t.buf == NULL && (t.buf = calloc(1, 1)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    out->data = t.buf;
    out->len = t.len;
    t.buf = NULL;
done:
    if (st != SKS_OK) {
        long kept = out->status;

        sks_fetched_clear(out);
        out->status = kept;
        reset_headers(out);
    }
    free(t.buf);
    free_headers(headers);
    curl_easy_cleanup(h);
    return st;
}

sks_status sks_fetch(const struct sks_fetch_opts *opts, const char *url, struct sks_fetched *out,
                     struct sks_error *err)
{
    return perform(opts, url, NULL, out, err);
}

sks_status sks_fetch_request(const struct sks_fetch_opts *opts, const char *url,
                             const struct sks_fetch_request *req, struct sks_fetched *out,
                             struct sks_error *err)
{
    static const struct sks_fetch_request get = {0};

    return perform(opts, url, req != NULL ? req : &get, out, err);
}
