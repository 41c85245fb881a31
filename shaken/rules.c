/*
 * The shared input rules (rules.h): x5u, origid, SPC and chain length.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shaken/rules.h"

/* ---- origid ---------------------------------------------------------------- */

bool sks_uuid_valid(const char *s)
{
    size_t i;

    for (i = 0; i < SKS_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return s[SKS_UUID_LEN] == '\0';
}

/* ---- x5u ------------------------------------------------------------------- */

/* Which URL is judged: its field ("x5u", "rcd.icn") and the code of its refusals. */
struct url_rule {
    const char *field;
    const char *code;
};

/* Every refusal names the field, so that each front end can point at it. */
static sks_status url_fail(const struct url_rule *r, struct sks_error *err, sks_status st,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static sks_status url_fail(const struct url_rule *r, struct sks_error *err, sks_status st,
                           const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sks_fail(err, st, "%s: %s", r->field, msg);
    sks_error_set_field(err, r->code, r->field);
    return st;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '%';
}

/* The bytes of a URL, one by one: printable ASCII that a URI may hold and a header can carry. */
static sks_status url_bytes(const struct url_rule *r, const char *url, struct sks_error *err)
{
    size_t i;

    for (i = 0; url[i] != '\0'; i++) {
        unsigned char c = (unsigned char)url[i];
        if (i >= SKS_X5U_MAX)
            return url_fail(r, err, SKS_ERR_POLICY, "longer than %d bytes", SKS_X5U_MAX);
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL)
            return url_fail(r, err, SKS_ERR_POLICY,
                            "byte 0x%02x at position %zu, which a URI cannot contain "
                            "(RFC 3986: percent-encode it)",
                            c, i + 1);
        if (c == ';')
            return url_fail(r, err, SKS_ERR_POLICY,
                            "';' at position %zu, which Identity header parsers take for "
                            "the end of info (percent-encode it as %%3B)",
                            i + 1);
        if (c == '%' && !(is_hex(url[i + 1]) && is_hex(url[i + 2])))
            return url_fail(r, err, SKS_ERR_POLICY,
                            "'%%' at position %zu without two hex digits after it", i + 1);
    }
    return SKS_OK;
}

/* The authority of an https URL, between "https://" and the path: host[:port]. */
static sks_status url_authority(const struct url_rule *r, const char *url, const char *host,
                                const char *end, struct sks_error *err)
{
    const char *colon = NULL, *p;
    unsigned long port = 0;

    if (memchr(host, '@', (size_t)(end - host)) != NULL)
        return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has userinfo (user@host)", url);
    if (host[0] == '[') {
        /* RFC 3986 3.2.2: an IPv6 literal. */
        for (p = host + 1; p < end && (is_hex(*p) || *p == ':' || *p == '.'); p++)
            ;
        if (p == host + 1 || p == end || *p != ']')
            return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has a malformed IPv6 host", url);
        p++;
    } else {
        for (p = host; p < end && is_host_char(*p); p++)
            ;
        if (p == host)
            return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has no host", url);
    }
    if (p < end && *p != ':')
        return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has '%c' in its host", url, *p);
    if (p < end) {
        colon = p;
        for (p = colon + 1; p < end && *p >= '0' && *p <= '9' && port <= 65535; p++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (p != end || port < 1 || port > 65535)
            return url_fail(r, err, SKS_ERR_POLICY,
                            "\"%.100s\" has port \"%.*s\", not a number from 1 to 65535", url,
                            (int)(end - colon - 1 > 16 ? 16 : end - colon - 1), colon + 1);
    }
    return SKS_OK;
}

/*
 * The one rule for the URLs a verifier fetches -- x5u, and the content Rich
 * Call Data points at -- for import, activation and signing alike (an x5u
 * that import took and signing refused would leave an identity that cannot
 * sign):
 *
 * - RFC 8224 4.1: an absolute URI, carried as info=<x5u> in the Identity
 *   header, so no byte that a URI cannot hold (controls, space, non-ASCII,
 *   " < > \ ^ ` { | }), a '%' only as a percent-encoding, and no ';',
 *   which header parsers take for the end of info.
 * - ATIS-1000080 5.3 / SHAKEN PKI (ATIS-1000074): the https URL verifiers
 *   fetch from: https, a host (a name, an IPv4 address or an [IPv6]
 *   literal), a port only from 1 to 65535; no userinfo, which would hand
 *   credentials to every verifier; no query or fragment, which make caching
 *   by URL unreliable.
 */
static sks_status url_check(const struct url_rule *r, const char *url, struct sks_error *err)
{
    const char *host, *end;
    sks_status st;

    if (url == NULL || url[0] == '\0')
        return url_fail(r, err, SKS_ERR_INPUT, "empty; it must be an https URL");
    if ((st = url_bytes(r, url, err)) != SKS_OK)
        return st;
    if (strncasecmp(url, "https://", 8) != 0)
        return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" is not an https:// URL", url);
    if (strchr(url, '?') != NULL)
        return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has a query (?...)", url);
    if (strchr(url, '#') != NULL)
        return url_fail(r, err, SKS_ERR_POLICY, "\"%.100s\" has a fragment (#...)", url);
    host = url + 8;
    end = host + strcspn(host, "/");
    return url_authority(r, url, host, end, err);
}

sks_status sks_x5u_check(const char *x5u, struct sks_error *err)
{
    static const struct url_rule x5u_rule = {"x5u", "invalid-x5u"};

    return url_check(&x5u_rule, x5u, err);
}

sks_status sks_url_check(const char *url, const char *field, const char *code,
                         struct sks_error *err)
{
    const struct url_rule r = {field, code};

    return url_check(&r, url, err);
}

/* ---- SPC ------------------------------------------------------------------- */

/* ATIS-1000080: SPCs are OCN-like codes of digits and upper-case letters. */
sks_status sks_spc_check(const char *spc, size_t len, struct sks_error *err)
{
    char shown[SKS_SPC_MAX + 1];
    size_t i;

    if (len == 0)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-spc", "spc", "the SPC is empty");
    if (len > SKS_SPC_MAX)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-spc", "spc",
                              "the SPC is %zu characters; at most %d are allowed", len,
                              SKS_SPC_MAX);
    for (i = 0; i < len; i++) {
        char c = spc[i];

        if ((c < '0' || c > '9') && (c < 'A' || c > 'Z')) {
            size_t j;

            for (j = 0; j < len; j++)
                shown[j] = spc[j] >= 0x20 && spc[j] < 0x7f ? spc[j] : '?';
            shown[len] = '\0';
            return sks_fail_field(
                err, SKS_ERR_INPUT, "invalid-spc", "spc",
                "the SPC \"%s\" has a character other than 0-9 and A-Z at offset %zu", shown, i);
        }
    }
    return SKS_OK;
}

bool sks_spc_valid(const char *spc)
{
    return spc != NULL && sks_spc_check(spc, strlen(spc), NULL) == SKS_OK;
}

sks_status sks_spc_match(const char *cert_spc, const char *want, const char *whose,
                         struct sks_error *err)
{
    if (strcmp(cert_spc, want) == 0)
        return SKS_OK;
    return sks_fail_field(err, SKS_ERR_POLICY, "spc-mismatch", "spc",
                          "spc: the certificate is for SPC %s but %s has SPC %s", cert_spc, whose,
                          want);
}

/* ---- certificate chains ------------------------------------------------------ */

sks_status sks_chain_length_check(int n, struct sks_error *err)
{
    if (n <= SKS_CHAIN_MAX)
        return SKS_OK;
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-chain", "chain",
                          "chain: %d certificates; at most %d are kept", n, SKS_CHAIN_MAX);
}
