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
 * Every refusal names the member at fault with a stable code (in the
 * struct sks_error), so that a client can act on it without parsing the
 * message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "p11/p11.h"
#include "shaken/rcd.h"
#include "shaken/tn.h"
#include "sksd/sksd.h"

/* The members a signingRequest may have (ATIS-1000082, RFC 8588, RFC 8946, RFC 9795). */
static const char *const request_members[] = {"attest", "crn",    "dest", "div",         "iat",
                                              "orig",   "origid", "rcd",  "rcdPassport", "rcdi"};

/*
 * This file only maps the JSON of a signingRequest onto a struct
 * sks_passport: it refuses what the struct cannot hold (a member of the
 * wrong JSON type, one it does not know, an object without its "tn") and
 * copies everything else as it is, too long or not.  Whether the claims are
 * there and follow their rules is sks_passport_check_claims()'s to say, the
 * validator sksctl and the encoders use too.
 */
static bool refused(struct sksd_sign_result *res, const char *code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static bool refused(struct sksd_sign_result *res, const char *code, const char *field,
                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sks_vfail(&res->err, SKS_ERR_INPUT, fmt, ap);
    va_end(ap);
    sks_error_set_field(&res->err, code, field);
    return false;
}

static bool wrong_type(struct sksd_sign_result *res, const char *field, const char *want)
{
    return refused(res, "wrong-type", field, "%s has the wrong JSON type: it must be %s", field,
                   want);
}

/* |obj| has |key| of JSON type |type|; a missing member is an error when |required|. */
static bool member(struct sksd_sign_result *res, const json_t *obj, const char *key,
                   const char *field, json_type type, const char *want, bool required, json_t **out)
{
    json_t *v = json_object_get(obj, key);

    *out = v;
    if (v == NULL)
        return !required || refused(res, "missing-field", field, "%s is missing", field);
    if (json_typeof(v) != type)
        return wrong_type(res, field, want);
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

            return refused(res, "unknown-field", where, "%s has an unknown member \"%s\"", where,
                           sks_printable(key, q, sizeof(q)));
        }
    }
    return true;
}

/*
 * Copies the string |v| into the claim buffer |out| of |size| bytes; one
 * that does not fit fills it without a NUL, which the validator refuses by
 * the claim's name.
 */
static void copy_claim(char *out, size_t size, const json_t *v)
{
    size_t n = json_string_length(v);

    if (n < size) {
        memcpy(out, json_string_value(v), n + 1);
    } else {
        memcpy(out, json_string_value(v), size);
    }
}

/* {"tn":"..."}: orig and div. */
static bool map_tn_object(struct sksd_sign_result *res, const json_t *req, const char *key,
                          char out[SKS_TN_MAX + 1])
{
    static const char *const tn_only[] = {"tn"};
    char field[16];
    json_t *obj, *tn;

    if (!member(res, req, key, key, JSON_OBJECT, "an object {\"tn\":\"...\"}", false, &obj))
        return false;
    if (obj == NULL)
        return true;
    snprintf(field, sizeof(field), "%s.tn", key);
    if (!only_members(res, obj, key, tn_only, 1) ||
        !member(res, obj, "tn", field, JSON_STRING, "a string of digits", true, &tn))
        return false;
    copy_claim(out, SKS_TN_MAX + 1, tn);
    return true;
}

static bool map_dest(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    static const char *const tn_only[] = {"tn"};
    json_t *obj, *arr, *v;
    size_t i;

    if (!member(res, req, "dest", "dest", JSON_OBJECT, "an object {\"tn\":[...]}", false, &obj))
        return false;
    if (obj == NULL)
        return true;
    if (!only_members(res, obj, "dest", tn_only, 1) ||
        !member(res, obj, "tn", "dest.tn", JSON_ARRAY, "an array of TNs", true, &arr))
        return false;
    json_array_foreach(arr, i, v)
    {
        char field[40];

        if (i >= SKS_DEST_MAX)
            break;
        snprintf(field, sizeof(field), "dest.tn[%zu]", i);
        if (!json_is_string(v))
            return wrong_type(res, field, "a string of digits");
        copy_claim(pp->dest[i], sizeof(pp->dest[i]), v);
    }
    /* One past the array says "too many" to the validator. */
    pp->ndest = (unsigned int)(json_array_size(arr) > SKS_DEST_MAX ? SKS_DEST_MAX + 1
                                                                   : json_array_size(arr));
    return true;
}

static bool map_shaken(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    json_t *v;

    if (!member(res, req, "attest", "attest", JSON_STRING, "a string", false, &v))
        return false;
    /* Not one character: a value no attest has, so that the validator refuses it by name. */
    if (v != NULL)
        pp->attest = json_string_length(v) == 1 ? json_string_value(v)[0] : '?';
    if (!member(res, req, "origid", "origid", JSON_STRING, "a string (a UUID)", false, &v))
        return false;
    if (v != NULL)
        copy_claim(pp->origid, sizeof(pp->origid), v);
    return true;
}

/* A div PASSporT (RFC 8946) carries neither attest nor origid. */
static bool refuse_shaken_only(struct sksd_sign_result *res, const json_t *req)
{
    static const char *const shaken_only[] = {"attest", "origid"};
    size_t i;

    for (i = 0; i < 2; i++) {
        if (json_object_get(req, shaken_only[i]) != NULL)
            return refused(res, "unknown-field", shaken_only[i],
                           "%s is not a claim of a div PASSporT (RFC 8946): leave it out when "
                           "div is given",
                           shaken_only[i]);
    }
    return true;
}

/*
 * iat: JSON has numbers, not integers, and some clients write 1.4432e9 for
 * 1443200000; any number with no fraction is taken, up to 2^53 (where a
 * double still holds every integer).  The validator judges the range.
 */
static bool map_iat(struct sksd_sign_result *res, const json_t *req, struct sks_passport *pp)
{
    const json_t *v = json_object_get(req, "iat");
    double x;

    if (v == NULL)
        return true;
    if (json_is_integer(v)) {
        pp->iat = json_integer_value(v);
        return true;
    }
    x = json_is_real(v) ? json_real_value(v) : 0.5;
    if (!(x >= -9007199254740992.0 && x <= 9007199254740992.0) || (double)(long long)x != x)
        return wrong_type(res, "iat", "an integer (seconds since 1970)");
    pp->iat = (long long)x;
    return true;
}

/* What a request asks for besides its PASSporT's claims. */
struct asks {
    bool compute_rcdi; /* "rcdi": true */
    bool rcd_passport; /* "rcdPassport": true */
};

/*
 * The request: {"signingRequest":{...}} as ATIS-1000082 writes it, or the
 * claims object alone, the body vesper's clients send.  One member
 * "signingRequest" says which; in either, the members are the same.
 */
static bool map_request(struct sksd_sign_result *res, const json_t *root, struct sks_passport *pp,
                        struct asks *asks)
{
    static const char *const top[] = {"signingRequest"};
    const char *where = "signingRequest";
    const json_t *req = root;
    json_t *wrapped, *v;
    enum sks_ppt ppt;

    if (!json_is_object(root))
        return wrong_type(res, "body", "an object {\"signingRequest\":{...}}");
    if (json_object_get(root, "signingRequest") != NULL || json_object_size(root) == 0) {
        if (!only_members(res, root, "the request body", top, 1) ||
            !member(res, root, "signingRequest", "signingRequest", JSON_OBJECT, "an object", true,
                    &wrapped))
            return false;
        req = wrapped;
    } else {
        where = "the request body";
    }
    if (!only_members(res, req, where, request_members,
                      sizeof(request_members) / sizeof(request_members[0])))
        return false;
    ppt = json_object_get(req, "div") != NULL ? SKS_PPT_DIV : SKS_PPT_SHAKEN;
    if (sks_passport_init(pp, ppt, &res->err) != SKS_OK) {
        sks_error_prefix(&res->err, "cannot start a PASSporT");
        res->err.status = SKS_ERR_INTERNAL;
        return false;
    }
    if (!map_tn_object(res, req, "orig", pp->orig) || !map_dest(res, req, pp) ||
        !map_iat(res, req, pp))
        return false;
    if (ppt == SKS_PPT_DIV) {
        if (!refuse_shaken_only(res, req) || !map_tn_object(res, req, "div", pp->div))
            return false;
    } else if (!map_shaken(res, req, pp)) {
        return false;
    }
    /*
     * Rich Call Data is checked as it is read, by the rules sksctl sign
     * applies; rcdi comes with the request (the content's author computes
     * it), or "rcdi": true asks sksd to compute it once the claims are
     * judged.  The body is ours to change.
     */
    asks->compute_rcdi = json_is_true(json_object_get(req, "rcdi"));
    if (asks->compute_rcdi)
        json_object_del((json_t *)req, "rcdi");
    if (!member(res, req, "rcdPassport", "rcdPassport", JSON_TRUE, "true", false, &v))
        return false;
    asks->rcd_passport = v != NULL;
    if (sks_rcd_read(req, SKS_CLAIMS_TO_SIGN, pp, &res->err) != SKS_OK)
        return false;
    if (asks->rcd_passport && pp->rcd[0] == '\0')
        return refused(res, "missing-field", "rcd",
                       "rcdPassport: true signs the rcd in a PASSporT of its own: rcd is missing");
    return true;
}

/*
 * RFC 9795: the Rich Call Data of |pp| moves into |rcd|, a
 * PASSporT of type rcd for the same call (orig, dest, iat), and out of |pp|.
 */
static sks_status split_rcd(struct sks_passport *pp, struct sks_passport *rcd,
                            struct sks_error *err)
{
    if (sks_passport_init(rcd, SKS_PPT_RCD, err) != SKS_OK)
        return err->status;
    memcpy(rcd->orig, pp->orig, sizeof(rcd->orig));
    memcpy(rcd->dest, pp->dest, sizeof(rcd->dest));
    rcd->ndest = pp->ndest;
    rcd->iat = pp->iat;
    memcpy(rcd->rcd, pp->rcd, sizeof(rcd->rcd));
    memcpy(rcd->rcdi, pp->rcdi, sizeof(rcd->rcdi));
    memcpy(rcd->crn, pp->crn, sizeof(rcd->crn));
    pp->rcd[0] = pp->rcdi[0] = pp->crn[0] = '\0';
    return sks_passport_check_claims(rcd, err);
}

struct token_signer {
    struct sksd *d;
    struct p11_key *key;
};

/* The sks_es256_sign_fn of the daemon: straight into the token, timed for /metrics. */
static sks_status sign_in_token(void *ctx, const unsigned char *msg, size_t len,
                                unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    struct token_signer *ts = ctx;
    unsigned long long t0 = sksd_now_ns();
    sks_status st = p11_key_sign_message(ts->key, msg, len, sig, err);

    sksd_metrics_observe(&ts->d->metrics.hsm, sksd_now_ns() - t0);
    return st;
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
        sks_fail_field(&res->err, SKS_ERR_NOT_FOUND, "unknown-identity", "orig.tn",
                       "no identity signs for orig %s: configure a default identity or a TN "
                       "prefix, or name one with ?identity=",
                       orig);
    return ok;
}

/*
 * The request was judged before the key store was asked: what fails from
 * here on is the store or the token, never the client.
 */
static void store_failed(struct sksd *d, struct sksd_sign_result *res, const char *what)
{
    struct sks_error *e = &res->err;

    if (what != NULL)
        sks_error_prefix(e, "%s", what);
    /* The CRL watch stopped the identity (crlwatch.c): its code says why, as it is. */
    if (e->code != NULL && (strcmp(e->code, SKS_CODE_CERT_REVOKED) == 0 ||
                            strcmp(e->code, SKS_CODE_CRL_UNAVAILABLE) == 0))
        return;
    switch (e->status) {
    case SKS_ERR_NOT_FOUND:
        sks_error_set_field(e, "unknown-identity", "identity");
        break;
    case SKS_ERR_UNAVAILABLE:
    case SKS_ERR_TOKEN:
        atomic_fetch_add_explicit(&d->metrics.hsm_errors, 1, memory_order_relaxed);
        sks_error_set_field(e, "hsm-unavailable", "");
        break;
    case SKS_ERR_INPUT:
    case SKS_ERR_POLICY:
        e->status = SKS_ERR_INTERNAL;
        /* fall through */
    default:
        sks_error_set_field(e, "internal-error", "");
        break;
    }
}

/*
 * Signs |pp| into |res->identity| and, when |rcd| is not NULL, |rcd| into
 * |rcd_out| (SKS_IDENTITY_MAX + 1 bytes), with the same active key.
 */
static void sign_with_store(struct sksd *d, const char *named, struct sks_passport *pp,
                            struct sks_passport *rcd, char *rcd_out, struct sksd_sign_result *res)
{
    char identity[SKS_IDENTITY_NAME_MAX + 1];
    struct sks_active *active = NULL;
    struct token_signer ts = {d, NULL};
    long max_age_ms;

    if (!pick_identity(d, named, pp->orig, identity, &max_age_ms, res))
        return;
    if (sks_keystore_active(d->ks, identity, max_age_ms, &active, &res->err) != SKS_OK) {
        store_failed(d, res, NULL);
        return;
    }
    if (sks_passport_set_x5u(pp, active->x5u, &res->err) != SKS_OK) {
        store_failed(d, res, "the x5u of the active version");
        goto done;
    }
    ts.key = active->key;
    if (sks_passport_sign(pp, sign_in_token, &ts, res->identity, sizeof(res->identity),
                          &res->identity_len, &res->err) != SKS_OK) {
        store_failed(d, res, NULL);
        goto done;
    }
    if (rcd != NULL) {
        if (sks_passport_set_x5u(rcd, active->x5u, &res->err) != SKS_OK ||
            sks_passport_sign(rcd, sign_in_token, &ts, rcd_out, SKS_IDENTITY_MAX + 1,
                              &res->rcd_identity_len, &res->err) != SKS_OK) {
            res->identity_len = 0;
            store_failed(d, res, "the rcd PASSporT");
            goto done;
        }
        res->rcd_identity = rcd_out;
    }
    sks_error_clear(&res->err);
done:
    sks_active_put(active);
}

/* The ppt=rcd PASSporT a request asks for, split from |pp|, and the buffer it is signed into. */
static bool rcd_passport(struct sks_passport *pp, struct sks_passport *rcd, char **extra,
                         struct sksd_sign_result *res)
{
    if (split_rcd(pp, rcd, &res->err) != SKS_OK)
        return false;
    if (*extra == NULL && (*extra = malloc(SKS_IDENTITY_MAX + 1)) == NULL) {
        sks_fail_field(&res->err, SKS_ERR_SYSTEM, "internal-error", "", "out of memory");
        return false;
    }
    return true;
}

sks_status sksd_sign_request(struct sksd *d, const char *body, size_t len, const char *identity,
                             char **extra, struct sksd_sign_result *res)
{
    struct sks_passport pp, rcd;
    struct asks asks = {false, false};
    json_error_t jerr;
    json_t *root;

    res->identity_len = 0;
    res->rcd_identity = NULL;
    res->rcd_identity_len = 0;
    sks_error_clear(&res->err);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        refused(res, "malformed-json", "body", "the body is not JSON: %s at line %d column %d",
                jerr.text, jerr.line, jerr.column);
        return res->err.status;
    }
    /* Judged before a signer is chosen: bad input is a 400 even when the token is away. */
    if (map_request(res, root, &pp, &asks) && sks_passport_check_claims(&pp, &res->err) == SKS_OK &&
        (!asks.compute_rcdi || sksd_rcdi_compute(d, &pp, &res->err) == SKS_OK) &&
        (!asks.rcd_passport || rcd_passport(&pp, &rcd, extra, res)))
        sign_with_store(d, identity, &pp, asks.rcd_passport ? &rcd : NULL, *extra, res);
    json_decref(root);
    return res->err.status;
}
