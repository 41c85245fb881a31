/*
 * PASSporT claims: validation of each claim, the claims of a JSON object
 * and origid UUIDs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "shaken/passport.h"

const char *sks_ppt_name(enum sks_ppt ppt)
{
    return ppt == SKS_PPT_DIV ? "div" : "shaken";
}

/* ---- UUIDs ----------------------------------------------------------------- */

sks_status sks_uuid_v4(char out[SKS_UUID_LEN + 1], struct sks_error *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t i, o = 0;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot generate an origid: the random generator failed");
        sks_error_add_openssl(err);
        return SKS_ERR_SYSTEM;
    }
    /* RFC 4122 section 4.4: version 4, variant 10x. */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return SKS_OK;
}

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

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '%';
}

/* The bytes of x5u, one by one: printable ASCII that a URI may hold and a header can carry. */
static sks_status x5u_bytes(const char *x5u, struct sks_error *err)
{
    size_t i;

    for (i = 0; x5u[i] != '\0'; i++) {
        unsigned char c = (unsigned char)x5u[i];
        if (i >= SKS_X5U_MAX)
            return sks_fail(err, SKS_ERR_POLICY, "x5u is longer than %d bytes", SKS_X5U_MAX);
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL)
            return sks_fail(err, SKS_ERR_POLICY,
                            "x5u has byte 0x%02x at position %zu, which a URI cannot contain "
                            "(RFC 3986: percent-encode it)",
                            c, i + 1);
        if (c == ';')
            return sks_fail(err, SKS_ERR_POLICY,
                            "x5u has ';' at position %zu, which Identity header parsers take for "
                            "the end of info (percent-encode it as %%3B)",
                            i + 1);
        if (c == '%' && !(is_hex(x5u[i + 1]) && is_hex(x5u[i + 2])))
            return sks_fail(err, SKS_ERR_POLICY,
                            "x5u has '%%' at position %zu without two hex digits after it", i + 1);
    }
    return SKS_OK;
}

/* The authority of an https URL, between "https://" and the path: host[:port]. */
static sks_status x5u_authority(const char *x5u, const char *host, const char *end,
                                struct sks_error *err)
{
    const char *colon = NULL, *p;
    unsigned long port = 0;

    if (memchr(host, '@', (size_t)(end - host)) != NULL)
        return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has userinfo (user@host)", x5u);
    if (host[0] == '[') {
        /* RFC 3986 3.2.2: an IPv6 literal. */
        for (p = host + 1; p < end && (is_hex(*p) || *p == ':' || *p == '.'); p++)
            ;
        if (p == host + 1 || p == end || *p != ']')
            return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has a malformed IPv6 host", x5u);
        p++;
    } else {
        for (p = host; p < end && is_host_char(*p); p++)
            ;
        if (p == host)
            return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has no host", x5u);
    }
    if (p < end && *p != ':')
        return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has '%c' in its host", x5u, *p);
    if (p < end) {
        colon = p;
        for (p = colon + 1; p < end && *p >= '0' && *p <= '9' && port <= 65535; p++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (p != end || port < 1 || port > 65535)
            return sks_fail(err, SKS_ERR_POLICY,
                            "x5u: \"%.100s\" has port \"%.*s\", not a number from 1 to 65535", x5u,
                            (int)(end - colon - 1 > 16 ? 16 : end - colon - 1), colon + 1);
    }
    return SKS_OK;
}

/*
 * The one x5u rule, for import, activation and signing alike (an x5u that
 * import took and signing refused would leave an identity that cannot sign):
 *
 * - RFC 8224 4.1: an absolute URI, carried as info=<x5u> in the Identity
 *   header, so no byte that a URI cannot hold (controls, space, non-ASCII,
 *   " < > \ ^ ` { | }), a '%' only as a percent-encoding, and no ';',
 *   which header parsers take for the end of info.
 * - ATIS-1000080 5.3 / SHAKEN PKI (ATIS-1000074): the https URL verifiers
 *   fetch the certificate from: https, a host (a name, an IPv4 address or
 *   an [IPv6] literal), a port only from 1 to 65535; no userinfo, which
 *   would hand credentials to every verifier; no query or fragment, which
 *   make caching by URL unreliable.
 */
sks_status sks_x5u_check(const char *x5u, struct sks_error *err)
{
    const char *host, *end;
    sks_status st;

    if (x5u == NULL || x5u[0] == '\0')
        return sks_fail(err, SKS_ERR_INPUT,
                        "x5u is empty: it must be the https URL of the certificate");
    if ((st = x5u_bytes(x5u, err)) != SKS_OK)
        return st;
    if (strncasecmp(x5u, "https://", 8) != 0)
        return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" is not an https:// URL", x5u);
    if (strchr(x5u, '?') != NULL)
        return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has a query (?...)", x5u);
    if (strchr(x5u, '#') != NULL)
        return sks_fail(err, SKS_ERR_POLICY, "x5u: \"%.100s\" has a fragment (#...)", x5u);
    host = x5u + 8;
    end = host + strcspn(host, "/");
    return x5u_authority(x5u, host, end, err);
}

/* ---- setters ---------------------------------------------------------------- */

sks_status sks_passport_init(struct sks_passport *pp, enum sks_ppt ppt, struct sks_error *err)
{
    memset(pp, 0, sizeof(*pp));
    pp->ppt = ppt;
    pp->iat = (long long)time(NULL);
    if (ppt == SKS_PPT_SHAKEN)
        return sks_uuid_v4(pp->origid, err);
    return SKS_OK;
}

sks_status sks_passport_set_x5u(struct sks_passport *pp, const char *x5u, struct sks_error *err)
{
    if (sks_x5u_check(x5u, err) != SKS_OK)
        return SKS_ERR_INPUT;
    memcpy(pp->x5u, x5u, strlen(x5u) + 1);
    return SKS_OK;
}

sks_status sks_passport_set_orig(struct sks_passport *pp, const char *tn, struct sks_error *err)
{
    char canon[SKS_TN_MAX + 1];

    if (sks_tn_canonicalize(tn, canon, err) != SKS_OK) {
        sks_error_prefix(err, "orig");
        return SKS_ERR_INPUT;
    }
    memcpy(pp->orig, canon, sizeof(canon));
    return SKS_OK;
}

sks_status sks_passport_add_dest(struct sks_passport *pp, const char *tn, struct sks_error *err)
{
    char canon[SKS_TN_MAX + 1];

    if (pp->ndest >= SKS_DEST_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "dest: more than %d TNs", SKS_DEST_MAX);
    if (sks_tn_canonicalize(tn, canon, err) != SKS_OK) {
        sks_error_prefix(err, "dest");
        return SKS_ERR_INPUT;
    }
    memcpy(pp->dest[pp->ndest++], canon, sizeof(canon));
    return SKS_OK;
}

sks_status sks_passport_add_dest_list(struct sks_passport *pp, const char *list,
                                      struct sks_error *err)
{
    unsigned int saved = pp->ndest;
    char tn[64];

    for (;;) {
        const char *comma = strchr(list, ',');
        size_t n = comma != NULL ? (size_t)(comma - list) : strlen(list);

        if (n >= sizeof(tn)) {
            pp->ndest = saved;
            return sks_fail(err, SKS_ERR_INPUT, "dest: TN \"%.20s...\" is far too long", list);
        }
        memcpy(tn, list, n);
        tn[n] = '\0';
        if (sks_passport_add_dest(pp, tn, err) != SKS_OK) {
            pp->ndest = saved;
            return SKS_ERR_INPUT;
        }
        if (comma == NULL)
            return SKS_OK;
        list = comma + 1;
    }
}

sks_status sks_passport_set_div(struct sks_passport *pp, const char *tn, struct sks_error *err)
{
    char canon[SKS_TN_MAX + 1];

    if (pp->ppt != SKS_PPT_DIV)
        return sks_fail(err, SKS_ERR_INPUT, "div: only a div PASSporT has a div claim");
    if (sks_tn_canonicalize(tn, canon, err) != SKS_OK) {
        sks_error_prefix(err, "div");
        return SKS_ERR_INPUT;
    }
    memcpy(pp->div, canon, sizeof(canon));
    return SKS_OK;
}

sks_status sks_passport_set_attest(struct sks_passport *pp, const char *attest,
                                   struct sks_error *err)
{
    if (pp->ppt != SKS_PPT_SHAKEN)
        return sks_fail(err, SKS_ERR_INPUT, "attest: only a SHAKEN PASSporT has attest");
    if (attest[0] < 'A' || attest[0] > 'C' || attest[1] != '\0')
        return sks_fail(err, SKS_ERR_INPUT, "attest \"%.8s\" is not A, B or C (RFC 8588 section 4)",
                        attest);
    pp->attest = attest[0];
    return SKS_OK;
}

sks_status sks_passport_set_origid(struct sks_passport *pp, const char *uuid, struct sks_error *err)
{
    if (pp->ppt != SKS_PPT_SHAKEN)
        return sks_fail(err, SKS_ERR_INPUT, "origid: only a SHAKEN PASSporT has origid");
    if (!sks_uuid_valid(uuid))
        return sks_fail(err, SKS_ERR_INPUT,
                        "origid \"%.40s\" is not a UUID (8-4-4-4-12 hex digits, RFC 4122)", uuid);
    memcpy(pp->origid, uuid, SKS_UUID_LEN + 1);
    return SKS_OK;
}

sks_status sks_passport_set_iat(struct sks_passport *pp, long long iat, struct sks_error *err)
{
    if (iat < 0 || iat > SKS_IAT_MAX)
        return sks_fail(err, SKS_ERR_INPUT,
                        "iat %lld is out of range: seconds since 1970 up to the year 9999", iat);
    pp->iat = iat;
    return SKS_OK;
}

sks_status sks_seconds_parse(const char *s, long long *out, struct sks_error *err)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > SKS_IAT_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "\"%.32s\" is not a number of seconds from 0 to %lld",
                        s, SKS_IAT_MAX);
    *out = v;
    return SKS_OK;
}

/* The struct is public, so what a caller wrote directly is checked too. */
sks_status sks_passport_check_complete(const struct sks_passport *pp, struct sks_error *err)
{
    unsigned int i;

    if (pp->ppt != SKS_PPT_SHAKEN && pp->ppt != SKS_PPT_DIV)
        return sks_fail(err, SKS_ERR_INPUT, "unknown PASSporT type %d", (int)pp->ppt);
    if (memchr(pp->x5u, '\0', sizeof(pp->x5u)) == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "x5u is not NUL-terminated");
    if (sks_x5u_check(pp->x5u, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (pp->orig[0] == '\0')
        return sks_fail(err, SKS_ERR_INPUT, "orig is missing");
    if (sks_tn_check_canonical(pp->orig, err) != SKS_OK)
        goto bad_tn;
    if (pp->ndest == 0)
        return sks_fail(err, SKS_ERR_INPUT, "dest is missing: give at least one TN");
    if (pp->ndest > SKS_DEST_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "dest: more than %d TNs", SKS_DEST_MAX);
    for (i = 0; i < pp->ndest; i++) {
        if (sks_tn_check_canonical(pp->dest[i], err) != SKS_OK)
            goto bad_tn;
    }
    if (pp->iat < 0 || pp->iat > SKS_IAT_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "iat %lld is out of range", pp->iat);
    if (pp->ppt == SKS_PPT_SHAKEN) {
        if (pp->attest < 'A' || pp->attest > 'C')
            return sks_fail(err, SKS_ERR_INPUT, "attest is missing: it must be A, B or C");
        if (!sks_uuid_valid(pp->origid))
            return sks_fail(err, SKS_ERR_INPUT, "origid is missing or not a UUID");
    } else if (pp->div[0] == '\0') {
        return sks_fail(err, SKS_ERR_INPUT,
                        "div is missing: a div PASSporT names the diverting TN");
    } else if (sks_tn_check_canonical(pp->div, err) != SKS_OK) {
        goto bad_tn;
    }
    return SKS_OK;
bad_tn:
    sks_error_prefix(err, "PASSporT claims");
    return SKS_ERR_INPUT;
}

/* ---- claims from JSON ------------------------------------------------------- */

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

static sks_status wrong_type(const char *name, const json_t *v, const char *want,
                             struct sks_error *err)
{
    return sks_fail(err, SKS_ERR_INPUT, "claim %s is %s; it must be %s (RFC 8225 section 5)", name,
                    json_type_name(v), want);
}

static sks_status read_tn(const char *name, const json_t *v, enum sks_claims_mode mode,
                          char out[SKS_TN_MAX + 1], struct sks_error *err)
{
    const char *tn;

    if (!json_is_string(v))
        return wrong_type(name, v, "a string", err);
    tn = json_string_value(v);
    if (mode == SKS_CLAIMS_TO_SIGN) {
        if (sks_tn_canonicalize(tn, out, err) != SKS_OK)
            goto bad;
    } else {
        if (sks_tn_check_canonical(tn, err) != SKS_OK)
            goto bad;
        memcpy(out, tn, strlen(tn) + 1);
    }
    return SKS_OK;
bad:
    sks_error_prefix(err, "claim %s", name);
    return SKS_ERR_INPUT;
}

/* "orig", "div": {"tn": "..."} */
static sks_status read_tn_object(const char *name, const json_t *obj, enum sks_claims_mode mode,
                                 char out[SKS_TN_MAX + 1], struct sks_error *err)
{
    char field[16];

    if (obj == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "claim %s is missing", name);
    if (!json_is_object(obj))
        return wrong_type(name, obj, "an object", err);
    snprintf(field, sizeof(field), "%s.tn", name);
    if (json_object_get(obj, "tn") == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "claim %s is missing: only TNs are supported", field);
    return read_tn(field, json_object_get(obj, "tn"), mode, out, err);
}

/* "dest": {"tn": ["...", ...]} */
static sks_status read_dest(const json_t *obj, enum sks_claims_mode mode, struct sks_passport *pp,
                            struct sks_error *err)
{
    const json_t *arr;
    size_t i;

    if (obj == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "claim dest is missing");
    if (!json_is_object(obj))
        return wrong_type("dest", obj, "an object", err);
    arr = json_object_get(obj, "tn");
    if (arr == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "claim dest.tn is missing: only TNs are supported");
    if (!json_is_array(arr))
        return wrong_type("dest.tn", arr, "an array of strings", err);
    if (json_array_size(arr) == 0 || json_array_size(arr) > SKS_DEST_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "claim dest.tn has %zu TNs; it must have 1 to %d",
                        json_array_size(arr), SKS_DEST_MAX);
    for (i = 0; i < json_array_size(arr); i++) {
        if (read_tn("dest.tn[]", json_array_get(arr, i), mode, pp->dest[i], err) != SKS_OK)
            return SKS_ERR_INPUT;
    }
    pp->ndest = (unsigned int)i;
    return SKS_OK;
}

static sks_status read_iat(const json_t *v, enum sks_claims_mode mode, struct sks_passport *pp,
                           struct sks_error *err)
{
    if (v == NULL) {
        if (mode == SKS_CLAIMS_TO_SIGN)
            return SKS_OK;
        return sks_fail(err, SKS_ERR_INPUT, "claim iat is missing");
    }
    if (!json_is_integer(v))
        return wrong_type("iat", v, "an integer", err);
    if (sks_passport_set_iat(pp, (long long)json_integer_value(v), err) != SKS_OK) {
        sks_error_prefix(err, "claim iat");
        return SKS_ERR_INPUT;
    }
    return SKS_OK;
}

static sks_status read_shaken(const json_t *root, enum sks_claims_mode mode,
                              struct sks_passport *pp, struct sks_error *err)
{
    const json_t *attest = json_object_get(root, "attest");
    const json_t *origid = json_object_get(root, "origid");

    if (attest == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "claim attest is missing (RFC 8588 section 4)");
    if (!json_is_string(attest))
        return wrong_type("attest", attest, "a string", err);
    if (sks_passport_set_attest(pp, json_string_value(attest), err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (origid == NULL) {
        if (mode == SKS_CLAIMS_TO_SIGN)
            return SKS_OK;
        return sks_fail(err, SKS_ERR_INPUT, "claim origid is missing (RFC 8588 section 5)");
    }
    if (!json_is_string(origid))
        return wrong_type("origid", origid, "a string", err);
    return sks_passport_set_origid(pp, json_string_value(origid), err);
}

static sks_status read_claims(const json_t *root, enum sks_claims_mode mode,
                              struct sks_passport *pp, struct sks_error *err)
{
    if (!json_is_object(root))
        return sks_fail(err, SKS_ERR_INPUT, "the claims are %s, not a JSON object",
                        json_type_name(root));
    if (read_tn_object("orig", json_object_get(root, "orig"), mode, pp->orig, err) != SKS_OK ||
        read_dest(json_object_get(root, "dest"), mode, pp, err) != SKS_OK ||
        read_iat(json_object_get(root, "iat"), mode, pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (pp->ppt == SKS_PPT_DIV)
        return read_tn_object("div", json_object_get(root, "div"), mode, pp->div, err);
    return read_shaken(root, mode, pp, err);
}

sks_status sks_passport_claims_from_json(struct sks_passport *pp, const char *json, size_t len,
                                         enum sks_claims_mode mode, struct sks_error *err)
{
    struct sks_passport tmp = *pp;
    json_error_t jerr;
    json_t *root;
    sks_status st;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "the claims are not valid JSON: %s (byte %d)",
                        jerr.text, jerr.position);
    tmp.ndest = 0;
    st = read_claims(root, mode, &tmp, err);
    json_decref(root);
    if (st == SKS_OK)
        *pp = tmp;
    return st;
}
