/* sksctl sign: signs a SHAKEN or div PASSporT and prints the Identity header. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shaken/passport.h"
#include "tools/sksctl.h"

struct sign_args {
    const char *key, *orig, *dest, *attest, *x5u, *origid, *iat, *div, *config;
};

static int usage(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl sign --key KEY --orig TN --dest TN[,TN...] --attest A|B|C\n"
            "                   [--x5u URL] [--origid UUID] [--iat SECONDS] [-c FILE]\n"
            "       sksctl sign --key KEY --orig TN --dest TN[,TN...] --div TN\n"
            "                   [--x5u URL] [--iat SECONDS] [-c FILE]\n"
            "\n"
            "Signs a PASSporT (RFC 8225) with ES256 and prints the SIP Identity header\n"
            "value (RFC 8224): JWS;info=<URL>;alg=ES256;ppt=shaken.\n"
            "\n"
            "  --key KEY       a pkcs11: URI, a key-reference PEM file, a PEM private key,\n"
            "                  or a key store identity (identity:NAME, or a NAME that is no\n"
            "                  file): its active key, and its x5u unless --x5u is given\n"
            "  -c, --config F  the key store configuration for identities (see sksctl(1))\n"
            "  --orig TN       the calling number; separators and a leading + are dropped\n"
            "  --dest TN,...   the called number(s), at most %d\n"
            "  --attest A|B|C  the SHAKEN attestation level (RFC 8588)\n"
            "  --x5u URL       where verifiers fetch the signing certificate; required\n"
            "                  unless KEY is a key store identity, whose x5u it replaces\n"
            "  --origid UUID   the origination identifier; a random UUID when absent\n"
            "  --iat SECONDS   the issue time, seconds since 1970; now when absent\n"
            "  --div TN        make a div PASSporT (RFC 8946) for a call diverted by TN\n"
            "                  (no --attest or --origid then)\n",
            SKS_DEST_MAX);
    return status;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "sksctl sign: %s (see sksctl sign --help)\n", msg);
    return SKSCTL_EXIT_USAGE;
}

static sks_status build(const struct sign_args *a, struct sks_passport *pp, struct sks_error *err)
{
    long long iat;

    if (sks_passport_init(pp, a->div != NULL ? SKS_PPT_DIV : SKS_PPT_SHAKEN, err) != SKS_OK ||
        sks_passport_set_x5u(pp, a->x5u, err) != SKS_OK ||
        sks_passport_set_orig(pp, a->orig, err) != SKS_OK ||
        sks_passport_add_dest_list(pp, a->dest, err) != SKS_OK)
        return err->status;
    if (a->div != NULL && sks_passport_set_div(pp, a->div, err) != SKS_OK)
        return err->status;
    if (a->attest != NULL && sks_passport_set_attest(pp, a->attest, err) != SKS_OK)
        return err->status;
    if (a->origid != NULL && sks_passport_set_origid(pp, a->origid, err) != SKS_OK)
        return err->status;
    if (a->iat != NULL) {
        if (sks_seconds_parse(a->iat, &iat, err) != SKS_OK) {
            sks_error_prefix(err, "--iat");
            return err->status;
        }
        if (sks_passport_set_iat(pp, iat, err) != SKS_OK)
            return err->status;
    }
    return SKS_OK;
}

static int check_args(const struct sign_args *a)
{
    if (a->key == NULL)
        return usage_error("--key is required");
    if (a->orig == NULL)
        return usage_error("--orig is required");
    if (a->dest == NULL)
        return usage_error("--dest is required");
    if (a->x5u == NULL)
        return usage_error("--x5u is required unless --key names a key store identity");
    if (a->div == NULL && a->attest == NULL)
        return usage_error("--attest is required for a SHAKEN PASSporT");
    if (a->div != NULL && (a->attest != NULL || a->origid != NULL))
        return usage_error("a div PASSporT (RFC 8946) has no attest or origid claim; "
                           "drop --attest and --origid");
    return 0;
}

static int sign_key(const struct sign_args *a)
{
    struct sks_passport pp;
    struct sks_error err;
    char out[SKS_IDENTITY_MAX];
    EVP_PKEY *key = NULL;
    size_t len;
    int rc;

    sks_error_clear(&err);
    rc = check_args(a);
    if (rc != 0)
        return rc;
    /* Claims first: a typo in a TN should not cost a token login. */
    if (build(a, &pp, &err) != SKS_OK)
        return cli_report("sign", &err);
    if (cli_load_private_key(a->key, &key, &err) != SKS_OK)
        return cli_report("sign", &err);
    if (sks_passport_sign(&pp, sks_es256_sign_evp, key, out, sizeof(out), &len, &err) != SKS_OK) {
        EVP_PKEY_free(key);
        return cli_report("sign", &err);
    }
    EVP_PKEY_free(key);
    printf("%s\n", out);
    if (fflush(stdout) != 0) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the Identity header to stdout");
        return cli_report("sign", &err);
    }
    return 0;
}

/* --key names a key store identity: sign with its active version, through the provider by URI. */
static int sign_identity(struct sign_args *a)
{
    char *uri = NULL, *x5u = NULL;
    struct sks_error err;
    int rc;

    if (cli_resolve_identity(a->key, a->config, &uri, &x5u, &err) != SKS_OK)
        return cli_report("sign", &err);
    a->key = uri;
    if (a->x5u == NULL)
        a->x5u = x5u;
    rc = sign_key(a);
    free(uri);
    free(x5u);
    return rc;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},  {"orig", required_argument, NULL, 'o'},
        {"dest", required_argument, NULL, 'd'}, {"attest", required_argument, NULL, 'a'},
        {"x5u", required_argument, NULL, 'x'},  {"origid", required_argument, NULL, 'i'},
        {"iat", required_argument, NULL, 't'},  {"div", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},       {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    struct sign_args a = {0};
    int c;

    while ((c = getopt_long(argc, argv, "hc:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a.config = optarg;
            break;
        case 'k':
            a.key = optarg;
            break;
        case 'o':
            a.orig = optarg;
            break;
        case 'd':
            a.dest = optarg;
            break;
        case 'a':
            a.attest = optarg;
            break;
        case 'x':
            a.x5u = optarg;
            break;
        case 'i':
            a.origid = optarg;
            break;
        case 't':
            a.iat = optarg;
            break;
        case 'v':
            a.div = optarg;
            break;
        case 'h':
            return usage(stdout, 0);
        default:
            return usage(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (optind != argc)
        return usage_error("unexpected argument");
    if (a.key != NULL && cli_is_identity_ref(a.key))
        return sign_identity(&a);
    return sign_key(&a);
}
