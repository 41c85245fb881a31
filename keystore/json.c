/*
 * The JSON of a key store listing: one vocabulary for sksctl list --json and
 * sksd's GET /sks/v1/identities, so that a script reads either the same way.
 * Members are camelCase like the rest of sksd's API; times are RFC 3339
 * strings in UTC.  sksctl(1) and sksd(8) list the members.
 */
#include "config.h"

#include <time.h>

#include <jansson.h>

#include "keystore/internal.h"

/* Leaves |name| out when |t| is 0: no such time (a pending version has no notAfter). */
static void set_time(json_t *j, const char *name, time_t t)
{
    struct tm tm;
    char buf[32];

    if (t == 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return;
    json_object_set_new(j, name, json_string(buf));
}

static json_t *version_json(const struct sks_version_info *v, long grace)
{
    json_t *j = json_pack("{s:I, s:s}", "version", (json_int_t)v->version, "state",
                          sks_version_state_name(v->state));

    if (j == NULL)
        return NULL;
    set_time(j, "notAfter", v->not_after);
    json_object_set_new(j, "x5u", json_string(v->x5u));
    json_object_set_new(j, "uri", json_string(v->uri));
    if (v->state == SKS_VERSION_PREVIOUS) {
        set_time(j, "replacedAt", v->replaced_at);
        set_time(j, "usableUntil", v->replaced_at + grace);
    }
    return j;
}

json_t *sks_identity_json(const struct sks_keystore *ks, const struct sks_identity_info *info)
{
    json_t *versions = json_array();
    size_t i;

    for (i = 0; versions != NULL && i < info->nversions; i++)
        json_array_append_new(versions, version_json(&info->versions[i], ks->cfg.grace_seconds));
    return json_pack("{s:s, s:s, s:I, s:o}", "name", info->name, "spc", info->spc, "activeVersion",
                     (json_int_t)info->active, "versions", versions);
}
