/*
 * sksctl list: identities and their key versions, as a table or one JSON
 * document, and a warning for each key that is still modifiable.
 */
#include "config.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "keystore/keystore.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

static int usage_list(FILE *f, int status)
{
    fprintf(f, "usage: sksctl list [IDENTITY] [--json] [OPTIONS]\n"
               "\n"
               "Lists identities and their key versions: SPC, state (active, standby,\n"
               "previous, pending, writing), certificate notAfter and x5u.  A previous\n"
               "version shows until when it stays usable (the grace period).  Warns about\n"
               "each key that is still modifiable (made before keys were created\n"
               "non-modifiable): run sksctl protect for those.\n"
               "\n"
               "  --json             one JSON document instead of a table; modifiable keys\n"
               "                     are listed under \"unprotectedKeys\"\n" CLI_STORE_USAGE);
    return status;
}

struct list_ctx {
    const struct sks_keystore *ks;
    const char *only;
    bool json;
    long grace;
    json_t *out;
    json_t *unprotected;
    size_t shown;
};

static void iso_time(char *buf, size_t len, time_t t)
{
    struct tm tm;

    if (t == 0 || gmtime_r(&t, &tm) == NULL)
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int list_cb(const struct sks_identity_info *info, void *arg)
{
    struct list_ctx *ctx = arg;
    char na[32], until[32];
    size_t i;

    if (ctx->only != NULL && strcmp(ctx->only, info->name) != 0)
        return 0;
    ctx->shown++;
    if (ctx->json) {
        json_array_append_new(ctx->out, sks_identity_json(ctx->ks, info));
        return 0;
    }
    if (info->nversions == 0)
        printf("%-20s %-8s %-7s %-9s %-20s %s\n", info->name, info->spc[0] ? info->spc : "?", "-",
               "unreadable", "-", "-");
    for (i = 0; i < info->nversions; i++) {
        const struct sks_version_info *v = &info->versions[i];
        iso_time(na, sizeof(na), v->not_after);
        printf("%-20s %-8s %-7u %-9s %-20s %s", info->name, info->spc, v->version,
               sks_version_state_name(v->state), na, v->x5u[0] ? v->x5u : "-");
        if (v->state == SKS_VERSION_PREVIOUS) {
            iso_time(until, sizeof(until), v->replaced_at + ctx->grace);
            printf(" (usable until %s)", until);
        }
        putchar('\n');
    }
    return 0;
}

static int unprotected_cb(const char *uri, const char *label, void *arg)
{
    struct list_ctx *ctx = arg;

    fprintf(stderr,
            "sksctl list: warning: %s (label \"%s\") is modifiable: anyone with the PIN can "
            "switch on decrypt or derive; run sksctl protect --all\n",
            uri, label);
    json_array_append_new(ctx->unprotected, json_pack("{s:s, s:s}", "uri", uri, "label", label));
    return 0;
}

int cmd_list(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "list"};
    struct list_ctx ctx = {0};
    const struct cli_opt opts[] = {
        CLI_FLAG("json", &ctx.json),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_list, &rc))
        return rc;
    if (optind + 1 < argc)
        return cli_usage_error(o.cmd, "give at most one IDENTITY");
    ctx.only = optind < argc ? argv[optind] : NULL;
    if (cli_store_open(&o, false, false, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    ctx.ks = s.ks;
    ctx.grace = s.cfg.grace_period;
    ctx.out = json_array();
    ctx.unprotected = json_array();
    if (!ctx.json)
        printf("%-20s %-8s %-7s %-9s %-20s %s\n", "IDENTITY", "SPC", "VERSION", "STATE",
               "NOT-AFTER", "X5U");
    if (sks_keystore_list(s.ks, list_cb, &ctx, &err) != SKS_OK ||
        sks_keystore_unprotected(s.ks, unprotected_cb, &ctx, &err) != SKS_OK) {
        json_decref(ctx.out);
        json_decref(ctx.unprotected);
        return cli_store_report(o.cmd, &err, &s);
    }
    if (ctx.json) {
        json_t *doc =
            json_pack("{s:o, s:o}", "identities", ctx.out, "unprotectedKeys", ctx.unprotected);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(doc);
    } else {
        json_decref(ctx.out);
        json_decref(ctx.unprotected);
    }
    cli_store_close(&s);
    if (ctx.only != NULL && ctx.shown == 0) {
        sks_fail(&err, SKS_ERR_NOT_FOUND, "no identity %s", ctx.only);
        return cli_report(o.cmd, &err);
    }
    return 0;
}
