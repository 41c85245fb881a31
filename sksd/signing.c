/*
 * The signing API (ATIS-1000082): a signingRequest in, an Identity header
 * value out, signed in the token with the active key of the identity.
 *
 * Hot path: jansson parses the body; the PASSporT, the signing input and
 * the header are built in stack buffers, the answer is written into the
 * connection's buffer, and the token signs through p11_key_sign_message().
 * Counted per request with a malloc interposer: none by sksd's own code,
 * about 30 by jansson, 2 by libmicrohttpd (the response object); the rest
 * are the token's (SoftHSM2 allocates inside C_Sign).
 *
 * Every refusal names the member at fault with a stable code, so that a
 * client can act on it without parsing the message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "p11/p11.h"
#include "sksd/sksd.h"
#include "shaken/tn.h"

/* The members a signingRequest may have (ATIS-1000082, RFC 8588, RFC 8946). */
static const char *const request_members[] = {"attest", "dest", "div", "iat", "orig", "origid"};

static void refuse(struct sksd_sign_result *res, unsigned int http, const char *code,
                   const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void refuse(struct sksd_sign_result *res, unsigned int http, const char *code,
                   const char *field, const char *fmt, ...)
{
    va_list ap;

    res->http = http;
    res->code = code;
    snprintf(res->field, sizeof(res->field), "%s", field);
    va_start(ap, fmt);
    sks_vfail(&res->err, http >= 500 ? SKS_ERR_INTERNAL : SKS_ERR_INPUT, fmt, ap);
    va_end(ap);
}

static bool wrong_type(struct sksd_sign_result *res, const char *field, const json_t *v,
                       const char *want)
{
    refuse(res, 400, "wrong-type", field, "%s has the wrong JSON type: it must be %s", field, want);
    return false;
}

/* |obj| has |key| of JSON type |type|; a missing member is an error when |required|. */
static bool member(struct sksd_sign_result *res, const json_t *obj, const char *key,
                   const char *field, json_type type, const char *want, bool required, json_t **out)
{
    json_t *v = json_object_get(obj, key);

    *out = v;
    if (v == NULL) {
        if (required)
            refuse(res, 400, "missing-field", field, "%s is missing", field);
        return !required;
    }
    if (json_typeof(v) != type)
        return wrong_type(res, field, v, want);
    return true;
}

/* Members of |obj| outside |allowed| are refused by name: a typo must not pass silently. */
static bool only_members(struct sksd_sign_result *res, const json_t *obj, const char *where,
                         const char *const *allowed, size_t nallowed)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (i = 0; i < nallowed; i++) {
            if (strcmp(key, allowed[i]) == 0)
                break;
        }
        if (i == nallowed) {
            char q[48];

            refuse(res, 400, "unknown-field", where, "%s has an unknown member \"%s\"", where,
                   sks_printable(key, q, sizeof(q)));
            return false;
        }
    }
    return true;
}

/* A TN as the API takes it: canonical (RFC 8224 section 8.3), digits, '#' or '*'. */
static bool check_tn(struct sksd_sign_result *res, const char *field, const json_t *v,
                     char out[SKS_TN_MAX + 1])
{
    const char *s;

    if (!json_is_string(v))
        return wrong_type(res, field, v, "a string of digits");
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || sks_tn_check_canonical(s, &res->err) != SKS_OK) {
        char q[48];

        refuse(res, 400, "invalid-tn", field,
               "%s \"%s\" is not a TN: it must be 1 to %d digits with no '+', spaces or "
               "separators (RFC 8224 section 8.3)",
               field, sks_printable(s, q, sizeof(q)), SKS_TN_MAX);
        return false;
    }
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* {"tn":"..."}: orig and div. */
static bool read_tn_object(struct sksd_sign_result *res, const json_t *req, const char *key,
                           char out[SKS_TN_MAX + 1])
{
    static const char *const tn_only[] = {"tn"};
    char field[16];
    json_t *obj, *tn;

    if (!member(res, req, key, key, JSON_OBJECT, "an object {\"tn\":\"...\"}", true, &obj) ||
        !only_members(res, obj, key, tn_only, 1))
        return false;
    snprintf(field, sizeof(field), "%s.tn", key);
    if (!member(res, obj, "tn", field, JSON_STRING, "a string of digits", true, &tn))
        return false;
    return check_tn(res, field, tn, out);
}

static bool read_dest(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    static const char *const tn_only[] = {"tn"};
    json_t *obj, *arr, *v;
    size_t i;

    if (!member(res, req, "dest", "dest", JSON_OBJECT, "an object {\"tn\":[...]}", true, &obj) ||
        !only_members(res, obj, "dest", tn_only, 1) ||
        !member(res, obj, "tn", "dest.tn", JSON_ARRAY, "an array of TNs", true, &arr))
        return false;
    if (json_array_size(arr) == 0 || json_array_size(arr) > SKS_DEST_MAX) {
        refuse(res, 400, "invalid-dest", "dest.tn", "dest.tn must list 1 to %d TNs, not %zu",
               SKS_DEST_MAX, json_array_size(arr));
        return false;
    }
    json_array_foreach(arr, i, v)
    {
        char field[40];

        snprintf(field, sizeof(field), "dest.tn[%zu]", i);
        if (!check_tn(res, field, v, pp->dest[i]))
            return false;
    }
    pp->ndest = (unsigned int)json_array_size(arr);
    return true;
}

static bool read_attest(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    json_t *v;
    const char *s;

    if (!member(res, req, "attest", "attest", JSON_STRING, "a string", true, &v))
        return false;
    s = json_string_value(v);
    if (json_string_length(v) != 1 || s[0] < 'A' || s[0] > 'C') {
        char q[16];

        refuse(res, 400, "invalid-attest", "attest",
               "attest \"%s\" is not A, B or C (RFC 8588 section 4)",
               sks_printable(s, q, sizeof(q)));
        return false;
    }
    pp->attest = s[0];
    return true;
}

static bool read_optional(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    json_t *v;

    if (!member(res, req, "iat", "iat", JSON_INTEGER, "an integer (seconds since 1970)", false, &v))
        return false;
    if (v != NULL && (json_integer_value(v) < 0 || json_integer_value(v) > SKS_IAT_MAX)) {
        refuse(res, 400, "invalid-iat", "iat",
               "iat %lld is out of range: seconds since 1970 up to the year 9999",
               (long long)json_integer_value(v));
        return false;
    }
    if (v != NULL)
        pp->iat = json_integer_value(v);
    if (pp->ppt != SKS_PPT_SHAKEN)
        return true;
    if (!member(res, req, "origid", "origid", JSON_STRING, "a string (a UUID)", false, &v))
        return false;
    if (v != NULL && !sks_uuid_valid(json_string_value(v))) {
        char q[48];

        refuse(res, 400, "invalid-origid", "origid",
               "origid \"%s\" is not a UUID (8-4-4-4-12 hex digits, RFC 4122)",
               sks_printable(json_string_value(v), q, sizeof(q)));
        return false;
    }
    if (v != NULL)
        memcpy(pp->origid, json_string_value(v), SKS_UUID_LEN + 1);
    return true;
}

/* A div PASSporT (RFC 8946) carries neither attest nor origid. */
static bool refuse_shaken_only(struct sksd_sign_result *res, const json_t *req)
{
    static const char *const shaken_only[] = {"attest", "origid"};
    size_t i;

    for (i = 0; i < 2; i++) {
        if (json_object_get(req, shaken_only[i]) != NULL) {
            refuse(res, 400, "unknown-field", shaken_only[i],
                   "%s is not a claim of a div PASSporT (RFC 8946): leave it out when "
                   "div is given",
                   shaken_only[i]);
            return false;
        }
    }
    return true;
}

static bool read_request(struct sksd_sign_result *res, const json_t *root, struct sks_passport *pp)
{
    static const char *const top[] = {"signingRequest"};
    json_t *req;
    enum sks_ppt ppt;

    if (!json_is_object(root))
        return wrong_type(res, "body", root, "an object {\"signingRequest\":{...}}");
    if (!only_members(res, root, "the request body", top, 1) ||
        !member(res, root, "signingRequest", "signingRequest", JSON_OBJECT, "an object", true,
                &req) ||
        !only_members(res, req, "signingRequest", request_members,
                      sizeof(request_members) / sizeof(request_members[0])))
        return false;
    ppt = json_object_get(req, "div") != NULL ? SKS_PPT_DIV : SKS_PPT_SHAKEN;
    if (sks_passport_init(pp, ppt, &res->err) != SKS_OK) {
        refuse(res, 500, "internal-error", "", "cannot start a PASSporT: %s", res->err.msg);
        return false;
    }
    if (!read_tn_object(res, req, "orig", pp->orig) || !read_dest(res, req, pp))
        return false;
    if (ppt == SKS_PPT_DIV)
        return refuse_shaken_only(res, req) && read_tn_object(res, req, "div", pp->div) &&
               read_optional(res, req, pp);
    return read_attest(res, req, pp) && read_optional(res, req, pp);
}

/* The sks_es256_sign_fn of the daemon: straight into the token. */
static sks_status sign_in_token(void *ctx, const unsigned char *msg, size_t len,
                                unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    return p11_key_sign_message(ctx, msg, len, sig, err);
}

/* Which identity signs: the one named, else the TN map, else the default. */
static bool pick_identity(struct sksd *d, const char *named, const char *orig,
                          char out[SKS_IDENTITY_NAME_MAX + 1], long *max_age_ms,
                          struct sksd_sign_result *res)
{
    const char *id;
    bool ok = true;

    pthread_rwlock_rdlock(&d->conf_lock);
    *max_age_ms = d->conf->key_max_age_ms;
    id = named != NULL ? named : sksd_conf_route(d->conf, orig);
    if (id == NULL)
        ok = false;
    else
        snprintf(out, SKS_IDENTITY_NAME_MAX + 1, "%s", id);
    pthread_rwlock_unlock(&d->conf_lock);
    if (!ok)
        refuse(res, 404, "unknown-identity", "orig.tn",
               "no identity signs for orig %s: configure a default identity or a TN prefix, "
               "or name one with ?identity=",
               orig);
    return ok;
}

static void refuse_store(struct sksd *d, struct sksd_sign_result *res, sks_status st,
                         const char *what)
{
    unsigned int http = sksd_http_status(st);

    if (http == 503)
        atomic_fetch_add_explicit(&d->metrics.hsm_errors, 1, memory_order_relaxed);
    /* Bad input was refused earlier: what fails here is the store or the token. */
    if (st == SKS_ERR_INPUT || st == SKS_ERR_POLICY)
        http = 500;
    res->http = http;
    res->code = http == 404   ? "unknown-identity"
                : http == 503 ? "hsm-unavailable"
                              : "internal-error";
    snprintf(res->field, sizeof(res->field), "%s", http == 404 ? "identity" : "");
    if (what != NULL)
        sks_error_prefix(&res->err, "%s", what);
}

static void sign_with_store(struct sksd *d, const char *named, struct sks_passport *pp,
                            struct sksd_sign_result *res)
{
    char identity[SKS_IDENTITY_NAME_MAX + 1];
    struct sks_active *active = NULL;
    long max_age_ms;
    sks_status st;

    if (!pick_identity(d, named, pp->orig, identity, &max_age_ms, res))
        return;
    st = sks_keystore_active(d->ks, identity, max_age_ms, &active, &res->err);
    if (st != SKS_OK) {
        refuse_store(d, res, st, NULL);
        return;
    }
    st = sks_passport_set_x5u(pp, active->x5u, &res->err);
    if (st != SKS_OK) {
        refuse_store(d, res, SKS_ERR_INTERNAL, "the x5u of the active version");
        goto done;
    }
    st = sks_passport_sign(pp, sign_in_token, active->key, res->identity, sizeof(res->identity),
                           &res->identity_len, &res->err);
    if (st != SKS_OK) {
        refuse_store(d, res, st, NULL);
        goto done;
    }
    res->http = 200;
done:
    sks_active_put(active);
}

void sksd_sign_request(struct sksd *d, const char *body, size_t len, const char *identity,
                       struct sksd_sign_result *res)
{
    struct sks_passport pp;
    json_error_t jerr;
    json_t *root;

    res->http = 0;
    res->code = NULL;
    res->field[0] = '\0';
    res->identity_len = 0;
    sks_error_clear(&res->err);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        refuse(res, 400, "malformed-json", "body", "the body is not JSON: %s at line %d column %d",
               jerr.text, jerr.line, jerr.column);
        return;
    }
    if (read_request(res, root, &pp))
        sign_with_store(d, identity, &pp, res);
    json_decref(root);
}
