/*
 * A diverted call's Identity header values judged together (RFC 8946,
 * ATIS-1000085): the shaken PASSporT the originating provider signed and
 * one div PASSporT per diversion, each signed by the provider that
 * diverted the call.  Every value goes through sks_identity_verify(); what
 * is checked here is that they form one chain from the caller to the
 * call's destination (see verify.h).
 *
 * The chain is put together from the values' claims before any of them is
 * verified, so that a set that cannot be one call costs no certificate
 * fetch and no signature check.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "verify/verify.h"

/* What the chain rules need of one value: its claims, unverified. */
struct value {
    enum sks_ppt ppt;
    char orig[SKS_TN_MAX + 1];
    char dest[SKS_DEST_MAX][SKS_TN_MAX + 1];
    unsigned int ndest;
    char div[SKS_TN_MAX + 1];
    bool linked;
};

struct set_state {
    const struct sks_identity_value *values;
    size_t n;
    struct value v[SKS_VERIFY_IDENTITIES_MAX];
    size_t shaken;                               /* the index of the shaken PASSporT */
    size_t rcd;                                  /* the ppt=rcd PASSporT's, or none */
    size_t order[SKS_VERIFY_IDENTITIES_MAX - 1]; /* the div PASSporTs, as the call went */
    size_t nlinks;
};

/* A set that breaks a chain rule: the SIP response and the value at fault. */
static sks_status refuse(struct sks_verify_set *set, int sip, size_t at, struct sks_error *err,
                         const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static sks_status refuse(struct sks_verify_set *set, int sip, size_t at, struct sks_error *err,
                         const char *code, const char *fmt, ...)
{
    sks_status st = sip == SKS_SIP_USE_IDENTITY_HEADER ? SKS_ERR_INPUT : SKS_ERR_POLICY;
    va_list ap;

    set->res.sip_code = sip;
    set->at_fault = at;
    va_start(ap, fmt);
    sks_vfail(err, st, fmt, ap);
    va_end(ap);
    sks_error_set_field(err, code, "identity");
    return st;
}

static bool has_dest(const struct value *v, const char *tn)
{
    unsigned int k;

    for (k = 0; k < v->ndest; k++) {
        if (strcmp(v->dest[k], tn) == 0)
            return true;
    }
    return false;
}

/* Reads every value's claims; a malformed one fails the set as it fails on its own. */
static sks_status peek_all(struct set_state *s, struct sks_verify_set *set, struct sks_error *err)
{
    struct sks_passport pp;
    size_t i;
    int sip;

    for (i = 0; i < s->n; i++) {
        struct value *v = &s->v[i];

        if (sks_identity_peek(s->values[i].hdr, s->values[i].len, &pp, &sip, err) != SKS_OK) {
            set->res.sip_code = sip;
            set->at_fault = i;
            sks_error_prefix(err, "Identity value %zu", i + 1);
            return err->status;
        }
        v->ppt = pp.ppt;
        memcpy(v->orig, pp.orig, sizeof(v->orig));
        memcpy(v->dest, pp.dest, sizeof(v->dest));
        v->ndest = pp.ndest;
        memcpy(v->div, pp.div, sizeof(v->div));
    }
    return SKS_OK;
}

/* The one shaken PASSporT; every other value a div PASSporT with its orig. */
static sks_status find_shaken(struct set_state *s, struct sks_verify_set *set,
                              struct sks_error *err)
{
    size_t i;

    s->shaken = SKS_VERIFY_NO_VALUE;
    for (i = 0; i < s->n; i++) {
        if (s->v[i].ppt != SKS_PPT_SHAKEN)
            continue;
        if (s->shaken != SKS_VERIFY_NO_VALUE)
            return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "shaken-several",
                          "Identity value %zu (ppt=shaken): value %zu is the call's shaken "
                          "PASSporT already; a call has one (RFC 8588)",
                          i + 1, s->shaken + 1);
        s->shaken = i;
    }
    s->rcd = SKS_VERIFY_NO_VALUE;
    for (i = 0; i < s->n; i++) {
        if (s->v[i].ppt == SKS_PPT_DIV || i == s->shaken)
            continue;
        if (s->v[i].ppt == SKS_PPT_RCD && s->rcd == SKS_VERIFY_NO_VALUE) {
            s->rcd = i;
            s->v[i].linked = true; /* no link of the chain */
            continue;
        }
        return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "identity-unsupported",
                      "Identity value %zu (ppt=%s): a call's values are its shaken PASSporT, "
                      "div PASSporTs (RFC 8946) and one ppt=rcd PASSporT (RFC 9795)",
                      i + 1, sks_ppt_name(s->v[i].ppt));
    }
    if (s->shaken == SKS_VERIFY_NO_VALUE)
        return refuse(set, SKS_SIP_USE_IDENTITY_HEADER, 0, err, "div-without-shaken",
                      "Identity value 1 (ppt=div): no shaken PASSporT: a div PASSporT records "
                      "a diversion of a call whose caller a shaken PASSporT asserts "
                      "(RFC 8946 section 3)");
    for (i = 0; i < s->n; i++) {
        if (i == s->shaken || strcmp(s->v[i].orig, s->v[s->shaken].orig) == 0)
            continue;
        if (i == s->rcd)
            return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "rcd-call",
                          "Identity value %zu (ppt=rcd): orig %s is not the shaken PASSporT's "
                          "orig %s: its Rich Call Data is another call's (RFC 9795)",
                          i + 1, s->v[i].orig, s->v[s->shaken].orig);
        return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "div-orig",
                      "Identity value %zu (ppt=div): orig %s is not the shaken PASSporT's "
                      "orig %s; a diversion keeps the caller (RFC 8946 section 3)",
                      i + 1, s->v[i].orig, s->v[s->shaken].orig);
    }
    for (i = 0; s->rcd != SKS_VERIFY_NO_VALUE && i < s->v[s->shaken].ndest; i++) {
        if (!has_dest(&s->v[s->rcd], s->v[s->shaken].dest[i]))
            return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, s->rcd, err, "rcd-call",
                          "Identity value %zu (ppt=rcd): the shaken PASSporT's dest %s is not "
                          "among its dest: its Rich Call Data is another call's (RFC 9795)",
                          s->rcd + 1, s->v[s->shaken].dest[i]);
    }
    return SKS_OK;
}

/*
 * From the shaken PASSporT on, the div PASSporT that diverts from one of
 * the current dest, until none does; every div PASSporT must be on the way.
 */
static sks_status link_divs(struct set_state *s, struct sks_verify_set *set, struct sks_error *err)
{
    size_t cur = s->shaken, next, i;

    s->v[cur].linked = true;
    for (;;) {
        next = SKS_VERIFY_NO_VALUE;
        for (i = 0; i < s->n; i++) {
            if (s->v[i].linked || !has_dest(&s->v[cur], s->v[i].div))
                continue;
            if (next != SKS_VERIFY_NO_VALUE)
                return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "div-unlinked",
                              "Identity value %zu (ppt=div): value %zu diverts the call "
                              "from %s already; one div PASSporT per diversion (RFC 8946)",
                              i + 1, next + 1, s->v[i].div);
            next = i;
        }
        if (next == SKS_VERIFY_NO_VALUE)
            break;
        s->v[next].linked = true;
        s->order[s->nlinks++] = next;
        cur = next;
    }
    for (i = 0; i < s->n; i++) {
        if (!s->v[i].linked)
            return refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, i, err, "div-unlinked",
                          "Identity value %zu (ppt=div): it diverts the call from %s, which "
                          "is not the dest of the shaken PASSporT or of a diversion before it "
                          "(RFC 8946)",
                          i + 1, s->v[i].div);
    }
    return SKS_OK;
}

/*
 * Verifies value |i| on its own: the call's orig is checked on the shaken
 * PASSporT (the others' equal it), the call's dest on the last PASSporT.
 */
static sks_status verify_one(const struct set_state *s, size_t i, bool last,
                             const struct sks_verify_opts *opts, struct sks_verify_result *res,
                             struct sks_verify_set *set, struct sks_error *err)
{
    struct sks_verify_opts o = *opts;

    if (i != s->shaken)
        o.call_orig = NULL;
    if (!last) {
        o.call_dest = NULL;
        o.ncall_dest = 0;
    }
    if (sks_identity_verify(s->values[i].hdr, s->values[i].len, &o, res, err) == SKS_OK)
        return SKS_OK;
    set->res.sip_code = res->sip_code;
    set->at_fault = i;
    sks_error_prefix(err, "Identity value %zu (ppt=%s)", i + 1, sks_ppt_name(s->v[i].ppt));
    return err->status;
}

/*
 * The ppt=rcd PASSporT, of the shaken PASSporT's call (checked already):
 * verified as any value, its Rich Call Data judged, and reported as the
 * set's when the shaken PASSporT carries none.
 */
static sks_status verify_rcd(const struct set_state *s, const struct sks_verify_opts *opts,
                             struct sks_verify_result *res, struct sks_verify_set *set,
                             struct sks_error *err)
{
    struct sks_verify_result *out = &set->res;

    if (verify_one(s, s->rcd, false, opts, res, set, err) != SKS_OK)
        return err->status;
    if (out->rcd == SKS_RCD_NONE) {
        out->rcd = res->rcd;
        out->rcd_err = res->rcd_err;
        memcpy(out->passport.rcd, res->passport.rcd, sizeof(out->passport.rcd));
        memcpy(out->passport.rcdi, res->passport.rcdi, sizeof(out->passport.rcdi));
        memcpy(out->passport.crn, res->passport.crn, sizeof(out->passport.crn));
    }
    return SKS_OK;
}

static sks_status verify_chain(struct set_state *s, const struct sks_verify_opts *opts,
                               struct sks_verify_set *set, struct sks_error *err)
{
    struct sks_verify_result div;
    size_t k;
    sks_status st;

    if ((st = peek_all(s, set, err)) != SKS_OK || (st = find_shaken(s, set, err)) != SKS_OK ||
        (st = link_divs(s, set, err)) != SKS_OK ||
        (st = verify_one(s, s->shaken, s->nlinks == 0, opts, &set->res, set, err)) != SKS_OK)
        return st;
    for (k = 0; k < s->nlinks; k++) {
        struct sks_verify_link *l = &set->links[k];

        st = verify_one(s, s->order[k], k + 1 == s->nlinks, opts, &div, set, err);
        if (st != SKS_OK)
            return st;
        memcpy(l->div, div.passport.div, sizeof(l->div));
        memcpy(l->dest, div.passport.dest, sizeof(l->dest));
        l->ndest = div.passport.ndest;
        l->chain_checked = div.chain_checked;
        memcpy(l->spc, div.spc, sizeof(l->spc));
    }
    set->nlinks = s->nlinks;
    return s->rcd == SKS_VERIFY_NO_VALUE ? SKS_OK : verify_rcd(s, opts, &div, set, err);
}

sks_status sks_identities_verify(const struct sks_identity_value *values, size_t n,
                                 const struct sks_verify_opts *opts, struct sks_verify_set *set,
                                 struct sks_error *err)
{
    struct set_state s;
    sks_status st;

    memset(set, 0, sizeof(*set));
    set->at_fault = SKS_VERIFY_NO_VALUE;
    if (n == 0)
        return sks_identity_verify("", 0, opts, &set->res, err);
    if (n > SKS_VERIFY_IDENTITIES_MAX) {
        st = refuse(set, SKS_SIP_INVALID_IDENTITY_HEADER, SKS_VERIFY_IDENTITIES_MAX, err,
                    "identity-too-many",
                    "%zu Identity values: at most %d are judged together (a shaken PASSporT "
                    "and %d diversions)",
                    n, SKS_VERIFY_IDENTITIES_MAX, SKS_VERIFY_IDENTITIES_MAX - 1);
    } else {
        memset(&s, 0, sizeof(s));
        s.values = values;
        s.n = n;
        st = verify_chain(&s, opts, set, err);
    }
    if (st != SKS_OK) {
        int sip = set->res.sip_code;

        /* Nothing of a PASSporT that passed is reported for a set that did not. */
        memset(&set->res, 0, sizeof(set->res));
        set->res.sip_code = sip;
        set->nlinks = 0;
    }
    set->res.sip_reason = sks_sip_reason(set->res.sip_code);
    return st;
}
