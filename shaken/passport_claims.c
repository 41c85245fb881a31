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
#include "shaken/rcd.h"

const char *sks_ppt_name(enum sks_ppt ppt)
{
    return ppt == SKS_PPT_DIV ? "div" : ppt == SKS_PPT_RCD ? "rcd" : "shaken";
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

/*
 * ---- the rule of each claim --------------------------------------------------
 *
 * Written once, for the setters (sksctl) and for sks_passport_check_claims()
 * (what sksd maps a signingRequest to).  Each names the claim by its path in
 * the claims JSON ("orig.tn", "dest.tn[1]") with a stable code.
 */

/* A canonical TN in a claim buffer of |size| bytes, which may lack its NUL. */
static sks_status tn_rule(const char *field, const char *tn, size_t size, struct sks_error *err)
{
    char shown[SKS_TN_MAX + 1], q[32];

    if (memchr(tn, '\0', size) == NULL) {
        memcpy(shown, tn, size < sizeof(shown) ? size : sizeof(shown) - 1);
        shown[(size < sizeof(shown) ? size : sizeof(shown) - 1)] = '\0';
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-tn", field,
                              "%s: TN \"%s...\" has more than %d digits, which no E.164 number has",
                              field, sks_printable(shown, q, sizeof(q)), SKS_TN_MAX);
    }
    if (sks_tn_check_canonical(tn, err) != SKS_OK) {
        sks_error_prefix(err, "%s", field);
        sks_error_set_field(err, "invalid-tn", field);
        return SKS_ERR_INPUT;
    }
    return SKS_OK;
}

static sks_status dest_count_rule(size_t n, struct sks_error *err)
{
    if (n == 0)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-dest", "dest.tn",
                              "dest is missing: dest.tn lists no TN; give 1 to %d", SKS_DEST_MAX);
    if (n > SKS_DEST_MAX)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-dest", "dest.tn",
                              "dest.tn: more than %d TNs", SKS_DEST_MAX);
    return SKS_OK;
}

/* RFC 8588 section 4: |attest| is the claim's whole string. */
static sks_status attest_rule(const char *attest, struct sks_error *err)
{
    char q[16];

    if (attest[0] >= 'A' && attest[0] <= 'C' && attest[1] == '\0')
        return SKS_OK;
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-attest", "attest",
                          "attest \"%s\" is not A, B or C (RFC 8588 section 4)",
                          sks_printable(attest, q, sizeof(q)));
}

/* An origid buffer of |size| bytes, which may lack its NUL. */
static sks_status origid_rule(const char *origid, size_t size, struct sks_error *err)
{
    char shown[SKS_UUID_LEN + 1], q[48];
    size_t n = strnlen(origid, size);

    if (n < size && sks_uuid_valid(origid))
        return SKS_OK;
    memcpy(shown, origid, n < sizeof(shown) ? n : sizeof(shown) - 1);
    shown[n < sizeof(shown) ? n : sizeof(shown) - 1] = '\0';
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-origid", "origid",
                          "origid \"%s%s\" is not a UUID (8-4-4-4-12 hex digits, RFC 4122)",
                          sks_printable(shown, q, sizeof(q)), n < size ? "" : "...");
}

static sks_status iat_rule(long long iat, struct sks_error *err)
{
    if (iat >= 0 && iat <= SKS_IAT_MAX)
        return SKS_OK;
    return sks_fail_field(err, SKS_ERR_INPUT, "invalid-iat", "iat",
                          "iat %lld is out of range: seconds since 1970 up to the year 9999", iat);
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

/* Canonicalizes |tn| into |out| (claim |field|), which is left alone on failure. */
static sks_status set_tn(const char *field, const char *tn, char out[SKS_TN_MAX + 1],
                         struct sks_error *err)
{
    char canon[SKS_TN_MAX + 1];

    if (sks_tn_canonicalize(tn, canon, err) != SKS_OK) {
        sks_error_prefix(err, "%.*s", (int)strcspn(field, "."), field);
        sks_error_set_field(err, "invalid-tn", field);
        return SKS_ERR_INPUT;
    }
    memcpy(out, canon, sizeof(canon));
    return SKS_OK;
}

sks_status sks_passport_set_orig(struct sks_passport *pp, const char *tn, struct sks_error *err)
{
    return set_tn("orig.tn", tn, pp->orig, err);
}

sks_status sks_passport_add_dest(struct sks_passport *pp, const char *tn, struct sks_error *err)
{
    char field[24];

    if (dest_count_rule(pp->ndest + 1, err) != SKS_OK)
        return SKS_ERR_INPUT;
    snprintf(field, sizeof(field), "dest.tn[%u]", pp->ndest);
    if (set_tn(field, tn, pp->dest[pp->ndest], err) != SKS_OK)
        return SKS_ERR_INPUT;
    pp->ndest++;
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
    if (pp->ppt != SKS_PPT_DIV)
        return sks_fail_field(err, SKS_ERR_INPUT, "unknown-field", "div",
                              "div: only a div PASSporT has a div claim");
    return set_tn("div.tn", tn, pp->div, err);
}

sks_status sks_passport_set_attest(struct sks_passport *pp, const char *attest,
                                   struct sks_error *err)
{
    if (pp->ppt != SKS_PPT_SHAKEN)
        return sks_fail_field(err, SKS_ERR_INPUT, "unknown-field", "attest",
                              "attest: only a SHAKEN PASSporT has attest");
    if (attest_rule(attest, err) != SKS_OK)
        return SKS_ERR_INPUT;
    pp->attest = attest[0];
    return SKS_OK;
}

sks_status sks_passport_set_origid(struct sks_passport *pp, const char *uuid, struct sks_error *err)
{
    if (pp->ppt != SKS_PPT_SHAKEN)
        return sks_fail_field(err, SKS_ERR_INPUT, "unknown-field", "origid",
                              "origid: only a SHAKEN PASSporT has origid");
    if (origid_rule(uuid, strlen(uuid) + 1, err) != SKS_OK)
        return SKS_ERR_INPUT;
    memcpy(pp->origid, uuid, SKS_UUID_LEN + 1);
    return SKS_OK;
}

sks_status sks_passport_set_iat(struct sks_passport *pp, long long iat, struct sks_error *err)
{
    if (iat_rule(iat, err) != SKS_OK)
        return SKS_ERR_INPUT;
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

/*
 * The Rich Call Data buffers are filled by shaken/rcd.c, which checks what
 * it writes: here only that each is terminated, and that a PASSporT of type
 * rcd has its rcd.
 */
static sks_status rcd_rule(const struct sks_passport *pp, struct sks_error *err)
{
    if (memchr(pp->crn, '\0', sizeof(pp->crn)) == NULL ||
        memchr(pp->rcd, '\0', sizeof(pp->rcd)) == NULL ||
        memchr(pp->rcdi, '\0', sizeof(pp->rcdi)) == NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-rcd", "rcd",
                              "rcd, rcdi or crn is not NUL-terminated");
    if (pp->ppt == SKS_PPT_RCD && pp->rcd[0] == '\0')
        return sks_fail_field(err, SKS_ERR_INPUT, "missing-field", "rcd",
                              "rcd is missing: a PASSporT of type rcd carries it (RFC 9795)");
    if (pp->rcdi[0] != '\0' && pp->rcd[0] == '\0')
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-rcd", "rcdi",
                              "rcdi is there without the rcd it protects");
    return SKS_OK;
}

/*
 * The struct is public, so what a caller wrote directly is checked too: a
 * buffer may lack its NUL, a count may be past its array.
 */
sks_status sks_passport_check_claims(const struct sks_passport *pp, struct sks_error *err)
{
    char field[24], attest[2] = {pp->attest, '\0'};
    unsigned int i;

    if (pp->ppt != SKS_PPT_SHAKEN && pp->ppt != SKS_PPT_DIV && pp->ppt != SKS_PPT_RCD)
        return sks_fail(err, SKS_ERR_INPUT, "unknown PASSporT type %d", (int)pp->ppt);
    if (rcd_rule(pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (pp->orig[0] == '\0')
        return sks_fail_field(err, SKS_ERR_INPUT, "missing-field", "orig",
                              "orig is missing: it names the calling TN");
    if (tn_rule("orig.tn", pp->orig, sizeof(pp->orig), err) != SKS_OK ||
        dest_count_rule(pp->ndest, err) != SKS_OK)
        return SKS_ERR_INPUT;
    for (i = 0; i < pp->ndest; i++) {
        snprintf(field, sizeof(field), "dest.tn[%u]", i);
        if (tn_rule(field, pp->dest[i], sizeof(pp->dest[i]), err) != SKS_OK)
            return SKS_ERR_INPUT;
    }
    if (iat_rule(pp->iat, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (pp->ppt == SKS_PPT_RCD)
        return SKS_OK;
    if (pp->ppt == SKS_PPT_DIV) {
        if (pp->div[0] == '\0')
            return sks_fail_field(err, SKS_ERR_INPUT, "missing-field", "div",
                                  "div is missing: a div PASSporT names the diverting TN");
        return tn_rule("div.tn", pp->div, sizeof(pp->div), err);
    }
    if (pp->attest == '\0')
        return sks_fail_field(err, SKS_ERR_INPUT, "missing-field", "attest",
                              "attest is missing: it must be A, B or C");
    if (attest_rule(attest, err) != SKS_OK ||
        origid_rule(pp->origid, sizeof(pp->origid), err) != SKS_OK)
        return SKS_ERR_INPUT;
    return SKS_OK;
}

sks_status sks_passport_check_complete(const struct sks_passport *pp, struct sks_error *err)
{
    if (memchr(pp->x5u, '\0', sizeof(pp->x5u)) == NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, "invalid-x5u", "x5u", "x5u: not NUL-terminated");
    if (sks_x5u_check(pp->x5u, err) != SKS_OK)
        return SKS_ERR_INPUT;
    return sks_passport_check_claims(pp, err);
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
        read_iat(json_object_get(root, "iat"), mode, pp, err) != SKS_OK ||
        sks_rcd_read(root, mode, pp, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (pp->ppt == SKS_PPT_RCD)
        return SKS_OK;
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
