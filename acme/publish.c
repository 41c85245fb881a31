/* Publication to the STI-CR (publish.h): a directory, a PUT or a hook, then the GET check. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/conf.h>
#include <openssl/crypto.h>

#include "acme/publish.h"
#include "common/file.h"
#include "fetch/fetch.h"
#include "keystore/keystore.h"

#define FIELD "publish"
#define CODE_CONFIG "publish-config"
#define CODE_PATH "publish-path"
#define CODE_PUT "publish-put"
#define CODE_COMMAND "publish-command"
#define CODE_MISMATCH "publish-mismatch"

/* The longest Authorization value read from credentials_file. */
#define CREDENTIALS_MAX 4096
/* What is kept of the hook's stderr: its last line is all a message names. */
#define STDERR_KEEP 4096
/* The GET check's pause between attempts doubles up to this many seconds. */
#define CHECK_PAUSE_MAX 5

enum method { METHOD_DIRECTORY, METHOD_PUT, METHOD_COMMAND };

struct acme_publisher {
    enum method method;
    char *source; /* the configuration file, for messages */
    char *x5u;    /* the template */
    char *directory, *url_prefix;
    char *put_url, *credentials_file;
    char *command;
    long command_timeout; /* seconds */
    char *ca_file;
    bool allow_private;
    long timeout_ms;
    long verify_wait; /* seconds */
};

void acme_publisher_free(struct acme_publisher *p)
{
    if (p == NULL)
        return;
    free(p->source);
    free(p->x5u);
    free(p->directory);
    free(p->url_prefix);
    free(p->put_url);
    free(p->credentials_file);
    free(p->command);
    free(p->ca_file);
    free(p);
}

/* ---- the [publish] section ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static sks_status
config_fail(const struct acme_publisher *p, struct sks_error *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return sks_fail_field(err, SKS_ERR_INPUT, CODE_CONFIG, FIELD, "%s: [%s] %s", p->source,
                          ACME_PUBLISH_SECTION, what);
}

/* |value| taken relative to |dir| (the configuration file's) unless it is absolute. */
static sks_status take_path(char **field, const char *dir, const char *value, struct sks_error *err)
{
    size_t len = strlen(dir) + 1 + strlen(value) + 1;

    free(*field);
    if (value[0] == '/')
        *field = strdup(value);
    else if ((*field = malloc(len)) != NULL)
        snprintf(*field, len, "%s/%s", dir, value);
    return *field != NULL ? SKS_OK : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
}

static sks_status take_number(const struct acme_publisher *p, const char *key, const char *value,
                              long min, long max, long *out, struct sks_error *err)
{
    char *end, range[64];
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno == 0 && end != value && *end == '\0' && v >= min && v <= max) {
        *out = v;
        return SKS_OK;
    }
    snprintf(range, sizeof(range), "%ld to %ld", min, max);
    return config_fail(p, err, "%s takes a whole number from %s", key, range);
}

/* A template's placeholders are {identity} and {version}; it must be an https URL. */
static sks_status check_template(const struct acme_publisher *p, const char *key, const char *t,
                                 bool need_version, struct sks_error *err)
{
    const char *s;

    if (strncmp(t, "https://", 8) != 0)
        return config_fail(p, err, "%s = %s is not an https URL", key, t);
    for (s = strchr(t, '{'); s != NULL; s = strchr(s + 1, '{'))
        if (strncmp(s, "{identity}", 10) != 0 && strncmp(s, "{version}", 9) != 0)
            return config_fail(p, err, "%s = %s: only {identity} and {version} are replaced", key,
                               t);
    if (need_version && strstr(t, "{version}") == NULL)
        return config_fail(p, err,
                           "%s = %s names no {version}: each key version needs its own URL, so "
                           "that no verifier takes a cached old chain for the new one",
                           key, t);
    return SKS_OK;
}

/* The absolute directory of the configuration file |path|. */
static char *config_dir(const char *path)
{
    char *abs = realpath(path, NULL), *slash;

    if (abs == NULL)
        return strdup(".");
    slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    return abs;
}

static sks_status read_key(struct acme_publisher *p, const char *dir, const CONF_VALUE *v,
                           struct sks_error *err)
{
    const char *k = v->name, *val = v->value;
    char **paths[] = {&p->directory, &p->credentials_file, &p->command, &p->ca_file};
    const char *path_keys[] = {"directory", "credentials_file", "command", "ca_file"};
    long n = 0;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        if (strcmp(k, path_keys[i]) == 0)
            return take_path(paths[i], dir, val, err);
    if (strcmp(k, "method") == 0) {
        if (strcmp(val, "directory") == 0)
            p->method = METHOD_DIRECTORY;
        else if (strcmp(val, "put") == 0)
            p->method = METHOD_PUT;
        else if (strcmp(val, "command") == 0)
            p->method = METHOD_COMMAND;
        else
            return config_fail(p, err, "method = %s: give directory, put or command", val);
        return SKS_OK;
    }
    if (strcmp(k, "x5u") == 0 || strcmp(k, "url_prefix") == 0 || strcmp(k, "put_url") == 0) {
        char **f = k[0] == 'x' ? &p->x5u : k[0] == 'u' ? &p->url_prefix : &p->put_url;

        return sks_config_set(f, val, err);
    }
    if (strcmp(k, "allow_private") == 0) {
        if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)
            return config_fail(p, err, "%s = %s: give yes or no", k, val);
        p->allow_private = strcmp(val, "yes") == 0;
        return SKS_OK;
    }
    if (strcmp(k, "timeout_ms") == 0) {
        if (take_number(p, k, val, 100, 600000, &n, err) != SKS_OK)
            return SKS_ERR_INPUT;
        p->timeout_ms = n;
        return SKS_OK;
    }
    if (strcmp(k, "verify_wait") == 0)
        return take_number(p, k, val, 0, 3600, &p->verify_wait, err);
    if (strcmp(k, "command_timeout") == 0)
        return take_number(p, k, val, 1, 3600, &p->command_timeout, err);
    return config_fail(p, err, "%s is not a setting of this section", k);
}

static sks_status expand(const char *t, const char *identity, unsigned int version, char *out,
                         size_t outlen, struct sks_error *err);
static sks_status relative_path(const struct acme_publisher *p, const char *x5u, char **rel,
                                struct sks_error *err);

/* A directory publisher's x5u must map to a file below the directory, whatever the version. */
static sks_status check_directory_x5u(const struct acme_publisher *p, struct sks_error *err)
{
    char sample[SKS_X5U_MAX + 1], *rel = NULL;
    sks_status st = expand(p->x5u, "identity", 1, sample, sizeof(sample), err);

    if (st == SKS_OK)
        st = relative_path(p, sample, &rel, err);
    free(rel);
    if (st != SKS_OK)
        sks_error_prefix(err, "%s: [%s] x5u = %s", p->source, ACME_PUBLISH_SECTION, p->x5u);
    return st;
}

/* What each method needs, once the whole section is read. */
static sks_status check_complete(const struct acme_publisher *p, bool have_method,
                                 struct sks_error *err)
{
    sks_status st;

    if (!have_method)
        return config_fail(p, err, "method is missing: give directory, put or command");
    if (p->x5u == NULL)
        return config_fail(p, err,
                           "x5u is missing: give the template of every version's URL, "
                           "e.g. https://cr.example.org/sti/{identity}-{version}.pem");
    if ((st = check_template(p, "x5u", p->x5u, true, err)) != SKS_OK)
        return st;
    switch (p->method) {
    case METHOD_DIRECTORY:
        if (p->directory == NULL || p->url_prefix == NULL)
            return config_fail(p, err, "method = directory needs directory and url_prefix");
        if (strncmp(p->url_prefix, "https://", 8) != 0)
            return config_fail(p, err, "url_prefix = %s is not an https URL", p->url_prefix);
        return check_directory_x5u(p, err);
    case METHOD_PUT:
        if (p->credentials_file == NULL)
            return config_fail(p, err, "method = put needs credentials_file");
        if (p->put_url != NULL &&
            (st = check_template(p, "put_url", p->put_url, false, err)) != SKS_OK)
            return st;
        break;
    case METHOD_COMMAND:
        if (p->command == NULL)
            return config_fail(p, err, "method = command needs command");
        break;
    }
    return SKS_OK;
}

sks_status acme_publisher_from_config(const struct sks_config *cfg, struct acme_publisher **out,
                                      struct sks_error *err)
{
    CONF *conf = sks_config_conf(cfg);
    STACK_OF(CONF_VALUE) * sect;
    struct acme_publisher *p;
    bool have_method = false;
    char *dir = NULL;
    sks_status st = SKS_OK;

    *out = NULL;
    if (conf == NULL || (sect = NCONF_get_section(conf, ACME_PUBLISH_SECTION)) == NULL)
        return SKS_OK;
    if ((p = calloc(1, sizeof(*p))) == NULL ||
        (p->source = strdup(cfg->path != NULL ? cfg->path : "the configuration")) == NULL ||
        (dir = config_dir(p->source)) == NULL) {
        acme_publisher_free(p);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    p->command_timeout = ACME_PUBLISH_COMMAND_TIMEOUT_DEFAULT;
    p->timeout_ms = SKS_FETCH_TIMEOUT_MS_DEFAULT;
    p->verify_wait = ACME_PUBLISH_VERIFY_WAIT_DEFAULT;
    for (int i = 0; st == SKS_OK && i < sk_CONF_VALUE_num(sect); i++) {
        const CONF_VALUE *v = sk_CONF_VALUE_value(sect, i);

        have_method = have_method || strcmp(v->name, "method") == 0;
        st = read_key(p, dir, v, err);
    }
    if (st == SKS_OK)
        st = check_complete(p, have_method, err);
    free(dir);
    if (st != SKS_OK) {
        acme_publisher_free(p);
        return st;
    }
    *out = p;
    return SKS_OK;
}

/* |t| with {identity} and {version} replaced. */
static sks_status expand(const char *t, const char *identity, unsigned int version, char *out,
                         size_t outlen, struct sks_error *err)
{
    size_t n = 0;
    char num[16];

    snprintf(num, sizeof(num), "%u", version);
    while (*t != '\0') {
        const char *put = t;
        size_t len = 1;

        if (strncmp(t, "{identity}", 10) == 0) {
            put = identity;
            len = strlen(identity);
            t += 10;
        } else if (strncmp(t, "{version}", 9) == 0) {
            put = num;
            len = strlen(num);
            t += 9;
        } else {
            t++;
        }
        if (n + len >= outlen)
            return sks_fail_field(err, SKS_ERR_INPUT, CODE_CONFIG, FIELD,
                                  "the URL for %s version %u is longer than %zu bytes", identity,
                                  version, outlen - 1);
        memcpy(out + n, put, len);
        n += len;
    }
    out[n] = '\0';
    return SKS_OK;
}

sks_status acme_publisher_x5u(const struct acme_publisher *p, const char *identity,
                              unsigned int version, char *out, size_t outlen, struct sks_error *err)
{
    /* The name goes into a URL and a file name as it is: hold it to the key store's alphabet. */
    if (!sks_identity_name_ok(identity))
        return sks_fail_field(err, SKS_ERR_INPUT, "identity", "identity",
                              "\"%s\" is not an identity name", identity);
    return expand(p->x5u, identity, version, out, outlen, err);
}

/* ---- method = directory --------------------------------------------------------------------- */

static sks_status path_fail(const char *x5u, const char *why, struct sks_error *err)
{
    return sks_fail_field(err, SKS_ERR_POLICY, CODE_PATH, FIELD, "publish to the directory: %s %s",
                          x5u, why);
}

/*
 * The path of |x5u| below url_prefix, each segment a plain name: no "..",
 * ".", empty segment, percent-escape (which an HTTP server would decode to
 * another name), query or fragment.
 */
static sks_status relative_path(const struct acme_publisher *p, const char *x5u, char **rel,
                                struct sks_error *err)
{
    size_t plen = strlen(p->url_prefix);
    const char *r;

    *rel = NULL;
    if (strncmp(x5u, p->url_prefix, plen) != 0)
        return path_fail(x5u, "is not below url_prefix", err);
    r = x5u + plen;
    if (plen > 0 && p->url_prefix[plen - 1] != '/' && *r++ != '/')
        return path_fail(x5u, "is not below url_prefix", err);
    if (*r == '\0' || strpbrk(r, "%?#\\") != NULL)
        return path_fail(x5u, "names no plain file path below url_prefix (no %, ? # or \\)", err);
    for (const char *s = r; *s != '\0';) {
        size_t len = strcspn(s, "/");

        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return path_fail(x5u, "escapes the directory (an empty, . or .. segment)", err);
        s += len;
        if (*s == '/')
            s++;
        if (*s == '\0' && s[-1] == '/')
            return path_fail(x5u, "names a directory, not a file", err);
    }
    if ((*rel = strdup(r)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    return SKS_OK;
}

/* Opens (making it when missing) the subdirectory |name| of |dfd|, never through a symlink. */
static int open_subdir(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT && mkdirat(dfd, name, 0755) == 0)
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

static bool write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Writes |chain| as |name| in |dfd|: a temporary file, fsync, rename, fsync of the directory. */
static sks_status write_file(int dfd, const char *name, const char *where, const char *chain,
                             size_t len, struct sks_error *err)
{
    char tmp[NAME_MAX + 1];
    struct stat sb;
    int fd, e;

    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(sb.st_mode))
        return sks_fail_field(err, SKS_ERR_POLICY, CODE_PATH, FIELD,
                              "publish to the directory: %s is %s, not a regular file", where,
                              S_ISLNK(sb.st_mode) ? "a symbolic link" : "something else");
    if (snprintf(tmp, sizeof(tmp), ".%.200s.%ld.tmp", name, (long)getpid()) >= (int)sizeof(tmp))
        return sks_fail_field(err, SKS_ERR_INPUT, CODE_PATH, FIELD, "%s: the name is too long",
                              where);
    unlinkat(dfd, tmp, 0);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    /* Served to anyone: 0644 whatever the umask. */
    if (fchmod(fd, 0644) != 0 || !write_all(fd, chain, len) || fsync(fd) != 0) {
        e = errno;
        close(fd);
        unlinkat(dfd, tmp, 0);
        errno = e;
        goto fail;
    }
    if (close(fd) != 0 || renameat(dfd, tmp, dfd, name) != 0) {
        e = errno;
        unlinkat(dfd, tmp, 0);
        errno = e;
        goto fail;
    }
    if (fsync(dfd) != 0)
        goto fail;
    return SKS_OK;
fail:
    return sks_fail_field(err, SKS_ERR_SYSTEM, CODE_PATH, FIELD,
                          "publish to the directory: cannot write %s: %s", where, strerror(errno));
}

static sks_status publish_directory(const struct acme_publisher *p, const char *x5u,
                                    const char *chain, size_t len, struct sks_error *err)
{
    char *rel = NULL, *seg, *slash, where[PATH_MAX + 64];
    sks_status st = relative_path(p, x5u, &rel, err);
    int dfd = -1, next;

    if (st != SKS_OK)
        return st;
    snprintf(where, sizeof(where), "%s/%s", p->directory, rel);
    if ((dfd = open(p->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        st = sks_fail_field(err, SKS_ERR_SYSTEM, CODE_PATH, FIELD,
                            "publish to the directory: cannot open %s: %s", p->directory,
                            strerror(errno));
        goto done;
    }
    for (seg = rel; (slash = strchr(seg, '/')) != NULL; seg = slash + 1) {
        *slash = '\0';
        next = open_subdir(dfd, seg);
        if (next < 0) {
            st = sks_fail_field(err, SKS_ERR_POLICY, CODE_PATH, FIELD,
                                "publish to the directory: %s: %s%s", where,
                                errno == ELOOP || errno == ENOTDIR
                                    ? "a directory on the way is a symbolic link or a file"
                                    : "cannot open a directory on the way: ",
                                errno == ELOOP || errno == ENOTDIR ? "" : strerror(errno));
            goto done;
        }
        close(dfd);
        dfd = next;
    }
    st = write_file(dfd, seg, where, chain, len, err);
done:
    if (dfd >= 0)
        close(dfd);
    free(rel);
    return st;
}

/* ---- method = put --------------------------------------------------------------------------- */

static void fetch_opts(const struct acme_publisher *p, struct sks_fetch_opts *o)
{
    sks_fetch_opts_init(o);
    o->max_bytes = ACME_PUBLISH_MAX_BYTES;
    o->ca_file = p->ca_file;
    o->allow_private = p->allow_private;
    o->timeout_ms = p->timeout_ms;
    if (o->connect_timeout_ms > p->timeout_ms)
        o->connect_timeout_ms = p->timeout_ms;
}

/* The first line of credentials_file: the Authorization header's value (a secret). */
static sks_status read_credentials(const struct acme_publisher *p, char **auth, size_t *size,
                                   struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0, n;
    sks_status st = sks_file_read(p->credentials_file, CREDENTIALS_MAX, &data, &len, err);

    *auth = NULL;
    if (st != SKS_OK) {
        sks_error_prefix(err, "[publish] credentials_file");
        return st;
    }
    n = strcspn((const char *)data, "\r\n");
    data[n] = '\0';
    while (n > 0 && (data[n - 1] == ' ' || data[n - 1] == '\t'))
        data[--n] = '\0';
    if (n == 0 || memchr(data, '\0', n) != NULL) {
        OPENSSL_clear_free(data, len + 1);
        return sks_fail_field(err, SKS_ERR_INPUT, CODE_CONFIG, FIELD,
                              "[publish] credentials_file %s: the first line must hold the "
                              "Authorization header's value (e.g. \"Bearer ...\")",
                              p->credentials_file);
    }
    *auth = (char *)data;
    *size = len + 1;
    return SKS_OK;
}

static sks_status publish_put(const struct acme_publisher *p, const char *identity,
                              unsigned int version, const char *x5u, const char *chain, size_t len,
                              struct sks_error *err)
{
    char url[SKS_X5U_MAX + 1], *auth = NULL;
    struct sks_fetch_request req = {.method = "PUT",
                                    .content_type = "application/pem-certificate-chain",
                                    .body = chain,
                                    .body_len = len,
                                    .any_status = true};
    struct sks_fetched got = {0};
    struct sks_fetch_opts o;
    size_t size = 0;
    sks_status st;

    if (p->put_url == NULL)
        snprintf(url, sizeof(url), "%s", x5u);
    else if ((st = expand(p->put_url, identity, version, url, sizeof(url), err)) != SKS_OK)
        return st;
    if ((st = read_credentials(p, &auth, &size, err)) != SKS_OK)
        return st;
    fetch_opts(p, &o);
    req.authorization = auth;
    st = sks_fetch_request(&o, url, &req, &got, err);
    OPENSSL_clear_free(auth, size);
    if (st != SKS_OK) {
        sks_error_prefix(err, "publish by PUT");
        return st;
    }
    if (got.status < 200 || got.status > 299)
        st = sks_fail_field(
            err, got.status == 401 || got.status == 403 ? SKS_ERR_AUTH : SKS_ERR_UNAVAILABLE,
            CODE_PUT, FIELD,
            "the STI-CR refused the PUT of the chain to %s: HTTP "
            "status %ld%s",
            url, got.status,
            got.status == 401 || got.status == 403
                ? " (the credentials of [publish] credentials_file were refused)"
                : "");
    sks_fetched_clear(&got);
    return st;
}

/* ---- method = command ----------------------------------------------------------------------- */

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Keeps the last STDERR_KEEP bytes the hook wrote on stderr. */
static void keep_tail(char *buf, size_t *n, const char *in, size_t len)
{
    if (len > STDERR_KEEP) {
        in += len - STDERR_KEEP;
        len = STDERR_KEEP;
    }
    if (*n + len > STDERR_KEEP) {
        size_t drop = *n + len - STDERR_KEEP;

        memmove(buf, buf + drop, *n - drop);
        *n -= drop;
    }
    memcpy(buf + *n, in, len);
    *n += len;
}

/* The last non-empty line of |buf|, unprintable bytes replaced, at most 200 bytes. */
static void last_line(const char *buf, size_t n, char *out, size_t outlen)
{
    size_t end = n, start, k = 0;

    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        end--;
    start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    if (end - start > 200)
        start = end - 200;
    for (size_t i = start; i < end && k + 1 < outlen; i++)
        out[k++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
    out[k] = '\0';
}

/*
 * Feeds |chain| to the hook's stdin and reads its stderr until it closes
 * both, within |timeout_ms|.  SKS_ERR_UNAVAILABLE when time ran out.
 */
static sks_status talk_to_hook(int in, int errfd, const char *chain, size_t len, long timeout_ms,
                               char *tail, size_t *ntail)
{
    struct timespec t0;
    size_t sent = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (len == 0) {
        close(in);
        in = -1;
    }
    while (errfd >= 0) {
        struct pollfd fds[2] = {{errfd, POLLIN, 0}, {in, POLLOUT, 0}};
        long left = timeout_ms - ms_since(&t0);
        char buf[1024];
        ssize_t n;

        if (left <= 0)
            break;
        if (poll(fds, in >= 0 ? 2 : 1, (int)left) < 0 && errno != EINTR)
            break;
        if (in >= 0 && fds[1].revents != 0) {
            n = write(in, chain + sent, len - sent);
            if (n > 0)
                sent += (size_t)n;
            /* Done, or the hook closed its stdin without reading it all: its exit will say. */
            if (sent == len || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                close(in);
                in = -1;
            }
        }
        if (fds[0].revents != 0) {
            n = read(errfd, buf, sizeof(buf));
            if (n > 0) {
                keep_tail(tail, ntail, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(errfd);
                errfd = -1;
            }
        }
    }
    if (in >= 0)
        close(in);
    if (errfd >= 0) {
        close(errfd);
        return SKS_ERR_UNAVAILABLE;
    }
    return SKS_OK;
}

/* The child: stdin, stdout and stderr set, the values in the environment, no shell. */
static void exec_hook(const struct acme_publisher *p, int in, int errfd, const char *identity,
                      unsigned int version, const char *x5u)
{
    char num[16];
    int null = open("/dev/null", O_WRONLY);

    snprintf(num, sizeof(num), "%u", version);
    if (dup2(in, STDIN_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0 || null < 0 ||
        dup2(null, STDOUT_FILENO) < 0 || setenv("SKS_IDENTITY", identity, 1) != 0 ||
        setenv("SKS_VERSION", num, 1) != 0 || setenv("SKS_X5U", x5u, 1) != 0)
        _exit(126);
    signal(SIGPIPE, SIG_DFL);
    execl(p->command, p->command, (char *)NULL);
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", p->command, strerror(errno));
    _exit(127);
}

static sks_status publish_command(const struct acme_publisher *p, const char *identity,
                                  unsigned int version, const char *x5u, const char *chain,
                                  size_t len, struct sks_error *err)
{
    int in[2], errp[2], status = 0;
    char tail[STDERR_KEEP], line[256];
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    size_t ntail = 0;
    sks_status st;
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "pipe for the publish command: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return sks_fail(err, SKS_ERR_SYSTEM, "pipe for the publish command: %s", strerror(errno));
    }
    /* A hook that exits without reading its stdin must not kill us with SIGPIPE. */
    sigaction(SIGPIPE, &ign, &old);
    pid = fork();
    if (pid == 0)
        exec_hook(p, in[0], errp[1], identity, version, x5u);
    close(in[0]);
    close(errp[1]);
    if (pid < 0) {
        close(in[1]);
        close(errp[0]);
        sigaction(SIGPIPE, &old, NULL);
        return sks_fail(err, SKS_ERR_SYSTEM, "fork for the publish command: %s", strerror(errno));
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    st = talk_to_hook(in[1], errp[0], chain, len, p->command_timeout * 1000, tail, &ntail);
    if (st != SKS_OK)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGPIPE, &old, NULL);
    last_line(tail, ntail, line, sizeof(line));
    if (st != SKS_OK)
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, CODE_COMMAND, FIELD,
                              "the publish command %s did not finish within %ld s and was killed",
                              p->command, p->command_timeout);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SKS_OK;
    if (WIFEXITED(status))
        return sks_fail_field(err, SKS_ERR_UNAVAILABLE, CODE_COMMAND, FIELD,
                              "the publish command %s exited with status %d%s%s", p->command,
                              WEXITSTATUS(status), line[0] != '\0' ? ": " : "", line);
    return sks_fail_field(err, SKS_ERR_UNAVAILABLE, CODE_COMMAND, FIELD,
                          "the publish command %s was killed by signal %d%s%s", p->command,
                          WTERMSIG(status), line[0] != '\0' ? ": " : "", line);
}

/* ---- the GET check -------------------------------------------------------------------------- */

sks_status acme_publish_check(const struct acme_publisher *p, const char *x5u, const char *chain,
                              size_t len, struct sks_error *err)
{
    struct sks_fetch_opts o;
    struct timespec t0;
    unsigned int pause = 1;
    sks_status st;

    fetch_opts(p, &o);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct sks_fetched got = {0};
        size_t served = 0;
        long left;

        st = sks_fetch(&o, x5u, &got, err);
        if (st == SKS_OK) {
            served = got.len;
            if (got.len == len && memcmp(got.data, chain, len) == 0) {
                sks_fetched_clear(&got);
                return SKS_OK;
            }
            sks_fetched_clear(&got);
        }
        left = p->verify_wait * 1000 - ms_since(&t0);
        if (left <= 0) {
            if (st != SKS_OK) {
                sks_error_prefix(err,
                                 "the STI-CR does not serve the chain published at %s "
                                 "(checked for %ld s)",
                                 x5u, p->verify_wait);
                sks_error_set_field(err, CODE_MISMATCH, FIELD);
                return st;
            }
            return sks_fail_field(err, SKS_ERR_UNAVAILABLE, CODE_MISMATCH, FIELD,
                                  "the STI-CR serves a different chain at %s (%zu bytes, not the "
                                  "%zu published; checked for %ld s)",
                                  x5u, served, len, p->verify_wait);
        }
        if ((long)pause * 1000 < left)
            sleep(pause);
        else
            usleep((useconds_t)left * 1000);
        if (pause < CHECK_PAUSE_MAX)
            pause *= 2;
    }
}

sks_status acme_publish(const struct acme_publisher *p, const char *identity, unsigned int version,
                        const char *x5u, const char *chain, size_t len, struct sks_error *err)
{
    sks_status st;

    if (len > ACME_PUBLISH_MAX_BYTES)
        return sks_fail_field(err, SKS_ERR_INPUT, CODE_CONFIG, FIELD,
                              "the chain of %s version %u is larger than the %d bytes published",
                              identity, version, ACME_PUBLISH_MAX_BYTES);
    switch (p->method) {
    case METHOD_DIRECTORY:
        st = publish_directory(p, x5u, chain, len, err);
        break;
    case METHOD_PUT:
        st = publish_put(p, identity, version, x5u, chain, len, err);
        break;
    default:
        st = publish_command(p, identity, version, x5u, chain, len, err);
        break;
    }
    return st == SKS_OK ? acme_publish_check(p, x5u, chain, len, err) : st;
}
