/*
 * Logging to stderr, which systemd hands to journald.  Under journald each
 * line starts with an sd-daemon "<N>" priority prefix (sd-daemon(3)); on a
 * terminal the lines stay plain.
 *
 * The audit log is one line per import, activation, retirement and failed
 * authentication: who, what, identity, version, result.  Key material never
 * reaches it: callers pass names, numbers and library messages, which never
 * carry secrets (common/error.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sksd/sksd.h"

#define LOG_LINE_MAX 2048

static bool under_journald(void)
{
    static int cached = -1;

    if (cached < 0)
        cached = getenv("JOURNAL_STREAM") != NULL;
    return cached;
}

/* One write(2) per line, so that lines from several threads never interleave. */
static void emit(enum sksd_log_level level, const char *line, size_t len)
{
    char out[LOG_LINE_MAX + 8];
    int n;

    if (under_journald())
        n = snprintf(out, sizeof(out), "<%d>%.*s\n", (int)level, (int)len, line);
    else
        n = snprintf(out, sizeof(out), "%.*s\n", (int)len, line);
    if (n > (int)sizeof(out) - 1)
        n = (int)sizeof(out) - 1;
    if (write(STDERR_FILENO, out, (size_t)n) < 0)
        return; /* nowhere left to report it */
}

void sksd_log(enum sksd_log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    int n;

    n = snprintf(line, sizeof(line), "sksd: ");
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    emit(level, line, (size_t)n);
}

/*
 * |s| as the inside of a key="value" field: quotes and backslashes escaped,
 * control bytes shown as '?', so that a hostile name cannot forge a field.
 */
static void quote(char *out, size_t size, const char *s)
{
    size_t i, o = 0;

    for (i = 0; s != NULL && s[i] != '\0' && o + 3 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            out[o++] = '\\';
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[o] = '\0';
}

void sksd_audit(const struct sksd_peer *peer, const char *what, const char *identity,
                unsigned int version, const char *result, const char *detail)
{
    char who[2 * sizeof(peer->who)], id[2 * SKS_IDENTITY_NAME_MAX + 1], det[2 * SKS_ERROR_MSG_MAX];
    char ver[24] = "";

    quote(who, sizeof(who), peer != NULL ? peer->who : "unknown");
    quote(id, sizeof(id), identity != NULL ? identity : "-");
    quote(det, sizeof(det), detail != NULL ? detail : "");
    if (version != 0)
        snprintf(ver, sizeof(ver), " version=%u", version);
    sksd_log(strcmp(result, "ok") == 0 ? SKSD_LOG_INFO : SKSD_LOG_WARNING,
             "audit: who=\"%s\" what=%s identity=\"%s\"%s result=%s%s%s%s", who, what, id, ver,
             result, det[0] != '\0' ? " detail=\"" : "", det, det[0] != '\0' ? "\"" : "");
}

unsigned long long sksd_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}
