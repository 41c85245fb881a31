/*
 * A small HTTP/1.1 client for sksd's signing and verification APIs: keep-alive connections,
 * one thread each, optionally paced to a request rate, with every answer
 * verified against the certificate its x5u names.  The test driver
 * (sksd_client) and the benchmark (bench_sksd) share it; nothing here
 * depends on wrk or curl.
 */
#ifndef SKS_TESTS_SKSD_LOAD_H
#define SKS_TESTS_SKSD_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#define LOAD_CERTS_MAX 8

/* The certificate each x5u stands for: how a verifier picks the key. */
struct load_cert {
    const char *x5u;
    X509 *cert;
    /*
     * With |cert| NULL: the PEM file read when an answer first names |x5u|
     * (a version that does not exist yet when the load starts, such as a
     * renewal's, whose chain is published before it signs).
     */
    const char *path;
};

struct load_opts {
    const char *host;
    unsigned int port;
    unsigned int conns;     /* connections, one thread each */
    unsigned long requests; /* in all */
    double rate;            /* requests per second in all; 0: as fast as answers come */
    const char *path;       /* request target, e.g. /stir/v1/signing?identity=x */
    const char *body;       /* the signing request; NULL: GET |path|, any 200 counts */
    bool verification; /* |body| is a verificationRequest: a 200 must say TN-Validation-Passed */
    struct load_cert certs[LOAD_CERTS_MAX];
    size_t ncerts; /* 0: answers are not verified */
    long max_age;  /* verification freshness window, seconds */
};

struct load_result {
    unsigned long ok;          /* 200 and, with certificates, verified */
    unsigned long http_errors; /* any other status */
    unsigned long bad;         /* 200 whose answer did not verify or parse */
    unsigned long io_errors;   /* connection failures */
    unsigned long per_cert[LOAD_CERTS_MAX];
    double seconds;
    /* Latency from when each request was due: with --rate, a late send counts too. */
    double p50_us, p99_us, max_us;
    /* Latency from when each request was sent: the server's part. */
    double svc_p50_us, svc_p99_us;
    char first_error[512];
};

/* Runs the load; returns 0 when every request got a verified 200. */
int load_run(const struct load_opts *o, struct load_result *res);

/* ---- one connection ------------------------------------------------------- */

struct http_conn {
    int fd;
    char buf[65536];
    size_t have;
};

/* Connects to host:port (TCP, TCP_NODELAY); -1 on failure. */
int http_connect(const char *host, unsigned int port);
/*
 * Sends one POST with |body| (NULL: a GET) on |c| (reconnecting when the server closed
 * it) and reads the answer: status in |*status|, body copied to |out| (NUL
 * terminated).  Returns 0, or -1 on an I/O or protocol failure.
 */
int http_post(struct http_conn *c, const char *host, unsigned int port, const char *path,
              const char *body, int *status, char *out, size_t outsize);

/*
 * Reads one answer on |c| (status, body as for http_post) and leaves the
 * connection as it is: |*closing| says whether the server sent
 * "Connection: close".
 */
int http_read_response(struct http_conn *c, int *status, char *out, size_t outsize, int *closing);

/*
 * What the test scripts need from a JSON-aware tool (argv[0] is the mode):
 *   json FILE PATH            prints the member at the dotted PATH (strings raw)
 *   attach-body CERT CHAIN X5U [BLOB]
 *                             prints the JSON body of an import attach, or
 *                             with a wrapped key blob, of a wrapped import
 */
int sksd_tool_json(int argc, char **argv);
int sksd_tool_attach_body(int argc, char **argv);

#endif
