/*
 * The SIP Identity header value (RFC 8224 section 4):
 *
 *   Identity = signed-identity-digest SEMI ident-info *( SEMI ident-info-params )
 *   ident-info = "info" EQUAL "<" absoluteURI ">"
 *   ident-info-params = "alg" EQUAL token / "ppt" EQUAL token / generic-param
 *
 * SEMI and EQUAL allow whitespace on either side; parameter names and
 * values are case-insensitive (RFC 3261 section 7.3.1).  ppt is a token in the grammar,
 * but quoted values are common in the field and accepted.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "shaken/identity.h"

#define QUOTE_MAX 64

enum { PARAM_INFO = 1, PARAM_ALG = 2, PARAM_PPT = 4 };

const char *sks_sip_reason(int code)
{
    switch (code) {
    case SKS_SIP_OK:
        return "OK";
    case SKS_SIP_STALE_DATE:
        return "Stale Date";
    case SKS_SIP_USE_IDENTITY_HEADER:
        return "Use Identity Header";
    case SKS_SIP_BAD_IDENTITY_INFO:
        return "Bad Identity Info";
    case SKS_SIP_UNSUPPORTED_CREDENTIAL:
        return "Unsupported Credential";
    case SKS_SIP_INVALID_IDENTITY_HEADER:
        return "Invalid Identity Header";
    default:
        break;
    }
    return "Server Internal Error";
}

static bool is_sws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 3261 section 25.1: token characters. */
static bool is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

static const char *skip_sws(const char *p, const char *end)
{
    while (p < end && is_sws(*p))
        p++;
    return p;
}

/* A piece of the input, for messages: printable and bounded. */
static const char *piece(const char *s, size_t len, char buf[QUOTE_MAX])
{
    char tmp[QUOTE_MAX];

    if (len >= sizeof(tmp))
        len = sizeof(tmp) - 1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return sks_printable(tmp, buf, QUOTE_MAX);
}

static const char *skip_sws_back(const char *start, const char *end)
{
    while (end > start && is_sws(end[-1]))
        end--;
    return end;
}

static sks_status invalid(int *sip, struct sks_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sks_status invalid(int *sip, struct sks_error *err, const char *fmt, ...)
{
    va_list ap;

    *sip = SKS_SIP_INVALID_IDENTITY_HEADER;
    va_start(ap, fmt);
    sks_vfail(err, SKS_ERR_INPUT, fmt, ap);
    va_end(ap);
    return SKS_ERR_INPUT;
}

static sks_status split_jws(const char *jws, size_t len, struct sks_identity *id, int *sip,
                            struct sks_error *err)
{
    const char *dot1, *dot2;

    if (len == 0)
        return invalid(sip, err, "the Identity header has no PASSporT before its first ';'");
    dot1 = memchr(jws, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jws)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jws)) != NULL)
        return invalid(sip, err,
                       "the PASSporT is not a JWS of three parts (header.claims.signature)");
    id->header_b64 = jws;
    id->header_b64_len = (size_t)(dot1 - jws);
    id->claims_b64 = dot1 + 1;
    id->claims_b64_len = (size_t)(dot2 - dot1 - 1);
    id->sig_b64 = dot2 + 1;
    id->sig_b64_len = len - (size_t)(dot2 + 1 - jws);
    id->signing_input_len = (size_t)(dot2 - jws);
    if (id->header_b64_len == 0)
        return invalid(sip, err, "the PASSporT has an empty header");
    if (id->claims_b64_len == 0)
        return invalid(sip, err,
                       "the PASSporT has empty claims (compact form); only the full form is "
                       "supported");
    return SKS_OK;
}

/* A parameter value: token, quoted-string or <...>.  |*p| moves past it. */
static sks_status read_value(const char **p, const char *end, const char **val, size_t *len,
                             int *sip, struct sks_error *err)
{
    const char *s = *p, *q;

    if (s < end && (*s == '"' || *s == '<')) {
        char close = *s == '"' ? '"' : '>';
        for (q = s + 1; q < end && *q != close; q++) {
            if (close == '"' && *q == '\\' && q + 1 < end)
                q++; /* quoted-pair */
        }
        if (q >= end)
            return invalid(sip, err, "an Identity header parameter value has no closing %s",
                           close == '"' ? "'\"'" : "'>'");
        *val = s + 1;
        *len = (size_t)(q - s - 1);
        *p = q + 1;
        return SKS_OK;
    }
    for (q = s; q < end && is_token_char(*q); q++)
        ;
    *val = s;
    *len = (size_t)(q - s);
    *p = q;
    return SKS_OK;
}

/* Case-insensitive, as names and values of SIP header parameters are. */
static bool token_is(const char *s, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

/* |opener| is the first character of the value: '<' for the RFC 8224 form. */
static sks_status set_info(char opener, const char *val, size_t len, struct sks_identity *id,
                           int *sip, struct sks_error *err)
{
    char q[QUOTE_MAX];
    size_t i;

    *sip = SKS_SIP_BAD_IDENTITY_INFO;
    if (opener != '<')
        return sks_fail(err, SKS_ERR_INPUT,
                        "info \"%s\" is not in angle brackets: it must be info=<URI> "
                        "(RFC 8224 section 4)",
                        piece(val, len, q));
    if (len == 0)
        return sks_fail(err, SKS_ERR_INPUT, "info is empty: it must name the certificate URL");
    if (len > SKS_X5U_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "info is %zu bytes; the limit is %d", len, SKS_X5U_MAX);
    for (i = 0; i < len; i++) {
        if ((unsigned char)val[i] <= 0x20 || val[i] == 0x7f || val[i] == '<')
            return sks_fail(err, SKS_ERR_INPUT,
                            "info \"%s\" has byte 0x%02x at position %zu, which a URI cannot "
                            "contain",
                            piece(val, len, q), (unsigned char)val[i], i + 1);
    }
    memcpy(id->info, val, len);
    id->info[len] = '\0';
    return SKS_OK;
}

static sks_status set_ppt(const char *val, size_t len, struct sks_identity *id, int *sip,
                          struct sks_error *err)
{
    char q[QUOTE_MAX];

    if (token_is(val, len, "shaken")) {
        id->ppt = SKS_PPT_SHAKEN;
    } else if (token_is(val, len, "div")) {
        id->ppt = SKS_PPT_DIV;
    } else if (token_is(val, len, "rcd")) {
        id->ppt = SKS_PPT_RCD;
    } else {
        return invalid(sip, err,
                       "the Identity header's ppt \"%s\" is not supported (only shaken, div "
                       "and rcd)",
                       piece(val, len, q));
    }
    return SKS_OK;
}

static sks_status set_alg(const char *val, size_t len, int *sip, struct sks_error *err)
{
    char q[QUOTE_MAX];

    if (token_is(val, len, "ES256"))
        return SKS_OK;
    *sip = SKS_SIP_UNSUPPORTED_CREDENTIAL;
    return sks_fail(err, SKS_ERR_POLICY,
                    "the Identity header's alg \"%s\" is not supported; SHAKEN uses ES256 "
                    "(RFC 8588)",
                    piece(val, len, q));
}

static unsigned int param_bit(const char *name, size_t len)
{
    if (token_is(name, len, "info"))
        return PARAM_INFO;
    if (token_is(name, len, "alg"))
        return PARAM_ALG;
    if (token_is(name, len, "ppt"))
        return PARAM_PPT;
    return 0; /* generic-param: not ours to judge */
}

/* One ";name=value" starting at the ';'.  |seen| records which came. */
static sks_status read_param(const char **p, const char *end, struct sks_identity *id,
                             unsigned int *seen, int *sip, struct sks_error *err)
{
    const char *s = skip_sws(*p + 1, end), *name, *val = "";
    char opener = '\0', q[QUOTE_MAX];
    size_t name_len, len = 0;
    unsigned int bit;

    for (name = s; s < end && is_token_char(*s); s++)
        ;
    name_len = (size_t)(s - name);
    if (name_len == 0)
        return invalid(sip, err, "the Identity header has an empty parameter near \"%s\"",
                       piece(*p, (size_t)(end - *p), q));
    bit = param_bit(name, name_len);
    s = skip_sws(s, end);
    if (s < end && *s == '=') {
        s = skip_sws(s + 1, end);
        opener = s < end ? *s : '\0';
        if (bit == PARAM_INFO && opener != '<') {
            /* A bare URI may hold anything up to the next ';': show that much. */
            const char *semi = memchr(s, ';', (size_t)(end - s));
            return set_info(opener, s, (size_t)((semi != NULL ? semi : end) - s), id, sip, err);
        }
        if (read_value(&s, end, &val, &len, sip, err) != SKS_OK)
            return SKS_ERR_INPUT;
    }
    *p = skip_sws(s, end);
    if (*p < end && **p != ';')
        return invalid(sip, err, "unexpected text \"%s\" in the Identity header parameters",
                       piece(*p, (size_t)(end - *p), q));
    if (bit == 0)
        return SKS_OK;
    if ((*seen & bit) != 0)
        return invalid(sip, err, "the Identity header has the %s parameter twice",
                       piece(name, name_len, q));
    *seen |= bit;
    if (bit == PARAM_INFO)
        return set_info(opener, val, len, id, sip, err);
    if (bit == PARAM_ALG) {
        id->has_alg = true;
        return set_alg(val, len, sip, err);
    }
    return set_ppt(val, len, id, sip, err);
}

sks_status sks_identity_parse(const char *hdr, size_t len, struct sks_identity *id, int *sip,
                              struct sks_error *err)
{
    const char *p = hdr, *end = hdr + len, *jws_end;
    unsigned int seen = 0;

    memset(id, 0, sizeof(*id));
    p = skip_sws(p, end);
    end = skip_sws_back(p, end);
    if (p == end) {
        *sip = SKS_SIP_USE_IDENTITY_HEADER;
        return sks_fail(err, SKS_ERR_INPUT,
                        "there is no Identity header: the request carries "
                        "no PASSporT");
    }
    if ((size_t)(end - p) > SKS_IDENTITY_MAX) {
        *sip = SKS_SIP_INVALID_IDENTITY_HEADER;
        return sks_fail(err, SKS_ERR_INPUT, "the Identity header is %zu bytes; the limit is %d",
                        (size_t)(end - p), SKS_IDENTITY_MAX);
    }
    jws_end = memchr(p, ';', (size_t)(end - p));
    if (jws_end == NULL)
        jws_end = end;
    if (split_jws(p, (size_t)(skip_sws_back(p, jws_end) - p), id, sip, err) != SKS_OK)
        return SKS_ERR_INPUT;
    for (p = jws_end; p < end;) {
        sks_status st = read_param(&p, end, id, &seen, sip, err);
        if (st != SKS_OK)
            return st;
    }
    if ((seen & PARAM_INFO) == 0) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        return sks_fail(err, SKS_ERR_INPUT,
                        "the Identity header has no info parameter naming "
                        "the certificate (RFC 8224 section 4)");
    }
    if ((seen & PARAM_PPT) == 0)
        return invalid(sip, err,
                       "the Identity header has no ppt parameter; SHAKEN and div "
                       "PASSporTs need one (RFC 8224 section 4)");
    return SKS_OK;
}
