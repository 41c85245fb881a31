/*
 * PASSporT encoding: canonical JSON (RFC 8225 section 9), the JWS signing
 * input and the SIP Identity header value (RFC 8224 section 4).
 *
 * The JSON is written directly rather than built with jansson: the members
 * of each object are fixed, so emitting them in sorted order is the whole
 * of canonicalization, and the hot path stays free of allocations.  The unit
 * tests check the output against jansson's JSON_COMPACT | JSON_SORT_KEYS.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "shaken/b64url.h"
#include "shaken/passport.h"

/* {"alg":"ES256","ppt":"shaken","typ":"passport","x5u":""} plus the URL. */
#define HEADER_JSON_MAX (SKS_X5U_MAX + 64)
/*
 * The SHAKEN claims with SKS_DEST_MAX TNs of SKS_TN_MAX digits take 760;
 * Rich Call Data adds its JSON and a crn that escaping may double.
 */
#define CLAIMS_JSON_MAX (1024 + SKS_RCD_JSON_MAX + SKS_RCDI_JSON_MAX + 2 * SKS_CRN_MAX + 32)

/* An output buffer that remembers whether anything did not fit. */
struct jbuf {
    char *p;
    size_t size;
    size_t len;
    bool overflow;
};

static void put(struct jbuf *b, const char *s, size_t n)
{
    /* Always keep a byte for the terminating NUL. */
    if (b->overflow || n >= b->size - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/*
 * RFC 8259 section 7: only '"', '\\' and control characters must be
 * escaped; '/' and non-ASCII are written as they are (RFC 8225 section 9).
 * The setters refuse all three in every field, so this is a safety net for
 * structs filled in directly; it escapes exactly as jansson does.
 */
static void put_string(struct jbuf *b, const char *s)
{
    size_t start = 0, i;
    char esc[8];

    PUT_LIT(b, "\"");
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        put(b, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            PUT_LIT(b, "\\\"");
            break;
        case '\\':
            PUT_LIT(b, "\\\\");
            break;
        case '\b':
            PUT_LIT(b, "\\b");
            break;
        case '\f':
            PUT_LIT(b, "\\f");
            break;
        case '\n':
            PUT_LIT(b, "\\n");
            break;
        case '\r':
            PUT_LIT(b, "\\r");
            break;
        case '\t':
            PUT_LIT(b, "\\t");
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            put(b, esc, 6);
        }
    }
    put(b, s + start, i - start);
    PUT_LIT(b, "\"");
}

static void put_int(struct jbuf *b, long long v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", v);

    put(b, num, (size_t)n);
}

static sks_status finish(struct jbuf *b, const char *what, size_t *len, struct sks_error *err)
{
    if (b->overflow || b->size == 0)
        return sks_fail(err, SKS_ERR_INPUT, "%s does not fit in a buffer of %zu bytes", what,
                        b->size);
    b->p[b->len] = '\0';
    *len = b->len;
    return SKS_OK;
}

static sks_status write_header(const struct sks_passport *pp, char *buf, size_t size, size_t *len,
                               struct sks_error *err)
{
    struct jbuf b = {buf, size, 0, false};

    PUT_LIT(&b, "{\"alg\":\"ES256\",\"ppt\":");
    put_string(&b, sks_ppt_name(pp->ppt));
    PUT_LIT(&b, ",\"typ\":\"passport\",\"x5u\":");
    put_string(&b, pp->x5u);
    PUT_LIT(&b, "}");
    return finish(&b, "the PASSporT header", len, err);
}

/* "dest":{"tn":[...]} */
static void put_dest(struct jbuf *b, const struct sks_passport *pp)
{
    unsigned int i;

    PUT_LIT(b, "\"dest\":{\"tn\":[");
    for (i = 0; i < pp->ndest; i++) {
        if (i > 0)
            PUT_LIT(b, ",");
        put_string(b, pp->dest[i]);
    }
    PUT_LIT(b, "]}");
}

/*
 * Members in byte order: attest < crn < dest < div < iat < orig < origid <
 * rcd < rcdi.  rcd and rcdi are kept as canonical JSON already.
 */
static sks_status write_claims(const struct sks_passport *pp, char *buf, size_t size, size_t *len,
                               struct sks_error *err)
{
    struct jbuf b = {buf, size, 0, false};

    PUT_LIT(&b, "{");
    if (pp->ppt == SKS_PPT_SHAKEN) {
        PUT_LIT(&b, "\"attest\":");
        put(&b, (const char[]){'"', pp->attest, '"'}, 3);
        PUT_LIT(&b, ",");
    }
    if (pp->crn[0] != '\0') {
        PUT_LIT(&b, "\"crn\":");
        put_string(&b, pp->crn);
        PUT_LIT(&b, ",");
    }
    put_dest(&b, pp);
    if (pp->ppt == SKS_PPT_DIV) {
        PUT_LIT(&b, ",\"div\":{\"tn\":");
        put_string(&b, pp->div);
        PUT_LIT(&b, "}");
    }
    PUT_LIT(&b, ",\"iat\":");
    put_int(&b, pp->iat);
    PUT_LIT(&b, ",\"orig\":{\"tn\":");
    put_string(&b, pp->orig);
    PUT_LIT(&b, "}");
    if (pp->ppt == SKS_PPT_SHAKEN) {
        PUT_LIT(&b, ",\"origid\":");
        put_string(&b, pp->origid);
    }
    if (pp->rcd[0] != '\0') {
        PUT_LIT(&b, ",\"rcd\":");
        put(&b, pp->rcd, strlen(pp->rcd));
    }
    if (pp->rcdi[0] != '\0') {
        PUT_LIT(&b, ",\"rcdi\":");
        put(&b, pp->rcdi, strlen(pp->rcdi));
    }
    PUT_LIT(&b, "}");
    return finish(&b, "the PASSporT claims", len, err);
}

sks_status sks_passport_header_json(const struct sks_passport *pp, char *buf, size_t size,
                                    size_t *len, struct sks_error *err)
{
    if (sks_passport_check_complete(pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    return write_header(pp, buf, size, len, err);
}

sks_status sks_passport_claims_json(const struct sks_passport *pp, char *buf, size_t size,
                                    size_t *len, struct sks_error *err)
{
    if (sks_passport_check_complete(pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    return write_claims(pp, buf, size, len, err);
}

/* base64url(header) "." base64url(claims) for a |pp| already checked. */
static sks_status write_signing_input(const struct sks_passport *pp, char *out, size_t size,
                                      size_t *len, struct sks_error *err)
{
    char header[HEADER_JSON_MAX], claims[CLAIMS_JSON_MAX];
    size_t hlen, clen, n;

    if (write_header(pp, header, sizeof(header), &hlen, err) != SKS_OK ||
        write_claims(pp, claims, sizeof(claims), &clen, err) != SKS_OK)
        return SKS_ERR_INTERNAL;
    if (b64url_encoded_len(hlen) + 1 + b64url_encoded_len(clen) >= size)
        return sks_fail(err, SKS_ERR_INPUT,
                        "the PASSporT signing input does not fit in a buffer of %zu bytes", size);
    n = b64url_encode((const unsigned char *)header, hlen, out);
    out[n++] = '.';
    n += b64url_encode((const unsigned char *)claims, clen, out + n);
    *len = n;
    return SKS_OK;
}

sks_status sks_passport_signing_input(const struct sks_passport *pp, char *buf, size_t size,
                                      size_t *len, struct sks_error *err)
{
    if (sks_passport_check_complete(pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    return write_signing_input(pp, buf, size, len, err);
}

#define SIG_B64_LEN 86 /* b64url_encoded_len(SKS_ES256_SIG_LEN) */
#define INFO_OPEN ";info=<"
#define INFO_CLOSE_ALG ">;alg=ES256;ppt="

sks_status sks_passport_sign(const struct sks_passport *pp, sks_es256_sign_fn sign, void *sign_ctx,
                             char *out, size_t size, size_t *len, struct sks_error *err)
{
    unsigned char sig[SKS_ES256_SIG_LEN];
    char sig64[SIG_B64_LEN + 1];
    const char *ppt;
    struct jbuf b;
    size_t n, need;
    sks_status st;

    if (sks_passport_check_complete(pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    st = write_signing_input(pp, out, size, &n, err);
    if (st != SKS_OK)
        return st;
    /* Refuse before signing: a token signature is too dear to throw away. */
    ppt = sks_ppt_name(pp->ppt);
    need = n + 1 + SIG_B64_LEN + strlen(INFO_OPEN) + strlen(pp->x5u) + strlen(INFO_CLOSE_ALG) +
           strlen(ppt);
    if (need >= size)
        return sks_fail(err, SKS_ERR_INPUT,
                        "the Identity header (%zu bytes) does not fit in a buffer of %zu bytes",
                        need, size);
    st = sign(sign_ctx, (const unsigned char *)out, n, sig, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "signing the PASSporT");
        return st;
    }
    b64url_encode(sig, sizeof(sig), sig64);
    b = (struct jbuf){out, size, n, false};
    PUT_LIT(&b, ".");
    put(&b, sig64, SIG_B64_LEN);
    /* RFC 8224 section 4.1: info = "<" absoluteURI ">"; ppt is a token. */
    PUT_LIT(&b, INFO_OPEN);
    put(&b, pp->x5u, strlen(pp->x5u));
    PUT_LIT(&b, INFO_CLOSE_ALG);
    put(&b, ppt, strlen(ppt));
    return finish(&b, "the Identity header", len, err);
}
