/*
 * sksctl's key version life cycle, once a version is in: activate (and roll
 * back), retire what the grace period is over for, destroy one version,
 * sweep what interrupted commands left, and protect keys made modifiable.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keystore/keystore.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

/* ---- activate, retire, destroy, sweep -------------------------------------------------------- */

static int usage_activate(FILE *f, int status)
{
    fprintf(f, "usage: sksctl activate IDENTITY VERSION [OPTIONS]\n"
               "\n"
               "Makes VERSION the one IDENTITY signs with, in one token write.  The version\n"
               "it replaces becomes \"previous\" and stays usable for the grace period\n"
               "(grace_period, default 24 h) until sksctl retire destroys it.  A previous\n"
               "version can be activated again (a rollback).\n"
               "\n"
               "First the CRLs the version's chain names (the STI-CA's for the certificate,\n"
               "the STI-PA's for the STI-CA) are fetched over HTTPS and checked with the\n"
               "trust anchors: a revoked certificate, or a CRL that cannot be had or is\n"
               "invalid, refuses the activation, naming the certificate and the CRL's URL.\n"
               "\n"
               "  --no-crl-check     activate without checking CRLs (no network to the CRL\n"
               "                     servers); says so on stderr.  crl_check = no does the "
               "same\n" CLI_STORE_USAGE CLI_TRUST_USAGE);
    return status;
}

/* IDENTITY VERSION: the arguments of activate and destroy. */
static int identity_version(const char *cmd, int argc, char **argv, unsigned int *version)
{
    if (optind + 2 != argc)
        return cli_usage_error(cmd, "give IDENTITY VERSION");
    if (!cli_parse_version(argv[optind + 1], version))
        return cli_usage_error(cmd, "VERSION is a version number (sksctl list)");
    return 0;
}

int cmd_activate(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "activate", .crls = true};
    const struct cli_opt opts[] = {
        CLI_CRL_OPTS(&o),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    unsigned int version = 0;
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_activate, &rc))
        return rc;
    if ((rc = identity_version(o.cmd, argc, argv, &version)) != 0)
        return rc;
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (sks_keystore_activate(s.ks, argv[optind], version, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    printf("%s/%u active\n", argv[optind], version);
    cli_store_close(&s);
    return 0;
}

static int usage_retire(FILE *f, int status)
{
    fprintf(f, "usage: sksctl retire [IDENTITY] [OPTIONS]\n"
               "\n"
               "Destroys the previous versions (of IDENTITY, or of every identity) whose\n"
               "grace period is over.  Run it from cron.\n"
               "\n" CLI_STORE_USAGE);
    return status;
}

struct retire_ctx {
    const char *only;
    long grace;
    time_t now;
    size_t n;
};

static int retire_cb(const struct sks_identity_info *info, void *arg)
{
    struct retire_ctx *ctx = arg;
    size_t i;

    if (ctx->only != NULL && strcmp(ctx->only, info->name) != 0)
        return 0;
    for (i = 0; i < info->nversions; i++) {
        const struct sks_version_info *v = &info->versions[i];
        if (v->state == SKS_VERSION_PREVIOUS && v->replaced_at + ctx->grace <= ctx->now) {
            printf("retired %s/%u\n", info->name, v->version);
            ctx->n++;
        }
    }
    return 0;
}

int cmd_retire(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "retire"};
    const struct cli_opt opts[] = {CLI_STORE_OPTS(&o), CLI_END};
    struct retire_ctx ctx = {0};
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_retire, &rc))
        return rc;
    if (optind + 1 < argc)
        return cli_usage_error(o.cmd, "give at most one IDENTITY");
    ctx.only = optind < argc ? argv[optind] : NULL;
    ctx.now = time(NULL);
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    ctx.grace = s.cfg.grace_period;
    /* Name what goes before it goes. */
    if (sks_keystore_list(s.ks, retire_cb, &ctx, &err) != SKS_OK ||
        sks_keystore_retire(s.ks, ctx.only, ctx.now, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    if (ctx.n == 0)
        printf("nothing to retire\n");
    cli_store_close(&s);
    return 0;
}

static int usage_destroy(FILE *f, int status)
{
    fprintf(f, "usage: sksctl destroy IDENTITY VERSION --yes [OPTIONS]\n"
               "\n"
               "Destroys one key version: its private key, public key and certificates.\n"
               "Refused for the active version when it is the identity's only version.\n"
               "Destroying the active version of an identity with other versions leaves it\n"
               "without an active version until sksctl activate.\n"
               "\n"
               "  --yes              required: the key cannot be brought back\n" CLI_STORE_USAGE);
    return status;
}

int cmd_destroy(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "destroy"};
    bool yes = false;
    const struct cli_opt opts[] = {
        CLI_FLAG("yes", &yes),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    unsigned int version = 0;
    struct sks_error err;
    struct sks_active *a = NULL;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_destroy, &rc))
        return rc;
    if ((rc = identity_version(o.cmd, argc, argv, &version)) != 0)
        return rc;
    if (!yes)
        return cli_usage_error(o.cmd, "destroying a key cannot be undone: add --yes");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (sks_keystore_destroy(s.ks, argv[optind], version, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    printf("destroyed %s/%u\n", argv[optind], version);
    if (sks_keystore_active(s.ks, argv[optind], 0, &a, &err) == SKS_OK)
        sks_active_put(a);
    else if (err.status == SKS_ERR_NOT_FOUND)
        fprintf(stderr,
                "sksctl destroy: warning: %s has no active version now: run sksctl "
                "activate\n",
                argv[optind]);
    cli_store_close(&s);
    return 0;
}

static int usage_sweep(FILE *f, int status)
{
    fprintf(f, "usage: sksctl sweep [OPTIONS]\n"
               "\n"
               "Removes what interrupted commands left: versions whose write never finished\n"
               "(older than sweep_after, default 600 s), pending versions older than\n"
               "pending_max_age (default 30 days), and objects no record lists.  Every\n"
               "command that changes the token sweeps first; this runs it alone.\n"
               "\n" CLI_STORE_USAGE);
    return status;
}

int cmd_sweep(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "sweep"};
    const struct cli_opt opts[] = {CLI_STORE_OPTS(&o), CLI_END};
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_sweep, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error(o.cmd, "unexpected argument");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    cli_store_close(&s);
    return 0;
}

/* ---- protect --------------------------------------------------------------------------------- */

static int usage_protect(FILE *f, int status)
{
    fprintf(f, "usage: sksctl protect IDENTITY... | --all [OPTIONS]\n"
               "\n"
               "Re-protects keys made before every key was created non-modifiable (sksctl\n"
               "list warns about them): turns off every use the key does not need, limits\n"
               "its mechanisms where the token allows, then replaces it by a copy with\n"
               "CKA_MODIFIABLE=FALSE.  The key keeps its CKA_ID and label, so identities and\n"
               "pkcs11: URIs find it as before.  --all: every EC key on the token and the\n"
               "wrapping key pair.  Where the token refuses, says what to do instead\n"
               "(regenerate and rotate).\n"
               "\n"
               "  --all              every EC key and the wrapping key pair\n" CLI_STORE_USAGE);
    return status;
}

static void protect_cb(const char *uri, bool ok, const char *msg, void *arg)
{
    (void)arg;
    if (ok)
        printf("%s: %s\n", uri, msg);
    else
        fprintf(stderr, "sksctl protect: %s: %s\n", uri, msg);
}

int cmd_protect(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "protect"};
    bool all = false;
    const struct cli_opt opts[] = {
        CLI_FLAG("all", &all),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    size_t done = 0, failed = 0;
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_protect, &rc))
        return rc;
    if (all == (optind < argc))
        return cli_usage_error(o.cmd, "give IDENTITY... or --all");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (sks_keystore_protect(s.ks, (const char *const *)argv + optind, (size_t)(argc - optind),
                             protect_cb, NULL, &done, &failed, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    cli_store_close(&s);
    if (done == 0)
        printf("no modifiable key to protect\n");
    if (failed > 0) {
        sks_fail(&err, SKS_ERR_POLICY, "%zu of %zu keys are still modifiable", failed, done);
        return cli_report(o.cmd, &err);
    }
    return 0;
}
