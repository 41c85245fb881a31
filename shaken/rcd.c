/*
 * Rich Call Data (rcd.h): the rcd, rcdi and crn claims, checked as they
 * are read, kept as canonical JSON, and rcdi computed and checked.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "shaken/rcd.h"
#include "shaken/tn.h"

#define FIELD_MAX 64
/* "/jcd/1/15/9" and such; RFC 9795 pointers are short. */
#define POINTER_MAX 32
#define JCD_PROPERTIES_MAX 64

static sks_status rcd_fail(struct sks_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sks_status rcd_fail(struct sks_error *err, const char *field, const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-rcd", field, "%s: %s", field, msg);
}

/* Text shown to the called party: |min| to |max| bytes without control characters. */
static sks_status text_rule(const json_t *v, const char *field, size_t min, size_t max,
                            struct sks_error *err)
{
    const char *s;
    size_t i, n;

    if (!json_is_string(v))
        return rcd_fail(err, field, "must be a string");
    s = json_string_value(v);
    n = json_string_length(v);
    if (n < min || n > max)
        return rcd_fail(err, field, "is %zu bytes; it must have %zu to %zu", n, min, max);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return rcd_fail(err, field, "has the control character 0x%02x at byte %zu", c, i + 1);
    }
    return SKS_OK;
}

static sks_status url_rule(const json_t *v, const char *field, size_t *nurls, struct sks_error *err)
{
    if (!json_is_string(v))
        return rcd_fail(err, field, "must be a string, an https URL");
    if (++*nurls > SKS_RCD_URLS_MAX)
        return rcd_fail(err, field, "rcd points at more than %d URLs", SKS_RCD_URLS_MAX);
    return sks_url_check(json_string_value(v), field, "invalid-rcd", err);
}

/*
 * A jCard (RFC 7095 section 3.2): ["vcard", [property, ...]], each property
 * [name, {parameters}, type, value, ...]; the values of type uri are URLs
 * the verifier fetches, under the x5u rules.
 */
static sks_status jcd_rule(const json_t *jcd, size_t *nurls, struct sks_error *err)
{
    const json_t *props, *prop;
    char field[FIELD_MAX];
    size_t i, k;

    if (!json_is_array(jcd) || json_array_size(jcd) != 2 ||
        !json_is_string(json_array_get(jcd, 0)) ||
        strcmp(json_string_value(json_array_get(jcd, 0)), "vcard") != 0 ||
        !json_is_array(json_array_get(jcd, 1)))
        return rcd_fail(err, "rcd.jcd",
                        "is not a jCard: it must be [\"vcard\", [properties]] (RFC 7095)");
    props = json_array_get(jcd, 1);
    if (json_array_size(props) > JCD_PROPERTIES_MAX)
        return rcd_fail(err, "rcd.jcd", "has %zu properties; at most %d are taken",
                        json_array_size(props), JCD_PROPERTIES_MAX);
    json_array_foreach(props, i, prop)
    {
        snprintf(field, sizeof(field), "rcd.jcd[1][%zu]", i);
        if (!json_is_array(prop) || json_array_size(prop) < 4 ||
            !json_is_string(json_array_get(prop, 0)) || !json_is_object(json_array_get(prop, 1)) ||
            !json_is_string(json_array_get(prop, 2)))
            return rcd_fail(err, field,
                            "is not a jCard property [name, {parameters}, type, value] "
                            "(RFC 7095 section 3.3)");
        if (strcmp(json_string_value(json_array_get(prop, 2)), "uri") != 0)
            continue;
        for (k = 3; k < json_array_size(prop); k++) {
            snprintf(field, sizeof(field), "rcd.jcd[1][%zu][%zu]", i, k);
            if (url_rule(json_array_get(prop, k), field, nurls, err) != SKS_OK)
                return SKS_ERR_INPUT;
        }
    }
    return SKS_OK;
}

/* Canonical JSON (RFC 8225 section 9, RFC 8785 for what RFC 9795 holds) into |out|. */
static sks_status dump(const json_t *v, const char *field, char *out, size_t size,
                       struct sks_error *err)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    size_t n;

    if (s == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "%s: out of memory", field);
    n = strlen(s);
    if (n >= size) {
        free(s);
        return rcd_fail(err, field, "is %zu bytes of JSON; at most %zu are taken", n, size - 1);
    }
    memcpy(out, s, n + 1);
    free(s);
    return SKS_OK;
}

static const char *const rcd_members[] = {"apn", "icn", "jcd", "jcl", "nam"};

static sks_status read_rcd(json_t *rcd, enum sks_claims_mode mode, struct sks_passport *pp,
                           struct sks_error *err)
{
    const json_t *v;
    const char *key;
    size_t nurls = 0, i;
    char apn[SKS_TN_MAX + 1];

    if (!json_is_object(rcd))
        return rcd_fail(err, "rcd", "must be an object {\"nam\": ...}");
    json_object_foreach(rcd, key, v)
    {
        for (i = 0; i < sizeof(rcd_members) / sizeof(rcd_members[0]); i++) {
            if (strcmp(key, rcd_members[i]) == 0)
                break;
        }
        if (i == sizeof(rcd_members) / sizeof(rcd_members[0]) && mode == SKS_CLAIMS_TO_SIGN) {
            char q[48];

            return sks_fail_field(err, SKS_ERR_INPUT, "unknown-field", "rcd",
                                  "rcd has an unknown member \"%s\" (RFC 9795 defines nam, apn, "
                                  "icn, jcd and jcl)",
                                  sks_printable(key, q, sizeof(q)));
        }
    }
    /* RFC 9795 section 6: nam is always there, even when empty of meaning. */
    if ((v = json_object_get(rcd, "nam")) == NULL)
        return rcd_fail(err, "rcd.nam", "is missing: rcd always names the caller (RFC 9795)");
    if (text_rule(v, "rcd.nam", 0, SKS_RCD_NAM_MAX, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if ((v = json_object_get(rcd, "apn")) != NULL) {
        if (!json_is_string(v))
            return rcd_fail(err, "rcd.apn", "must be a string, a TN");
        if (mode == SKS_CLAIMS_TO_SIGN) {
            if (sks_tn_canonicalize(json_string_value(v), apn, err) != SKS_OK)
                goto bad_apn;
            if (json_object_set_new(rcd, "apn", json_string(apn)) != 0)
                return sks_fail(err, SKS_ERR_SYSTEM, "rcd.apn: out of memory");
        } else if (sks_tn_check_canonical(json_string_value(v), err) != SKS_OK) {
            goto bad_apn;
        }
    }
    if (json_object_get(rcd, "jcd") != NULL && json_object_get(rcd, "jcl") != NULL)
        return rcd_fail(err, "rcd", "has both jcd and jcl: give the jCard or its URL, not both");
    if (((v = json_object_get(rcd, "icn")) != NULL &&
         url_rule(v, "rcd.icn", &nurls, err) != SKS_OK) ||
        ((v = json_object_get(rcd, "jcl")) != NULL &&
         url_rule(v, "rcd.jcl", &nurls, err) != SKS_OK) ||
        ((v = json_object_get(rcd, "jcd")) != NULL && jcd_rule(v, &nurls, err) != SKS_OK))
        return SKS_ERR_INPUT;
    return dump(rcd, "rcd", pp->rcd, sizeof(pp->rcd), err);
bad_apn:
    sks_error_prefix(err, "rcd.apn");
    sks_error_set_field(err, "invalid-rcd", "rcd.apn");
    return SKS_ERR_INPUT;
}

/* ---- rcdi -------------------------------------------------------------------------- */

static const EVP_MD *digest_md(const char *alg, size_t len)
{
    if (len == 6 && memcmp(alg, "sha256", 6) == 0)
        return EVP_sha256();
    if (len == 6 && memcmp(alg, "sha384", 6) == 0)
        return EVP_sha384();
    if (len == 6 && memcmp(alg, "sha512", 6) == 0)
        return EVP_sha512();
    return NULL;
}

/* "sha256-" and the standard base64 (with padding) of the digest. */
static sks_status digest_rule(const json_t *v, const char *field, struct sks_error *err)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    const char *dash = s != NULL ? strchr(s, '-') : NULL;
    const EVP_MD *md = dash != NULL ? digest_md(s, (size_t)(dash - s)) : NULL;
    size_t i, n;

    if (md == NULL)
        return rcd_fail(err, field,
                        "must be a string \"sha256-BASE64\" (or sha384, sha512), an integrity "
                        "digest (RFC 9795)");
    n = strlen(dash + 1);
    if (n != (size_t)(EVP_MD_get_size(md) + 2) / 3 * 4)
        return rcd_fail(err, field, "holds %zu characters of base64; a %s digest takes %d", n,
                        EVP_MD_get0_name(md), (EVP_MD_get_size(md) + 2) / 3 * 4);
    for (i = 0; i < n; i++) {
        char c = dash[1 + i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return rcd_fail(err, field, "is not base64 at character %zu", i + 1);
    }
    return SKS_OK;
}

static sks_status read_rcdi(const json_t *rcdi, struct sks_passport *pp, struct sks_error *err)
{
    const char *key;
    const json_t *v;
    char field[FIELD_MAX + POINTER_MAX];

    if (pp->rcd[0] == '\0')
        return rcd_fail(err, "rcdi", "is there without the rcd it protects");
    if (!json_is_object(rcdi) || json_object_size(rcdi) == 0)
        return rcd_fail(err, "rcdi", "must be an object of JSON pointers and their digests");
    if (json_object_size(rcdi) > SKS_RCD_URLS_MAX + 1)
        return rcd_fail(err, "rcdi", "holds %zu digests; rcd points at no more than %d things",
                        json_object_size(rcdi), SKS_RCD_URLS_MAX + 1);
    json_object_foreach((json_t *)rcdi, key, v)
    {
        char q[POINTER_MAX + 8];

        snprintf(field, sizeof(field), "rcdi[%s]", sks_printable(key, q, sizeof(q)));
        if (key[0] != '/' || strlen(key) >= POINTER_MAX)
            return rcd_fail(err, field, "is not a JSON pointer into rcd (RFC 6901), like \"/icn\"");
        if (digest_rule(v, field, err) != SKS_OK)
            return SKS_ERR_INPUT;
    }
    return dump(rcdi, "rcdi", pp->rcdi, sizeof(pp->rcdi), err);
}

/* What rcdi must cover: each URL, and a jcd itself. */
struct target {
    char pointer[POINTER_MAX];
    const json_t *value; /* a URL string, or the jcd */
    bool url;
};

struct targets {
    struct target t[SKS_RCD_URLS_MAX + 1];
    size_t n;
};

static void add_target(struct targets *ts, const json_t *value, bool url, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_target(struct targets *ts, const json_t *value, bool url, const char *fmt, ...)
{
    struct target *t;
    va_list ap;

    /* read_rcd() bounds the URLs: the last slot is the jcd's. */
    if (ts->n >= sizeof(ts->t) / sizeof(ts->t[0]))
        return;
    t = &ts->t[ts->n++];
    va_start(ap, fmt);
    vsnprintf(t->pointer, sizeof(t->pointer), fmt, ap);
    va_end(ap);
    t->value = value;
    t->url = url;
}

/* |rcd| was checked by read_rcd(). */
static void list_targets(const json_t *rcd, struct targets *ts)
{
    const json_t *v, *props, *prop;
    size_t i, k;

    ts->n = 0;
    if ((v = json_object_get(rcd, "icn")) != NULL)
        add_target(ts, v, true, "/icn");
    if ((v = json_object_get(rcd, "jcl")) != NULL)
        add_target(ts, v, true, "/jcl");
    if ((v = json_object_get(rcd, "jcd")) == NULL)
        return;
    add_target(ts, v, false, "/jcd");
    props = json_array_get(v, 1);
    json_array_foreach(props, i, prop)
    {
        if (strcmp(json_string_value(json_array_get(prop, 2)), "uri") != 0)
            continue;
        for (k = 3; k < json_array_size(prop); k++)
            add_target(ts, json_array_get(prop, k), true, "/jcd/1/%zu/%zu", i, k);
    }
}

static const struct target *find_target(const struct targets *ts, const char *pointer)
{
    size_t i;

    for (i = 0; i < ts->n; i++) {
        if (strcmp(ts->t[i].pointer, pointer) == 0)
            return &ts->t[i];
    }
    return NULL;
}

/* "ALG-BASE64" of what |t| covers, with |md|, in |out|. */
static sks_status digest_of(const struct target *t, const EVP_MD *md, sks_rcd_digest_fn digest,
                            void *ctx, char *out, size_t size, struct sks_error *err)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char *json = NULL;
    int n;

    if (t->url) {
        if (digest(ctx, json_string_value(t->value), md, d, &dlen, err) != SKS_OK)
            return err->status;
    } else {
        json = json_dumps(t->value, JSON_COMPACT | JSON_SORT_KEYS);
        if (json == NULL || EVP_Digest(json, strlen(json), d, &dlen, md, NULL) != 1) {
            free(json);
            return sks_fail(err, SKS_ERR_SYSTEM, "cannot digest %s", t->pointer);
        }
        free(json);
    }
    n = snprintf(out, size, "%s-", EVP_MD_get0_name(md));
    if (n < 0 || (size_t)n + (dlen + 2) / 3 * 4 >= size)
        return sks_fail(err, SKS_ERR_INTERNAL, "the digest of %s does not fit", t->pointer);
    /* EVP_MD_get0_name() says "SHA256": SRI writes the algorithm in lower case. */
    for (int i = 0; i < n; i++)
        out[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]);
    EVP_EncodeBlock((unsigned char *)out + n, d, (int)dlen);
    return SKS_OK;
}

/* The rcd of |pp| parsed, with what rcdi must cover. */
static sks_status load_targets(const struct sks_passport *pp, json_t **rcd, struct targets *ts,
                               struct sks_error *err)
{
    *rcd = json_loads(pp->rcd, 0, NULL);
    if (*rcd == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "rcd: the claim is not JSON");
    list_targets(*rcd, ts);
    return SKS_OK;
}

#define DIGEST_TEXT_MAX 100

sks_status sks_rcdi_compute(struct sks_passport *pp, sks_rcd_digest_fn digest, void *ctx,
                            struct sks_error *err)
{
    struct targets ts;
    json_t *rcd = NULL, *rcdi = NULL;
    char text[DIGEST_TEXT_MAX];
    sks_status st;
    size_t i;

    if (pp->rcd[0] == '\0')
        return rcd_fail(err, "rcdi", "there is no rcd to protect");
    if ((st = load_targets(pp, &rcd, &ts, err)) != SKS_OK)
        return st;
    if ((rcdi = json_object()) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "rcdi: out of memory");
        goto done;
    }
    for (i = 0; i < ts.n; i++) {
        st = digest_of(&ts.t[i], EVP_sha256(), digest, ctx, text, sizeof(text), err);
        if (st != SKS_OK) {
            sks_error_prefix(err, "rcdi: %s", ts.t[i].pointer);
            goto done;
        }
        if (json_object_set_new(rcdi, ts.t[i].pointer, json_string(text)) != 0) {
            st = sks_fail(err, SKS_ERR_SYSTEM, "rcdi: out of memory");
            goto done;
        }
    }
    st = ts.n == 0 ? rcd_fail(err, "rcdi", "rcd points at nothing a digest could cover")
                   : dump(rcdi, "rcdi", pp->rcdi, sizeof(pp->rcdi), err);
done:
    json_decref(rcdi);
    json_decref(rcd);
    return st;
}

/* Every URL in rcd has a digest in rcdi, and every digest covers something in rcd. */
static sks_status check_coverage(const struct targets *ts, const json_t *rcdi,
                                 struct sks_error *err)
{
    const char *key;
    const json_t *v;
    size_t i;

    for (i = 0; i < ts->n; i++) {
        if (ts->t[i].url && json_object_get(rcdi, ts->t[i].pointer) == NULL)
            return sks_fail_field(err, SKS_ERR_VERIFY, "rcdi-incomplete", "rcdi",
                                  "rcdi has no digest for %s (%.200s): that content is not "
                                  "protected (RFC 9795)",
                                  ts->t[i].pointer, json_string_value(ts->t[i].value));
    }
    json_object_foreach((json_t *)rcdi, key, v)
    {
        if (find_target(ts, key) == NULL) {
            char q[POINTER_MAX + 8];

            return sks_fail_field(err, SKS_ERR_VERIFY, "rcdi-incomplete", "rcdi",
                                  "rcdi's digest for %s covers nothing rcd points at (a URL or "
                                  "the jcd)",
                                  sks_printable(key, q, sizeof(q)));
        }
    }
    return SKS_OK;
}

sks_status sks_rcdi_check(const struct sks_passport *pp, sks_rcd_digest_fn digest, void *ctx,
                          struct sks_error *err)
{
    struct targets ts;
    json_t *rcd = NULL, *rcdi = NULL;
    const char *key;
    const json_t *v;
    sks_status st;
    size_t i;

    if (pp->rcd[0] == '\0')
        return SKS_OK;
    if ((st = load_targets(pp, &rcd, &ts, err)) != SKS_OK)
        return st;
    if (pp->rcdi[0] == '\0') {
        st = SKS_OK;
        for (i = 0; i < ts.n && st == SKS_OK; i++) {
            if (ts.t[i].url)
                st = sks_fail_field(err, SKS_ERR_NOT_FOUND, "rcd-unprotected", "rcdi",
                                    "rcd points at %s (%.200s) without rcdi: the content there "
                                    "is not integrity-protected (RFC 9795)",
                                    ts.t[i].pointer, json_string_value(ts.t[i].value));
        }
        goto done;
    }
    if ((rcdi = json_loads(pp->rcdi, 0, NULL)) == NULL) {
        st = sks_fail(err, SKS_ERR_INPUT, "rcdi: the claim is not JSON");
        goto done;
    }
    if ((st = check_coverage(&ts, rcdi, err)) != SKS_OK)
        goto done;
    json_object_foreach(rcdi, key, v)
    {
        const char *want = json_string_value(v);
        const EVP_MD *md = digest_md(want, strcspn(want, "-"));
        char got[DIGEST_TEXT_MAX];

        st = digest_of(find_target(&ts, key), md, digest, ctx, got, sizeof(got), err);
        if (st != SKS_OK) {
            sks_error_prefix(err, "rcdi: %s", key);
            goto done;
        }
        if (strcmp(got, want) != 0) {
            st = sks_fail_field(err, SKS_ERR_VERIFY, "rcdi-mismatch", "rcdi",
                                "rcdi: the content at %s no longer matches its digest (%.24s..., "
                                "now %.24s...)",
                                key, want, got);
            goto done;
        }
    }
done:
    json_decref(rcdi);
    json_decref(rcd);
    return st;
}

/* ---- reading and setting ------------------------------------------------------------ */

static sks_status read_crn(const json_t *crn, struct sks_passport *pp, struct sks_error *err)
{
    if (text_rule(crn, "crn", 1, SKS_CRN_MAX, err) != SKS_OK)
        return SKS_ERR_INPUT;
    memcpy(pp->crn, json_string_value(crn), json_string_length(crn) + 1);
    return SKS_OK;
}

/* rcd into |pp|, from a copy of |rcd| (apn is canonicalized in it). */
static sks_status read_rcd_copy(const json_t *rcd, enum sks_claims_mode mode,
                                struct sks_passport *pp, struct sks_error *err)
{
    json_t *copy = json_deep_copy(rcd);
    sks_status st;

    if (copy == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "rcd: out of memory");
    st = read_rcd(copy, mode, pp, err);
    json_decref(copy);
    return st;
}

/* A signer's rcdi covers every URL of its rcd and nothing else. */
static sks_status rcdi_covers(const struct sks_passport *pp, const json_t *rcdi,
                              struct sks_error *err)
{
    struct targets ts;
    json_t *rcd;
    sks_status st;

    if ((st = load_targets(pp, &rcd, &ts, err)) != SKS_OK)
        return st;
    st = check_coverage(&ts, rcdi, err);
    json_decref(rcd);
    if (st == SKS_ERR_VERIFY) {
        sks_error_set_field(err, "invalid-rcd", "rcdi");
        err->status = st = SKS_ERR_INPUT;
    }
    return st;
}

sks_status sks_rcd_read(const json_t *obj, enum sks_claims_mode mode, struct sks_passport *pp,
                        struct sks_error *err)
{
    const json_t *crn = json_object_get(obj, "crn"), *rcd = json_object_get(obj, "rcd");
    const json_t *rcdi = json_object_get(obj, "rcdi");

    pp->crn[0] = pp->rcd[0] = pp->rcdi[0] = '\0';
    if ((crn != NULL && read_crn(crn, pp, err) != SKS_OK) ||
        (rcd != NULL && read_rcd_copy(rcd, mode, pp, err) != SKS_OK) ||
        (rcdi != NULL && read_rcdi(rcdi, pp, err) != SKS_OK) ||
        (rcdi != NULL && mode == SKS_CLAIMS_TO_SIGN && rcdi_covers(pp, rcdi, err) != SKS_OK))
        return err->status;
    if (pp->ppt == SKS_PPT_RCD && pp->rcd[0] == '\0')
        return rcd_fail(err, "rcd", "is missing: a PASSporT of type rcd carries it (RFC 9795)");
    return SKS_OK;
}

static json_t *parse(const char *field, const char *json, size_t len, struct sks_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        rcd_fail(err, field, "is not valid JSON: %s (byte %d)", jerr.text, jerr.position);
    return v;
}

sks_status sks_passport_set_rcd(struct sks_passport *pp, const char *json, size_t len,
                                struct sks_error *err)
{
    json_t *v = parse("rcd", json, len, err);
    sks_status st;

    if (v == NULL)
        return SKS_ERR_INPUT;
    /* read_rcd() writes pp->rcd only once all of it passed. */
    st = read_rcd(v, SKS_CLAIMS_TO_SIGN, pp, err);
    json_decref(v);
    if (st != SKS_OK)
        return st;
    /* Digests over another rcd protect nothing here. */
    pp->rcdi[0] = '\0';
    return SKS_OK;
}

sks_status sks_passport_set_rcdi(struct sks_passport *pp, const char *json, size_t len,
                                 struct sks_error *err)
{
    char saved[SKS_RCDI_JSON_MAX + 1];
    json_t *v = parse("rcdi", json, len, err);
    sks_status st;

    if (v == NULL)
        return SKS_ERR_INPUT;
    memcpy(saved, pp->rcdi, sizeof(saved));
    st = read_rcdi(v, pp, err);
    if (st == SKS_OK)
        st = rcdi_covers(pp, v, err);
    json_decref(v);
    if (st != SKS_OK)
        memcpy(pp->rcdi, saved, sizeof(saved));
    return st;
}

sks_status sks_passport_set_crn(struct sks_passport *pp, const char *crn, struct sks_error *err)
{
    json_t *v = json_string(crn);
    sks_status st;

    if (v == NULL)
        return rcd_fail(err, "crn", "is not UTF-8 text");
    st = text_rule(v, "crn", 1, SKS_CRN_MAX, err);
    if (st == SKS_OK)
        memcpy(pp->crn, crn, strlen(crn) + 1);
    json_decref(v);
    return st;
}
