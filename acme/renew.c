/* The [acme] section and the renewal window (renew.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "acme/renew.h"

#define SECTION "acme"

void acme_renew_config_init(struct acme_renew_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->fraction = ACME_RENEW_FRACTION_DEFAULT;
    cfg->jitter = ACME_RENEW_JITTER_DEFAULT;
    cfg->retry_min = ACME_RENEW_RETRY_MIN_DEFAULT;
    cfg->retry_max = ACME_RENEW_RETRY_MAX_DEFAULT;
}

void acme_renew_config_free(struct acme_renew_config *cfg)
{
    for (size_t i = 0; i < sizeof(cfg->strings) / sizeof(cfg->strings[0]); i++)
        free(cfg->strings[i]);
    acme_renew_config_init(cfg);
}

/* The string keys: where each goes and whether it is a path. */
static const char **string_field(struct acme_renew_config *cfg, const char *key, bool *path,
                                 size_t *slot)
{
    static const char *const names[] = {"directory",         "ca_file",      "spc_token",
                                        "spc_token_command", "stipa_url",    "stipa_account",
                                        "stipa_credentials", "stipa_ca_file"};
    const char **fields[] = {&cfg->directory,
                             &cfg->ca_file,
                             &cfg->source.token_file,
                             &cfg->source.token_command,
                             &cfg->source.stipa_url,
                             &cfg->source.stipa_account,
                             &cfg->source.stipa_credentials,
                             &cfg->source.stipa_ca_file};
    static const bool paths[] = {false, true, true, false, false, false, true, true};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(key, names[i]) == 0) {
            *path = paths[i];
            *slot = i;
            return fields[i];
        }
    return NULL;
}

static sks_status bad_value(const char *key, const char *value, const char *want,
                            struct sks_error *err)
{
    return sks_fail_field(err, SKS_ERR_INPUT, "config", key, "[acme] %s = %.80s: %s", key, value,
                          want);
}

static sks_status parse_long(const char *key, const char *value, long min, long max, long *out,
                             struct sks_error *err)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < min || n > max) {
        char want[96];

        snprintf(want, sizeof(want), "not a number of seconds from %ld to %ld", min, max);
        return bad_value(key, value, want, err);
    }
    *out = n;
    return SKS_OK;
}

static sks_status set_key(struct acme_renew_config *cfg, const char *dir, const char *key,
                          const char *value, struct sks_error *err)
{
    bool path = false;
    size_t slot = 0;
    const char **field = string_field(cfg, key, &path, &slot);

    if (field != NULL) {
        char *copy;

        if (value[0] == '\0')
            return bad_value(key, value, "empty", err);
        if (path && value[0] != '/' && dir != NULL) {
            size_t n = strlen(dir) + strlen(value) + 2;

            if ((copy = malloc(n)) != NULL)
                snprintf(copy, n, "%s/%s", dir, value);
        } else {
            copy = strdup(value);
        }
        if (copy == NULL)
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        free(cfg->strings[slot]);
        cfg->strings[slot] = copy;
        *field = copy;
        return SKS_OK;
    }
    if (strcmp(key, "allow_private") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            cfg->allow_private = true;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            cfg->allow_private = false;
        else
            return bad_value(key, value, "neither yes nor no", err);
        return SKS_OK;
    }
    if (strcmp(key, "renew_fraction") == 0) {
        char *end;
        double f = strtod(value, &end);

        if (end == value || *end != '\0' || !(f > 0.0 && f <= 1.0))
            return bad_value(key, value, "not a fraction of the lifetime above 0 and at most 1",
                             err);
        cfg->fraction = f;
        return SKS_OK;
    }
    if (strcmp(key, "jitter") == 0)
        return parse_long(key, value, 0, 30L * 86400, &cfg->jitter, err);
    if (strcmp(key, "retry_min") == 0)
        return parse_long(key, value, 1, 30L * 86400, &cfg->retry_min, err);
    if (strcmp(key, "retry_max") == 0)
        return parse_long(key, value, 1, 30L * 86400, &cfg->retry_max, err);
    return sks_fail_field(err, SKS_ERR_INPUT, "config", key,
                          "[acme] has no setting \"%.64s\" (a misspelling?)", key);
}

sks_status acme_renew_config_load(struct acme_renew_config *cfg, CONF *conf, const char *dir,
                                  struct sks_error *err)
{
    STACK_OF(CONF_VALUE) *sect = conf != NULL ? NCONF_get_section(conf, SECTION) : NULL;
    sks_status st = SKS_OK;

    for (int i = 0; st == SKS_OK && i < sk_CONF_VALUE_num(sect); i++) {
        const CONF_VALUE *v = sk_CONF_VALUE_value(sect, i);

        st = set_key(cfg, dir, v->name, v->value, err);
    }
    if (st == SKS_OK && cfg->retry_min > cfg->retry_max)
        st = sks_fail_field(err, SKS_ERR_INPUT, "config", "retry_min",
                            "[acme] retry_min (%ld) is above retry_max (%ld)", cfg->retry_min,
                            cfg->retry_max);
    return st;
}

/* FNV-1a: a spread of the jitter that is the identity's own. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

time_t acme_renew_window(const struct acme_renew_config *cfg, const char *identity,
                         time_t not_before, time_t not_after)
{
    double lifetime = difftime(not_after, not_before);
    time_t open = not_after - (time_t)(lifetime * cfg->fraction + 0.5);

    if (cfg->jitter > 0)
        open -= (time_t)(name_hash(identity) % (uint32_t)(cfg->jitter + 1));
    return open;
}

long acme_renew_backoff(const struct acme_renew_config *cfg, unsigned int failures)
{
    long wait = cfg->retry_min;
    unsigned char r[4] = {0};
    long spread;

    for (unsigned int i = 1; i < failures && wait < cfg->retry_max; i++)
        wait = wait > cfg->retry_max / 2 ? cfg->retry_max : wait * 2;
    if (wait > cfg->retry_max)
        wait = cfg->retry_max;
    /* Up to a tenth more, so that identities that failed together do not retry together. */
    spread = wait / 10;
    if (spread > 0 && RAND_bytes(r, sizeof(r)) == 1)
        wait += (long)(((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | r[2] << 8 | r[3]) %
                       (uint32_t)(spread + 1));
    return wait;
}
