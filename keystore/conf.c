/* The shaken-sks configuration file: the [sks] section, read with NCONF. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>

#include "p11/p11.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"

#define SECTION "sks"
static const char *const string_keys[] = {"pkcs11_module", "pkcs11_module_env", "token",
                                          "pin_file",      "trust_anchors",     "crl_ca_file"};
/* More environment variables than this for one module is a mistake. */
#define MODULE_ENV_MAX 32
static const char *const number_keys[] = {"grace_period", "expiry_warn_days", "pending_max_age",
                                          "sweep_after", "crl_max_bytes"};
static const char *const bool_keys[] = {"crl_check", "crl_allow_private"};

static char **string_field(struct sks_config *cfg, const char *key)
{
    if (strcmp(key, "pkcs11_module") == 0)
        return &cfg->pkcs11_module;
    if (strcmp(key, "pkcs11_module_env") == 0)
        return &cfg->module_env_section;
    if (strcmp(key, "token") == 0)
        return &cfg->token;
    if (strcmp(key, "pin_file") == 0)
        return &cfg->pin_file;
    if (strcmp(key, "trust_anchors") == 0)
        return &cfg->trust_anchors;
    if (strcmp(key, "crl_ca_file") == 0)
        return &cfg->crl_ca_file;
    return NULL;
}

static long *number_field(struct sks_config *cfg, const char *key)
{
    if (strcmp(key, "grace_period") == 0)
        return &cfg->grace_period;
    if (strcmp(key, "expiry_warn_days") == 0)
        return &cfg->expiry_warn_days;
    if (strcmp(key, "pending_max_age") == 0)
        return &cfg->pending_max_age;
    if (strcmp(key, "sweep_after") == 0)
        return &cfg->sweep_after;
    if (strcmp(key, "crl_max_bytes") == 0)
        return &cfg->crl_max_bytes;
    return NULL;
}

static bool *bool_field(struct sks_config *cfg, const char *key)
{
    if (strcmp(key, "crl_check") == 0)
        return &cfg->crl_check;
    if (strcmp(key, "crl_allow_private") == 0)
        return &cfg->crl_allow_private;
    return NULL;
}

sks_status sks_config_set(char **field, const char *value, struct sks_error *err)
{
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    free(*field);
    *field = copy;
    return SKS_OK;
}

/* "dir/of/file" + "/" + value, unless value is absolute or a URI. */
static sks_status set_path(char **field, const char *dir, const char *value, struct sks_error *err)
{
    size_t len;

    if (value[0] == '/' || strncmp(value, "pkcs11:", 7) == 0 || dir == NULL)
        return sks_config_set(field, value, err);
    len = strlen(dir) + 1 + strlen(value) + 1;
    free(*field);
    if ((*field = malloc(len)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    snprintf(*field, len, "%s/%s", dir, value);
    return SKS_OK;
}

static sks_status parse_seconds(const char *path, const char *key, const char *text, long *out,
                                struct sks_error *err)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: [%s] %s = \"%s\" is not a whole number of at least 0", path, SECTION,
                        key, text);
    *out = v;
    return SKS_OK;
}

static bool known_key(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(string_keys) / sizeof(string_keys[0]); i++)
        if (strcmp(key, string_keys[i]) == 0)
            return true;
    for (i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++)
        if (strcmp(key, number_keys[i]) == 0)
            return true;
    for (i = 0; i < sizeof(bool_keys) / sizeof(bool_keys[0]); i++)
        if (strcmp(key, bool_keys[i]) == 0)
            return true;
    return false;
}

static bool env_name_ok(const char *name)
{
    size_t i;

    if (name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (i = 0; name[i] != '\0'; i++)
        if (!(name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
            return false;
    return true;
}

/*
 * The section pkcs11_module_env names: NAME = VALUE lines the module reads
 * from the environment (SOFTHSM2_CONF, a vendor's configuration path,
 * P11_KIT_SERVER_ADDRESS).  Values are paths, relative ones taken from |dir|,
 * except those with a colon (an address such as unix:path=/run/p11.sock),
 * which are passed as written.
 */
static sks_status read_module_env(struct sks_config *cfg, const char *dir, struct sks_error *err)
{
    STACK_OF(CONF_VALUE) *sect = NCONF_get_section(cfg->conf, cfg->module_env_section);
    int i, n;

    if (sect == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] pkcs11_module_env = %s names no section [%s]",
                        cfg->path, SECTION, cfg->module_env_section, cfg->module_env_section);
    n = sk_CONF_VALUE_num(sect);
    if (n > MODULE_ENV_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "%s: [%s] has over %d variables", cfg->path,
                        cfg->module_env_section, MODULE_ENV_MAX);
    if ((cfg->module_env = calloc((size_t)n + 1, sizeof(*cfg->module_env))) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    for (i = 0; i < n; i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(sect, i);
        struct sks_config_env *e = &cfg->module_env[cfg->nmodule_env];
        sks_status st;

        if (!env_name_ok(v->name))
            return sks_fail(err, SKS_ERR_INPUT,
                            "%s: [%s] \"%s\" is not an environment variable name", cfg->path,
                            cfg->module_env_section, v->name);
        if ((e->name = strdup(v->name)) == NULL)
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        cfg->nmodule_env++;
        if (strchr(v->value, ':') != NULL)
            st = sks_config_set(&e->value, v->value, err);
        else
            st = set_path(&e->value, dir, v->value, err);
        if (st != SKS_OK)
            return st;
    }
    return SKS_OK;
}

/* Takes the [sks] values; |dir| anchors relative paths. */
static sks_status read_section(struct sks_config *cfg, const char *dir, struct sks_error *err)
{
    STACK_OF(CONF_VALUE) *sect = NCONF_get_section(cfg->conf, SECTION);
    int i;

    if (sect == NULL)
        return SKS_OK;
    for (i = 0; i < sk_CONF_VALUE_num(sect); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(sect, i);
        char **s;
        long *n;
        bool *b;
        sks_status st = SKS_OK;

        if (!known_key(v->name))
            return sks_fail(err, SKS_ERR_INPUT,
                            "%s: unknown key \"%s\" in [%s] (known: pkcs11_module, "
                            "pkcs11_module_env, token, pin_file, trust_anchors, grace_period, "
                            "expiry_warn_days, pending_max_age, sweep_after, crl_check, "
                            "crl_ca_file, crl_allow_private, crl_max_bytes)",
                            cfg->path, v->name, SECTION);
        if ((s = string_field(cfg, v->name)) != NULL) {
            if (strcmp(v->name, "token") == 0 || strcmp(v->name, "pkcs11_module_env") == 0)
                st = sks_config_set(s, v->value, err);
            else
                st = set_path(s, dir, v->value, err);
        } else if ((n = number_field(cfg, v->name)) != NULL) {
            st = parse_seconds(cfg->path, v->name, v->value, n, err);
        } else if ((b = bool_field(cfg, v->name)) != NULL) {
            if (strcmp(v->value, "yes") != 0 && strcmp(v->value, "no") != 0)
                st = sks_fail(err, SKS_ERR_INPUT, "%s: [%s] %s = \"%.64s\": expected yes or no",
                              cfg->path, SECTION, v->name, v->value);
            *b = v->value[0] == 'y';
        }
        if (st != SKS_OK)
            return st;
    }
    if (cfg->module_env_section != NULL)
        return read_module_env(cfg, dir, err);
    return SKS_OK;
}

/*
 * The absolute directory of |path|: paths in the file are made absolute
 * once, here, so that sksctl, sksd and the PIN source ("file:/absolute")
 * all read the same files whatever their working directory.
 */
static char *dir_of(const char *path)
{
    char *dir = strdup(path), *slash, *abs;

    if (dir == NULL)
        return NULL;
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        free(dir);
        dir = strdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (dir == NULL)
        return NULL;
    abs = realpath(dir, NULL);
    if (abs == NULL)
        return dir;
    free(dir);
    return abs;
}

static sks_status load_file(struct sks_config *cfg, const char *path, struct sks_error *err)
{
    struct stat sb;
    long line = 0;
    BIO *in = NULL;
    char *dir = NULL;
    sks_status st;

    if (stat(path, &sb) != 0)
        return sks_fail(err, errno == ENOENT ? SKS_ERR_NOT_FOUND : SKS_ERR_SYSTEM,
                        "cannot read the configuration file %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sks_fail(err, SKS_ERR_INPUT, "configuration file %s is not a regular file", path);
    if (sb.st_size > SKS_CONFIG_MAX_BYTES)
        return sks_fail(err, SKS_ERR_INPUT, "configuration file %s is over %d bytes", path,
                        SKS_CONFIG_MAX_BYTES);
    if ((cfg->path = strdup(path)) == NULL || (dir = dir_of(path)) == NULL ||
        (cfg->conf = NCONF_new_ex(NULL, NULL)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    in = BIO_new_file(path, "r");
    if (in == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot open the configuration file %s", path);
        goto done;
    }
    if (NCONF_load_bio(cfg->conf, in, &line) <= 0) {
        ERR_clear_error();
        st = sks_fail(err, SKS_ERR_INPUT, "configuration file %s: syntax error on line %ld", path,
                      line);
        goto done;
    }
    st = read_section(cfg, dir, err);
done:
    BIO_free(in);
    free(dir);
    return st;
}

sks_status sks_config_load(const char *path, struct sks_config *cfg, struct sks_error *err)
{
    struct stat sb;
    sks_status st;

    memset(cfg, 0, sizeof(*cfg));
    cfg->grace_period = SKS_GRACE_DEFAULT;
    cfg->expiry_warn_days = SKS_EXPIRY_WARN_DAYS_DEFAULT;
    cfg->pending_max_age = SKS_PENDING_MAX_AGE_DEFAULT;
    cfg->sweep_after = SKS_SWEEP_AFTER_DEFAULT;
    cfg->crl_check = true;
    cfg->crl_max_bytes = SKS_CONFIG_CRL_MAX_BYTES_DEFAULT;
    if (path == NULL) {
        path = SKS_CONFIG_DEFAULT;
        /* No configuration file at all: flags alone say where the token is. */
        if (stat(path, &sb) != 0 && errno == ENOENT)
            return SKS_OK;
    }
    st = load_file(cfg, path, err);
    if (st != SKS_OK)
        sks_config_free(cfg);
    return st;
}

void sks_config_free(struct sks_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->pkcs11_module);
    free(cfg->token);
    free(cfg->pin_file);
    free(cfg->trust_anchors);
    free(cfg->crl_ca_file);
    free(cfg->module_env_section);
    for (size_t i = 0; i < cfg->nmodule_env; i++) {
        free(cfg->module_env[i].name);
        free(cfg->module_env[i].value);
    }
    free(cfg->module_env);
    NCONF_free(cfg->conf);
    memset(cfg, 0, sizeof(*cfg));
}

sks_status sks_config_open_token(const struct sks_config *cfg, struct p11_token **tok,
                                 struct sks_error *err)
{
    char pin[PATH_MAX + 6];
    bool pin_ok;
    int pin_errno;
    size_t i;
    sks_status st;

    /* Before the module is loaded: a module reads its environment in C_Initialize. */
    for (i = 0; i < cfg->nmodule_env; i++)
        if (setenv(cfg->module_env[i].name, cfg->module_env[i].value, 1) != 0)
            return sks_fail(err, SKS_ERR_SYSTEM, "cannot set %s for the PKCS#11 module: %s",
                            cfg->module_env[i].name, strerror(errno));
    /* A --pin-file flag is relative to the working directory; the file's values are absolute. */
    pin_ok = cfg->pin_file == NULL || realpath(cfg->pin_file, pin + 5) != NULL;
    pin_errno = errno;
    memcpy(pin, "file:", 5);
    st = p11_token_open(cfg->pkcs11_module, cfg->token,
                        cfg->pin_file != NULL && pin_ok ? pin : NULL, tok, err);
    if (st != SKS_OK && cfg->path != NULL)
        sks_error_prefix(err, "%s: [%s]", cfg->path, SECTION);
    /* A missing token is the first thing to fix: it is named before the PIN file. */
    if (st == SKS_OK && !pin_ok) {
        p11_token_put(*tok);
        *tok = NULL;
        st = sks_fail(err, pin_errno == ENOENT ? SKS_ERR_NOT_FOUND : SKS_ERR_SYSTEM,
                      "PIN file %s: %s", cfg->pin_file, strerror(pin_errno));
    }
    return st;
}

CONF *sks_config_conf(const struct sks_config *cfg)
{
    return cfg->conf;
}
