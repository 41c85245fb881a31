/*
 * sksd_client: the test driver for sksd's signing API.
 *
 *   sksd_client load HOST PORT [--requests N] [--conns C] [--rate R]
 *                    [--identity NAME] [--body FILE] [--cert X5U=FILE]...
 *                    [--cert-later X5U=FILE]... [--max-age S]
 *       N requests over C keep-alive connections; with --cert every answer
 *       must verify with the certificate its x5u names.  Prints the counts
 *       ("ok=... per-x5u ...") and exits 0 when every request got a verified
 *       200.  --cert-later reads FILE when an answer first names X5U (a
 *       version made during the load).
 *   sksd_client idle HOST PORT N SECONDS
 *       Opens N connections that send nothing and holds them SECONDS.
 *   sksd_client slowloris HOST PORT N SECONDS
 *       Opens N connections that send a request's headers one byte a second.
 *
 * Both hostile modes print "opened N" once their connections are up, so that
 * the test can start its own requests while they hold.
 *
 *   sksd_client notify-listen PATH SECONDS
 *       Plays systemd's side of sd_notify: binds a datagram socket at PATH and
 *       prints each message it receives as one line, for SECONDS.
 *   sksd_client json FILE PATH
 *       Prints the member at the dotted PATH of the JSON in FILE (strings
 *       raw, anything else as compact JSON).
 *   sksd_client attach-body CERT CHAIN X5U
 *       Prints the JSON body of an import API attach request.
 *   sksd_client raw HOST:PORT|unix:PATH FILE
 *       Sends the bytes of FILE as they are (a request, framing and all) and
 *       reads one answer, without sending anything more first: prints
 *       "status N", "connection-close yes|no" (the header) and "body ...".
 *       Then it sends an ordinary request on the same connection and prints
 *       "connection closed" when the server closes it (EOF or reset) without
 *       answering that one, or "connection open" when it is answered or
 *       nothing comes for RAW_WAIT_S seconds.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "tests/interop/interop.h"
#include "tests/interop/sksd_load.h"

#define DEFAULT_BODY                                                                               \
    "{\"signingRequest\":{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},"                   \
    "\"orig\":{\"tn\":\"12155550121\"}}}"
#define HOSTILE_MAX 20000
/* Below the tests' connection_timeout, so that "open" is not the server timing out. */
#define RAW_WAIT_S 5

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    if (x == NULL)
        interop_die("cannot read a PEM certificate from %s", path);
    return x;
}

static void add_cert(struct load_opts *o, char *spec, bool later)
{
    char *eq = strrchr(spec, '=');

    if (eq == NULL || o->ncerts == LOAD_CERTS_MAX)
        interop_die("--cert takes X5U=FILE (at most %d)", LOAD_CERTS_MAX);
    *eq = '\0';
    o->certs[o->ncerts].x5u = spec;
    o->certs[o->ncerts].path = eq + 1;
    o->certs[o->ncerts++].cert = later ? NULL : read_cert(eq + 1);
}

static int run_load(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"requests", required_argument, NULL, 'n'},
        {"conns", required_argument, NULL, 'c'},
        {"rate", required_argument, NULL, 'r'},
        {"identity", required_argument, NULL, 'i'},
        {"body", required_argument, NULL, 'b'},
        {"cert", required_argument, NULL, 'x'},
        {"max-age", required_argument, NULL, 'a'},
        {"cert-later", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    struct load_opts o = {0};
    struct load_result res;
    char path[256] = "/stir/v1/signing";
    size_t i;
    int opt, rc;

    o.conns = 4;
    o.requests = 1000;
    o.body = DEFAULT_BODY;
    o.max_age = 60;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            o.requests = (unsigned long)interop_parse_count(optarg, 100000000, "--requests");
            break;
        case 'c':
            o.conns = (unsigned int)interop_parse_count(optarg, 1024, "--conns");
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'i':
            snprintf(path, sizeof(path), "/stir/v1/signing?identity=%s", optarg);
            break;
        case 'b':
            o.body = (const char *)interop_read_file(optarg, &i);
            break;
        case 'x':
        case 'l':
            add_cert(&o, optarg, opt == 'l');
            break;
        case 'a':
            o.max_age = interop_parse_count(optarg, 1L << 40, "--max-age");
            break;
        default:
            return 1;
        }
    }
    if (argc - optind != 2)
        interop_die("usage: sksd_client load HOST PORT [options]");
    o.host = argv[optind];
    o.port = (unsigned int)interop_parse_count(argv[optind + 1], 65535, "PORT");
    o.path = path;
    rc = load_run(&o, &res);
    printf("requests=%lu ok=%lu http_errors=%lu bad=%lu io_errors=%lu seconds=%.3f rate=%.0f "
           "p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
           o.requests, res.ok, res.http_errors, res.bad, res.io_errors, res.seconds,
           (double)(res.ok + res.http_errors + res.bad) / res.seconds, res.p50_us, res.p99_us,
           res.max_us);
    for (i = 0; i < o.ncerts; i++)
        printf("x5u %s verified=%lu\n", o.certs[i].x5u, res.per_cert[i]);
    if (res.first_error[0] != '\0')
        printf("first error: %s\n", res.first_error);
    return rc == 0 ? 0 : 1;
}

/* Connections still open: a closed one reads EOF (or an error) at once. */
static int count_open(const int *fds, int n)
{
    int i, open = 0;

    for (i = 0; i < n; i++) {
        char b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);

        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            open++;
    }
    return open;
}

static int run_hostile(int argc, char **argv, int slow)
{
    static const char req[] = "POST /stir/v1/signing HTTP/1.1\r\nHost: sksd\r\n"
                              "Content-Type: application/json\r\nX-Padding: slowly\r\n";
    const char *host;
    unsigned int port;
    int n, secs, i, s, opened = 0, *fds;

    if (argc != 5)
        interop_die("usage: sksd_client %s HOST PORT N SECONDS", argv[0]);
    host = argv[1];
    port = (unsigned int)interop_parse_count(argv[2], 65535, "PORT");
    n = (int)interop_parse_count(argv[3], HOSTILE_MAX, "N");
    secs = (int)interop_parse_count(argv[4], 3600, "SECONDS");
    fds = calloc((size_t)n, sizeof(*fds));
    if (fds == NULL)
        interop_die("out of memory");
    for (i = 0; i < n; i++) {
        fds[i] = http_connect(host, port);
        if (fds[i] >= 0)
            opened++;
    }
    printf("opened %d\n", opened);
    fflush(stdout);
    for (s = 0; s < secs; s++) {
        for (i = 0; slow && i < n; i++) {
            if (fds[i] >= 0 && send(fds[i], req + (s % (sizeof(req) - 1)), 1, MSG_NOSIGNAL) != 1) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
        sleep(1);
    }
    printf("still open %d\n", count_open(fds, n));
    for (i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    free(fds);
    return opened == n ? 0 : 1;
}

static int raw_connect(const char *address)
{
    struct sockaddr_un sun = {0};
    char host[256], *colon;
    int fd;

    if (strncmp(address, "unix:", 5) != 0) {
        snprintf(host, sizeof(host), "%s", address);
        colon = strrchr(host, ':');
        if (colon == NULL)
            interop_die("raw: %s is neither HOST:PORT nor unix:PATH", address);
        *colon = '\0';
        return http_connect(host, (unsigned int)interop_parse_count(colon + 1, 65535, "PORT"));
    }
    if (strlen(address + 5) >= sizeof(sun.sun_path))
        interop_die("raw: socket path too long: %s", address + 5);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, address + 5);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/*
 * After an answer: has the server closed the connection?  Bytes already read
 * past the answer (|c->have|) count as what the server sent next.
 */
static const char *raw_closed(struct http_conn *c)
{
    static const char probe[] = "GET /healthz HTTP/1.1\r\nHost: sksd\r\n\r\n";

    /* A closed connection refuses this (EPIPE), or the reads below see EOF or a reset. */
    (void)send(c->fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL);
    for (;;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        const char *answer = memmem(c->buf, c->have, "HTTP/1.", 7);
        ssize_t n;

        if (answer != NULL &&
            memmem(answer, c->have - (size_t)(answer - c->buf), "\r\n\r\n", 4) != NULL)
            return "open (it answered another request)";
        if (c->have == sizeof(c->buf))
            return "open (it keeps sending)";
        if (poll(&p, 1, RAW_WAIT_S * 1000) <= 0)
            return "open (no EOF)";
        n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
        if (n <= 0)
            return "closed";
        c->have += (size_t)n;
    }
}

static int run_raw(int argc, char **argv)
{
    static struct http_conn c;
    static char body[65536];
    unsigned char *req;
    size_t len, off = 0;
    int status, closing;

    if (argc != 3)
        interop_die("usage: sksd_client raw HOST:PORT|unix:PATH FILE");
    req = interop_read_file(argv[2], &len);
    c.fd = raw_connect(argv[1]);
    if (c.fd < 0)
        interop_die("raw: cannot connect to %s: %s", argv[1], strerror(errno));
    while (off < len) {
        ssize_t w = send(c.fd, req + off, len - off, MSG_NOSIGNAL);

        if (w <= 0)
            interop_die("raw: the server stopped taking the request after %zu of %zu bytes", off,
                        len);
        off += (size_t)w;
    }
    free(req);
    if (http_read_response(&c, &status, body, sizeof(body), &closing) != 0)
        interop_die("raw: no complete answer from %s", argv[1]);
    printf("status %d\nconnection-close %s\nbody %s\nconnection %s\n", status,
           closing ? "yes" : "no", body, raw_closed(&c));
    close(c.fd);
    return 0;
}

static int run_notify_listen(int argc, char **argv)
{
    struct sockaddr_un sun = {0};
    struct timespec end;
    char msg[4096];
    int fd;

    if (argc != 3 || strlen(argv[1]) >= sizeof(sun.sun_path))
        interop_die("usage: sksd_client notify-listen PATH SECONDS");
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
        interop_die("cannot bind %s: %s", argv[1], strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += interop_parse_count(argv[2], 3600, "SECONDS");
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec now;
        ssize_t n;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= end.tv_sec)
            break;
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        for (char *nl = strchr(msg, '\n'); nl != NULL; nl = strchr(nl, '\n'))
            *nl = ' ';
        printf("%s\n", msg);
        fflush(stdout);
    }
    close(fd);
    unlink(argv[1]);
    return 0;
}

int main(int argc, char **argv)
{
    interop_prog = "sksd_client";
    if (argc < 2)
        interop_die("usage: sksd_client (load|idle|slowloris) ...");
    if (strcmp(argv[1], "load") == 0)
        return run_load(argc - 1, argv + 1);
    if (strcmp(argv[1], "idle") == 0)
        return run_hostile(argc - 1, argv + 1, 0);
    if (strcmp(argv[1], "slowloris") == 0)
        return run_hostile(argc - 1, argv + 1, 1);
    if (strcmp(argv[1], "notify-listen") == 0)
        return run_notify_listen(argc - 1, argv + 1);
    if (strcmp(argv[1], "json") == 0)
        return sksd_tool_json(argc - 1, argv + 1);
    if (strcmp(argv[1], "raw") == 0)
        return run_raw(argc - 1, argv + 1);
    if (strcmp(argv[1], "attach-body") == 0)
        return sksd_tool_attach_body(argc - 1, argv + 1);
    interop_die("unknown mode %s", argv[1]);
}
