/*
 * The identity record: the label of an identity's CKO_DATA object.
 *
 *   {"format":1,"name":"sp-main","seq":7,"spc":"1234","active":2,"next":3,
 *    "versions":[{"version":2,"id":"<32 hex>","state":"active",
 *                 "created":1700000000,"changed":1700000000}]}
 *
 * Compact JSON so that pkcs11-tool --read-object shows something a person
 * can read.  The parser is strict: a record that does not make sense is an
 * error naming the identity, never a guess.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "keystore/internal.h"

#define RECORD_FORMAT 1

static const char *const state_names[] = {
    [SKS_VERSION_PENDING] = "pending", [SKS_VERSION_ACTIVE] = "active",
    [SKS_VERSION_STANDBY] = "standby", [SKS_VERSION_PREVIOUS] = "previous",
    [SKS_VERSION_WRITING] = "writing",
};

const char *sks_version_state_name(enum sks_version_state state)
{
    if ((size_t)state < sizeof(state_names) / sizeof(state_names[0]))
        return state_names[state];
    return "unknown";
}

static bool state_parse(const char *s, enum sks_version_state *out)
{
    size_t i;

    for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum sks_version_state)i;
            return true;
        }
    }
    return false;
}

static bool id_parse(const char *hex, unsigned char id[KS_ID_LEN])
{
    long n = 0;
    unsigned char *buf;

    if (strlen(hex) != 2 * KS_ID_LEN)
        return false;
    buf = OPENSSL_hexstr2buf(hex, &n);
    if (buf == NULL || n != KS_ID_LEN) {
        OPENSSL_free(buf);
        return false;
    }
    memcpy(id, buf, KS_ID_LEN);
    OPENSSL_free(buf);
    return true;
}

static sks_status bad(struct sks_error *err, const char *what)
{
    return sks_fail(err, SKS_ERR_INPUT, "the identity record is malformed: %s", what);
}

static sks_status parse_version(json_t *jv, struct ks_version *v, struct sks_error *err)
{
    json_int_t n = 0, created = 0, changed = 0;
    const char *id = NULL, *state = NULL;
    json_error_t jerr;

    if (json_unpack_ex(jv, &jerr, JSON_STRICT, "{s:I, s:s, s:s, s:I, s:I}", "version", &n, "id",
                       &id, "state", &state, "created", &created, "changed", &changed) != 0)
        return bad(err, jerr.text);
    if (n < 1 || n > 0xffffff)
        return bad(err, "a version number is out of range");
    if (!id_parse(id, v->id))
        return bad(err, "an object ID is not 32 hex digits");
    if (!state_parse(state, &v->state))
        return bad(err, "a version state is unknown");
    v->n = (unsigned int)n;
    v->created = (time_t)created;
    v->changed = (time_t)changed;
    return SKS_OK;
}

/* Version numbers are unique and below next; exactly the active one is ACTIVE. */
static sks_status check(const struct ks_record *rec, struct sks_error *err)
{
    size_t i, j, nactive = 0;

    for (i = 0; i < rec->n; i++) {
        if (rec->v[i].n >= rec->next)
            return bad(err, "a version number is not below \"next\"");
        for (j = 0; j < i; j++)
            if (rec->v[j].n == rec->v[i].n)
                return bad(err, "a version number appears twice");
        if (rec->v[i].state == SKS_VERSION_ACTIVE) {
            nactive++;
            if (rec->v[i].n != rec->active)
                return bad(err, "an active version is not the record's \"active\"");
        }
    }
    if (nactive > 1 || (rec->active != 0 && nactive == 0))
        return bad(err, "\"active\" does not name exactly one active version");
    return SKS_OK;
}

sks_status ks_record_parse(const unsigned char *raw, size_t len, struct ks_record *rec,
                           struct sks_error *err)
{
    json_int_t format = 0, seq = 0, active = 0, next = 0;
    const char *spc = NULL, *name = NULL;
    json_t *root, *versions = NULL;
    json_error_t jerr;
    sks_status st = SKS_OK;
    size_t i;

    memset(rec, 0, sizeof(*rec));
    if (len > KS_RECORD_MAX)
        return bad(err, "it is too large");
    root = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return bad(err, jerr.text);
    if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:I, s:s, s:I, s:s, s:I, s:I, s:o}", "format",
                       &format, "name", &name, "seq", &seq, "spc", &spc, "active", &active, "next",
                       &next, "versions", &versions) != 0) {
        st = bad(err, jerr.text);
        goto done;
    }
    if (format != RECORD_FORMAT) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "the identity record has format %lld; this shaken-sks reads format %d",
                      (long long)format, RECORD_FORMAT);
        goto done;
    }
    if (!sks_identity_name_ok(name) || seq < 1 || !sks_spc_valid(spc) || active < 0 || next < 1 ||
        next > 0x1000000 || !json_is_array(versions) ||
        json_array_size(versions) > KS_VERSIONS_MAX) {
        st = bad(err, "spc, active, next or versions is out of range");
        goto done;
    }
    strcpy(rec->name, name);
    strcpy(rec->spc, spc);
    rec->seq = (unsigned long long)seq;
    rec->active = (unsigned int)active;
    rec->next = (unsigned int)next;
    rec->n = json_array_size(versions);
    for (i = 0; st == SKS_OK && i < rec->n; i++)
        st = parse_version(json_array_get(versions, i), &rec->v[i], err);
    if (st == SKS_OK)
        st = check(rec, err);
done:
    json_decref(root);
    return st;
}

sks_status ks_record_encode(const struct ks_record *rec, unsigned char **out, size_t *len,
                            struct sks_error *err)
{
    json_t *root = NULL, *versions = NULL;
    char hex[2 * KS_ID_LEN + 1];
    char *text = NULL;
    size_t i;

    if (check(rec, err) != SKS_OK) {
        sks_error_prefix(err, "internal error");
        return SKS_ERR_INTERNAL;
    }
    versions = json_array();
    for (i = 0; versions != NULL && i < rec->n; i++) {
        const struct ks_version *v = &rec->v[i];
        json_t *jv;
        OPENSSL_buf2hexstr_ex(hex, sizeof(hex), NULL, v->id, KS_ID_LEN, '\0');
        jv = json_pack("{s:I, s:s, s:s, s:I, s:I}", "version", (json_int_t)v->n, "id", hex, "state",
                       sks_version_state_name(v->state), "created", (json_int_t)v->created,
                       "changed", (json_int_t)v->changed);
        if (jv == NULL || json_array_append_new(versions, jv) != 0) {
            json_decref(versions);
            versions = NULL;
        }
    }
    if (versions != NULL)
        root =
            json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:o}", "format", RECORD_FORMAT, "name",
                      rec->name, "seq", (json_int_t)rec->seq, "spc", rec->spc, "active",
                      (json_int_t)rec->active, "next", (json_int_t)rec->next, "versions", versions);
    if (root != NULL)
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory encoding an identity record");
    *out = (unsigned char *)text;
    *len = strlen(text);
    return SKS_OK;
}

struct ks_version *ks_record_find(struct ks_record *rec, unsigned int n)
{
    size_t i;

    for (i = 0; i < rec->n; i++)
        if (rec->v[i].n == n)
            return &rec->v[i];
    return NULL;
}

void ks_record_remove(struct ks_record *rec, unsigned int n)
{
    size_t i;

    for (i = 0; i < rec->n; i++) {
        if (rec->v[i].n == n) {
            if (rec->v[i].state == SKS_VERSION_ACTIVE)
                rec->active = 0;
            memmove(&rec->v[i], &rec->v[i + 1], (rec->n - i - 1) * sizeof(rec->v[0]));
            rec->n--;
            return;
        }
    }
}
