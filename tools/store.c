/*
 * What sksctl's commands open: a token from --module, --token and
 * --pin-file alone, or the key store the configuration file and the flags
 * that override it describe; and how a failure is reported.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "p11/p11.h"
#include "keystore/conf.h"
#include "keystore/input.h"
#include "keystore/keystore.h"
#include "tools/sksctl.h"
#include "verify/x5u.h"

int cli_report(const char *cmd, const struct sks_error *err)
{
    /* A refusal for a CRL names its stable code too, for scripts. */
    bool crl = err->code != NULL && (strncmp(err->code, "crl-", 4) == 0 ||
                                     strcmp(err->code, SKS_CODE_CERT_REVOKED) == 0);

    fprintf(stderr, "sksctl %s: %s%s%s\n", cmd, crl ? err->code : "", crl ? ": " : "", err->msg);
    return sks_exit_code(err->status);
}

sks_status cli_open_token(const struct cli_token_opts *opts, struct p11_token **tok,
                          struct sks_error *err)
{
    struct sks_config cfg;
    sks_status st;

    /* Flags are a configuration without a file: one way to open a token. */
    memset(&cfg, 0, sizeof(cfg));
    st = sks_config_set(&cfg.pkcs11_module, opts->module, err);
    if (st == SKS_OK)
        st = sks_config_set(&cfg.token, opts->token, err);
    if (st == SKS_OK)
        st = sks_config_set(&cfg.pin_file, opts->pin_file, err);
    if (st == SKS_OK)
        st = sks_config_open_token(&cfg, tok, err);
    sks_config_free(&cfg);
    return st;
}

static void warn_stderr(const char *msg, void *arg)
{
    fprintf(stderr, "sksctl %s: warning: %s\n", (const char *)arg, msg);
}

void cli_store_close(struct cli_store *s)
{
    sks_keystore_close(s->ks);
    if (s->crl_cache != NULL)
        sks_fetch_cache_free(s->crl_cache);
    p11_token_put(s->tok);
    sks_config_free(&s->cfg);
    memset(s, 0, sizeof(*s));
}

int cli_store_report(const char *cmd, const struct sks_error *err, struct cli_store *s)
{
    int rc = cli_report(cmd, err);

    if (s != NULL)
        cli_store_close(s);
    return rc;
}

static sks_status store_config(const struct cli_store_opts *o, struct sks_config *cfg,
                               struct sks_error *err)
{
    sks_status st = sks_config_load(o->config, cfg, err);

    if (st == SKS_OK && o->module != NULL)
        st = sks_config_set(&cfg->pkcs11_module, o->module, err);
    if (st == SKS_OK && o->token != NULL)
        st = sks_config_set(&cfg->token, o->token, err);
    if (st == SKS_OK && o->pin_file != NULL)
        st = sks_config_set(&cfg->pin_file, o->pin_file, err);
    if (st == SKS_OK && o->trust != NULL)
        st = sks_config_set(&cfg->trust_anchors, o->trust, err);
    return st;
}

sks_status cli_store_open(const struct cli_store_opts *o, bool roots, bool mutating,
                          struct cli_store *s, struct sks_error *err)
{
    struct sks_keystore_config kcfg;
    sks_status st;

    memset(s, 0, sizeof(*s));
    sks_keystore_config_init(&kcfg);
    st = store_config(o, &s->cfg, err);
    if (st != SKS_OK)
        return st;
    if (s->cfg.pin_file == NULL) {
        cli_store_close(s);
        if (o->config == NULL && s->cfg.path == NULL)
            return sks_fail(err, SKS_ERR_INPUT,
                            "no configuration file: %s does not exist.  Create it with an "
                            "[sks] section (pkcs11_module, token, pin_file: see sksctl(1), "
                            "CONFIGURATION, or sks.conf.example), name another with -c FILE, "
                            "or give --module, --token and --pin-file",
                            SKS_CONFIG_DEFAULT);
        return sks_fail(err, SKS_ERR_INPUT,
                        "no user PIN file: set pin_file in [sks] of %s or give --pin-file",
                        o->config != NULL ? o->config : SKS_CONFIG_DEFAULT);
    }
    if (o->crls && (!s->cfg.crl_check || o->no_crl_check)) {
        fprintf(stderr,
                "sksctl %s: warning: CRLs are not checked (%s): a revoked certificate can be "
                "activated\n",
                o->cmd, o->no_crl_check ? "--no-crl-check" : "crl_check = no");
    } else if (o->crls) {
        /* The STI-CA's CRL is signed by the STI-PA: the chain needs the roots. */
        roots = true;
        sks_fetch_opts_init(&s->crl_fetch);
        s->crl_fetch.max_bytes = (size_t)s->cfg.crl_max_bytes;
        s->crl_fetch.ca_file = s->cfg.crl_ca_file;
        s->crl_fetch.allow_private = s->cfg.crl_allow_private;
        {
            struct sks_fetch_cache_opts copts;

            sks_fetch_cache_opts_init(&copts);
            s->crl_cache = sks_crl_cache_new(&copts, &s->crl_fetch);
        }
        if (s->crl_cache == NULL) {
            cli_store_close(s);
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        }
        s->crl_source.get = sks_crl_get;
        s->crl_source.arg = s->crl_cache;
        kcfg.crls = &s->crl_source;
    }
    if (roots && s->cfg.trust_anchors == NULL) {
        cli_store_close(s);
        return sks_fail(err, SKS_ERR_INPUT,
                        "no trust anchors: set trust_anchors in [sks] or give --trust");
    }
    if (roots && (st = sks_roots_load(s->cfg.trust_anchors, &kcfg.roots, err)) != SKS_OK) {
        cli_store_close(s);
        return st;
    }
    kcfg.grace_seconds = s->cfg.grace_period;
    kcfg.expiry_warn_days = s->cfg.expiry_warn_days;
    kcfg.pending_max_age = s->cfg.pending_max_age;
    kcfg.sweep_after = s->cfg.sweep_after;
    kcfg.warn = warn_stderr;
    kcfg.warn_arg = (void *)o->cmd;
    st = sks_config_open_token(&s->cfg, &s->tok, err);
    if (st == SKS_OK)
        st = sks_keystore_open(s->tok, &kcfg, &s->ks, err);
    X509_STORE_free(kcfg.roots);
    if (st == SKS_OK && mutating)
        st = sks_keystore_sweep(s->ks, time(NULL), err);
    if (st != SKS_OK)
        cli_store_close(s);
    return st;
}
