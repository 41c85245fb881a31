/*
 * The verification API (the STI-VS of ATIS-1000082): a verificationRequest
 * in, the verstat of its Identity header out.
 *
 * The Identity header is verified by sks_identity_verify(), the code path
 * of sksctl verify, with the certificates its x5u names: fetched through
 * the guarded fetcher into the x5u cache (verify/x5u.h), whose entries keep
 * their verdict against the SHAKEN profile and the trust roots.  A warm
 * verification is a JSON parse, a cache lookup and one ECDSA verify.
 *
 * The request names the call as the SBC saw it: from and to (the TNs of
 * its From and To) must be the PASSporT's orig and dest, and time (when the
 * INVITE arrived, RFC 8224's Date) must be fresh on sksd's clock; iat is
 * then judged against it.  A request the API cannot read is a 400 with a
 * stable code; a PASSporT that fails is a 200 whose verstat and reason say
 * why.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "keystore/input.h"
#include "shaken/tn.h"
#include "sksd/sksd.h"
#include "verify/rcd.h"
#include "verify/x5u.h"

/* The most a Rich Call Data URL may serve (an icon, a jCard). */
#define RCD_CONTENT_MAX (1024 * 1024)

struct sksd_verify_state {
    char *ca_file; /* fetch.ca_file points here: the configuration may be swapped */
    struct sks_fetch_opts fetch;
    struct sks_fetch_opts crl_fetch; /* |fetch| with crl_max_bytes */
    struct sks_fetch_cache *cache;
    struct sks_fetch_cache *crls; /* NULL: crl_check = no */
    X509_STORE *roots;
    struct sks_x5u_trust trust;
    struct sks_verify_source source; /* fetches what is not cached: the pool's */
    struct sks_verify_source cached; /* never waits: the HTTP workers' */
    /* What Rich Call Data points at, digested for rcdi: the pool's and the workers' views. */
    struct sks_fetch_opts content_fetch;
    struct sks_rcd_content content, content_cached;
    long max_age;
};

sks_status sksd_verify_setup(struct sksd *d, struct sks_error *err)
{
    const struct sksd_verify_conf *vc = &d->conf->verify;
    const char *trust = vc->trust != NULL ? vc->trust : d->conf->store.trust_anchors;
    struct sksd_verify_state *vs = calloc(1, sizeof(*vs));

    if (vs == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory setting up verification");
    d->vstate = vs;
    vs->max_age = vc->max_age;
    vs->fetch = vc->fetch;
    vs->fetch.allow_private = vc->x5u_allow_private;
    if (vc->x5u_ca_file != NULL && (vs->ca_file = strdup(vc->x5u_ca_file)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory setting up verification");
    vs->fetch.ca_file = vs->ca_file;
    vs->crl_fetch = vs->fetch;
    vs->crl_fetch.max_bytes = vc->crl_max_bytes;
    if (sks_roots_load(trust, &vs->roots, err) != SKS_OK) {
        sks_error_prefix(err, "[verify] trust");
        return err->status;
    }
    if ((vs->cache = sks_x5u_cache_new(&vc->cache, &vs->fetch)) == NULL ||
        (vc->crl_check && (vs->crls = sks_crl_cache_new(&vc->crl_cache, &vs->crl_fetch)) == NULL))
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory making the x5u and CRL caches");
    vs->content_fetch = vs->fetch;
    vs->content_fetch.max_bytes = RCD_CONTENT_MAX;
    if ((vs->content.cache = sks_rcd_cache_new(&vc->cache, &vs->content_fetch)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory making the Rich Call Data cache");
    vs->content.wait = true;
    vs->content_cached = (struct sks_rcd_content){vs->content.cache, false};
    sks_x5u_trust_init(&vs->trust, vs->cache, vs->roots, vs->crls);
    sks_x5u_source(&vs->source, &vs->trust, true);
    sks_x5u_source(&vs->cached, &vs->trust, false);
    sksd_log(SKSD_LOG_INFO,
             "verification: roots from %s, x5u cache of %zu entries and %zu bytes%s%s", trust,
             vc->cache.max_entries, vc->cache.max_bytes, vc->crl_check ? "" : ", CRLs not checked",
             vc->x5u_allow_private ? ", private addresses allowed" : "");
    if (vc->crl_check)
        sksd_log(SKSD_LOG_INFO,
                 "verification: CRL cache of %zu entries and %zu bytes, CRLs of up to %zu bytes",
                 vc->crl_cache.max_entries, vc->crl_cache.max_bytes, vc->crl_max_bytes);
    return SKS_OK;
}

void sksd_verify_teardown(struct sksd *d)
{
    struct sksd_verify_state *vs = d->vstate;

    if (vs == NULL)
        return;
    d->vstate = NULL;
    if (vs->cache != NULL)
        sks_fetch_cache_free(vs->cache);
    if (vs->crls != NULL)
        sks_fetch_cache_free(vs->crls);
    if (vs->content.cache != NULL)
        sks_fetch_cache_free(vs->content.cache);
    X509_STORE_free(vs->roots);
    free(vs->ca_file);
    free(vs);
}

bool sksd_verify_cache_stats(struct sksd *d, struct sks_fetch_cache_stats *x5u,
                             struct sks_fetch_cache_stats *crl)
{
    memset(x5u, 0, sizeof(*x5u));
    memset(crl, 0, sizeof(*crl));
    if (d->vstate == NULL)
        return false;
    sks_fetch_cache_stats(d->vstate->cache, x5u);
    if (d->vstate->crls == NULL)
        return false;
    sks_fetch_cache_stats(d->vstate->crls, crl);
    return true;
}

sks_status sksd_rcdi_compute(struct sksd *d, struct sks_passport *pp, struct sks_error *err)
{
    sks_status st;

    if (d->vstate == NULL)
        return sks_fail_field(err, SKS_ERR_POLICY, "rcdi-not-configured", "rcdi",
                              "rcdi: true needs the content fetched as verification fetches it: "
                              "configure [sksd] verify");
    st = sks_rcdi_compute(pp, sks_rcd_content_digest, &d->vstate->content, err);
    if (st == SKS_OK || (err->code != NULL && strcmp(err->code, "invalid-rcd") == 0))
        return st;
    /* What the fetch said (the URL and why) stays; the code says what the client can do. */
    sks_error_prefix(err, "cannot compute rcdi");
    err->status = SKS_ERR_POLICY;
    sks_error_set_field(err, "rcd-content-unavailable", "rcdi");
    return SKS_ERR_POLICY;
}

/* ---- the request ---------------------------------------------------------------- */

/* What a verificationRequest says about the call. */
struct call {
    char orig[SKS_TN_MAX + 1];
    bool has_orig;
    char dest[SKS_DEST_MAX][SKS_TN_MAX + 1];
    size_t ndest;
    long long time; /* 0: not given */
    /*
     * identity: one value (a string), or the values of a diverted call (an
     * array, RFC 8946), of which the first SKS_VERIFY_IDENTITIES_MAX are
     * kept: more are refused by sks_identities_verify() unread.
     */
    bool several;
    struct sks_identity_value ids[SKS_VERIFY_IDENTITIES_MAX];
    size_t nids;
};

/* The member |a| or, as vesper's clients write it, |b|; NULL when neither. */
static json_t *either(const json_t *obj, const char *a, const char *b, const char **name)
{
    json_t *v = json_object_get(obj, a);

    *name = a;
    if (v == NULL && (v = json_object_get(obj, b)) != NULL)
        *name = b;
    return v;
}

static sks_status canonical_tn(struct sksd_verification *out, const json_t *v, const char *field,
                               char tn[SKS_TN_MAX + 1])
{
    if (!json_is_string(v))
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", field,
                              "%s has the wrong JSON type: it must be a string", field);
    if (sks_tn_canonicalize(json_string_value(v), tn, &out->err) != SKS_OK) {
        sks_error_prefix(&out->err, "%s", field);
        sks_error_set_field(&out->err, "invalid-tn", field);
        return SKS_ERR_INPUT;
    }
    return SKS_OK;
}

/*
 * {"tn": "..."} or {"tn": ["...", ...]}: one TN for from (an array of
 * exactly one, as vesper writes it, too), up to SKS_DEST_MAX for to.
 */
static sks_status read_tns(struct sksd_verification *out, const json_t *req, const char *a,
                           const char *b, char (*tns)[SKS_TN_MAX + 1], size_t max, size_t *n)
{
    const char *name;
    json_t *obj = either(req, a, b, &name), *tn, *v;
    char field[48];
    size_t i;

    *n = 0;
    if (obj == NULL)
        return SKS_OK;
    snprintf(field, sizeof(field), "%s.tn", name);
    if (!json_is_object(obj) || (tn = json_object_get(obj, "tn")) == NULL ||
        json_object_size(obj) != 1)
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", name,
                              "%s must be an object {\"tn\": ...} and nothing else", name);
    if (json_is_string(tn)) {
        *n = 1;
        return canonical_tn(out, tn, field, tns[0]);
    }
    if (!json_is_array(tn) || json_array_size(tn) == 0)
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", field,
                              "%s must be a TN or a non-empty array of TNs", field);
    if (json_array_size(tn) > max)
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "too-many", field,
                              "%s has %zu TNs: at most %zu", field, json_array_size(tn), max);
    json_array_foreach(tn, i, v)
    {
        char item[80];

        snprintf(item, sizeof(item), "%s[%zu]", field, i);
        if (canonical_tn(out, v, item, tns[i]) != SKS_OK)
            return SKS_ERR_INPUT;
    }
    *n = json_array_size(tn);
    return SKS_OK;
}

/* time: seconds since 1970, an integer (1.4432e9 too, as the signing API takes it). */
static sks_status read_time(struct sksd_verification *out, const json_t *req, struct call *call)
{
    const char *name;
    const json_t *v = either(req, "time", "iat", &name);
    double x;

    if (v == NULL)
        return SKS_OK;
    x = json_is_integer(v) ? (double)json_integer_value(v)
        : json_is_real(v)  ? json_real_value(v)
                           : -1;
    if (!(x >= 1 && x <= 9007199254740992.0) || floor(x) != x)
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", name,
                              "%s must be a positive integer (seconds since 1970)", name);
    call->time = (long long)x;
    return SKS_OK;
}

/* identity as an array: a diverted call's shaken and div PASSporTs, each a string. */
static sks_status read_identities(struct sksd_verification *out, const json_t *arr,
                                  struct call *call)
{
    const json_t *v;
    size_t i;

    call->several = true;
    call->nids = json_array_size(arr);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            char field[32];

            snprintf(field, sizeof(field), "identity[%zu]", i);
            return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", field,
                                  "%s has the wrong JSON type: it must be an Identity header "
                                  "value, a string",
                                  field);
        }
        if (i < SKS_VERIFY_IDENTITIES_MAX)
            call->ids[i] = (struct sks_identity_value){json_string_value(v), json_string_length(v)};
    }
    return SKS_OK;
}

static const char *const members[] = {"from", "to", "time", "identity", "orig", "dest", "iat"};

static sks_status read_call(struct sksd_verification *out, const json_t *root, struct call *call)
{
    const json_t *req = json_object_get(root, "verificationRequest");
    const char *key;
    json_t *v, *id;
    size_t i, n;

    if (!json_is_object(root))
        return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", "body",
                              "the body must be an object "
                              "{\"verificationRequest\":{...}}");
    if (req != NULL) {
        if (json_object_size(root) != 1)
            return sks_fail_field(&out->err, SKS_ERR_INPUT, "unknown-field", "body",
                                  "the body holds more than its verificationRequest");
        if (!json_is_object(req))
            return sks_fail_field(&out->err, SKS_ERR_INPUT, "wrong-type", "verificationRequest",
                                  "verificationRequest must be an object");
    } else {
        req = root;
    }
    json_object_foreach((json_t *)req, key, v)
    {
        for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
            if (strcmp(key, members[i]) == 0)
                break;
        }
        if (i == sizeof(members) / sizeof(members[0])) {
            char q[48];

            return sks_fail_field(&out->err, SKS_ERR_INPUT, "unknown-field", "verificationRequest",
                                  "verificationRequest has an unknown member \"%s\"",
                                  sks_printable(key, q, sizeof(q)));
        }
    }
    if (read_tns(out, req, "from", "orig", &call->orig, 1, &n) != SKS_OK)
        return SKS_ERR_INPUT;
    call->has_orig = n == 1;
    if (read_tns(out, req, "to", "dest", call->dest, SKS_DEST_MAX, &call->ndest) != SKS_OK ||
        read_time(out, req, call) != SKS_OK)
        return SKS_ERR_INPUT;
    id = json_object_get(req, "identity");
    if (json_is_array(id))
        return read_identities(out, id, call);
    if (id != NULL && !json_is_string(id))
        return sks_fail_field(
            &out->err, SKS_ERR_INPUT, "wrong-type", "identity",
            "identity has the wrong JSON type: it must be the Identity header value, a "
            "string");
    call->ids[0].hdr = id != NULL ? json_string_value(id) : "";
    call->ids[0].len = id != NULL ? json_string_length(id) : 0;
    call->nids = 1;
    return SKS_OK;
}

/* ---- verifying ---------------------------------------------------------------------- */

/* The verstat counters of /metrics: passed, failed, no validation. */
static void count(struct sksd *d, int sip)
{
    const char *v = sks_verstat(sip);
    unsigned int slot = strcmp(v, "TN-Validation-Passed") == 0   ? 0
                        : strcmp(v, "TN-Validation-Failed") == 0 ? 1
                                                                 : 2;

    atomic_fetch_add_explicit(&d->metrics.verstat[slot], 1, memory_order_relaxed);
}

bool sksd_verify_request(struct sksd *d, const char *body, size_t len, bool wait,
                         struct sksd_verification *out)
{
    struct sksd_verify_state *vs = d->vstate;
    struct sks_verify_opts o;
    struct call call;
    json_error_t jerr;
    json_t *root;
    time_t now = time(NULL);
    bool answered = true;

    memset(&call, 0, sizeof(call));
    out->judged = false;
    sks_error_clear(&out->err);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        sks_fail_field(&out->err, SKS_ERR_INPUT, "malformed-json", "body",
                       "the body is not JSON: %s at line %d column %d", jerr.text, jerr.line,
                       jerr.column);
        return true;
    }
    if (read_call(out, root, &call) != SKS_OK)
        goto done;
    sks_verify_opts_init(&o);
    o.source = wait ? &vs->source : &vs->cached;
    o.rcd_digest = sks_rcd_content_digest;
    o.rcd_ctx = wait ? &vs->content : &vs->content_cached;
    o.max_age = vs->max_age;
    o.call_orig = call.has_orig ? call.orig : NULL;
    o.call_dest = call.dest;
    o.ncall_dest = call.ndest;
    o.now = now;
    out->judged = true;
    out->several = call.several;
    /* RFC 8224 section 6.2.1: the Date of the request is fresh, and iat is judged by it. */
    if (call.time != 0 && llabs(call.time - (long long)now) > vs->max_age) {
        memset(&out->set, 0, sizeof(out->set));
        out->set.at_fault = SKS_VERIFY_NO_VALUE;
        out->set.res.sip_code = SKS_SIP_STALE_DATE;
        out->set.res.sip_reason = sks_sip_reason(SKS_SIP_STALE_DATE);
        sks_fail_field(&out->err, SKS_ERR_POLICY, "stale-time", "time",
                       "time %lld is %lld seconds from sksd's clock: more than the %ld allowed",
                       call.time, llabs(call.time - (long long)now), vs->max_age);
    } else {
        if (call.time != 0)
            o.now = (time_t)call.time;
        if (call.several) {
            (void)sks_identities_verify(call.ids, call.nids, &o, &out->set, &out->err);
        } else {
            out->set.at_fault = SKS_VERIFY_NO_VALUE;
            out->set.nlinks = 0;
            (void)sks_identity_verify(call.ids[0].hdr, call.ids[0].len, &o, &out->set.res,
                                      &out->err);
        }
        answered = wait || !sks_verify_needs_fetch(&out->set.res, &out->err);
    }
    if (answered)
        count(d, out->set.res.sip_code);
done:
    json_decref(root);
    return answered;
}
