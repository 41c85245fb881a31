/*
 * The one HTTPS client of the project (libcurl): what a verifier or the
 * certificate lifecycle fetches from a server it does not control -- an
 * x5u's certificate chain, a CRL, an ACME resource -- under limits that a
 * hostile server cannot get round.
 *
 *   - https only, redirects included; a URL with userinfo is refused;
 *   - the peer's TLS certificate is verified (the system's trust store, or
 *     |ca_file|);
 *   - the body is cut at |max_bytes|, the connection at |connect_timeout_ms|
 *     and the whole transfer at |timeout_ms|;
 *   - no connection is opened to a loopback, private, link-local, multicast
 *     or unspecified address unless |allow_private| (server-side request
 *     forgery: a PASSporT's x5u is chosen by whoever signed it).  The check
 *     is on the address curl connects to, so DNS answers and redirects are
 *     held to it too.
 *
 * Every failure names the URL, what went wrong and a stable code (field
 * "url"): fetch-refused (the URL or an address is not allowed),
 * fetch-too-large, fetch-timeout, fetch-tls, fetch-http (a status other
 * than 200; for sks_fetch_request(), other than 2xx) and fetch-failed
 * (anything else on the network).
 */
#ifndef SKS_FETCH_H
#define SKS_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define SKS_FETCH_MAX_BYTES_DEFAULT (64 * 1024)
#define SKS_FETCH_CONNECT_TIMEOUT_MS_DEFAULT 2000
#define SKS_FETCH_TIMEOUT_MS_DEFAULT 5000
#define SKS_FETCH_MAX_REDIRECTS_DEFAULT 3

struct sks_fetch_opts {
    size_t max_bytes;
    long connect_timeout_ms;
    long timeout_ms;
    unsigned int max_redirects;
    const char *ca_file; /* PEM trust anchors for TLS; NULL: the system's */
    bool allow_private;  /* may connect to loopback, private and link-local addresses */
};

void sks_fetch_opts_init(struct sks_fetch_opts *opts);

struct sks_fetched {
    unsigned char *data; /* the body, NUL-terminated (not counted in |len|) */
    size_t len;
    char content_type[128]; /* empty when the server sent none */
    /* How long the server lets it be kept (RFC 9111): */
    long max_age;  /* Cache-Control max-age (s-maxage first), seconds; -1: none */
    long expires;  /* Expires, seconds since 1970; -1: none; 0: invalid (expired) */
    bool no_store; /* Cache-Control no-store or no-cache */
    /* What a protocol on top (ACME, RFC 8555) reads from the last response: */
    long status;    /* the HTTP status of the last response */
    char *location; /* Location header (malloc'd, freed by sks_fetched_clear), NULL if none */
    char replay_nonce[256]; /* Replay-Nonce, empty if none */
    long retry_after;       /* Retry-After in seconds (delta or HTTP-date), -1 if none */
};

/* GETs |url|: SKS_OK with the body in |*out| (sks_fetched_clear() it), or the failure. */
sks_status sks_fetch(const struct sks_fetch_opts *opts, const char *url, struct sks_fetched *out,
                     struct sks_error *err);
void sks_fetched_clear(struct sks_fetched *f);

/*
 * A request other than a plain GET, under the same guards.  Only GET and
 * HEAD follow redirects (up to |max_redirects|); a POST or PUT never does
 * (RFC 8555 6.1: the server's answer, a 3xx included, is the caller's to
 * read).  Without |any_status| a status other than 2xx fails with
 * fetch-http; with it, every status is SKS_OK and the body (an error's
 * problem document included) is in |out| for the caller to read.
 */
struct sks_fetch_request {
    const char *method;       /* NULL or "GET", "HEAD", "POST", "PUT" */
    const char *content_type; /* the body's, or NULL */
    const void *body;
    size_t body_len;
    const char *authorization; /* an Authorization header value (a secret: never logged), or NULL */
    bool any_status;           /* SKS_OK whatever the HTTP status: the caller reads out->status */
    const char *accept;        /* an Accept header value, or NULL */
};

sks_status sks_fetch_request(const struct sks_fetch_opts *opts, const char *url,
                             const struct sks_fetch_request *req, struct sks_fetched *out,
                             struct sks_error *err);

/*
 * Why the guard refuses the address |addr| of |family| (AF_INET: 4 bytes,
 * AF_INET6: 16, network order): "a loopback", "a private", ... ; NULL for a
 * public address.  An IPv4-mapped IPv6 address is judged as its IPv4 one.
 */
const char *sks_fetch_address_kind(int family, const void *addr);

#endif
