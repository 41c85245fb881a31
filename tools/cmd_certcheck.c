/*
 * sksctl cert-check: checks an SP certificate against the SHAKEN profile
 * and its chain to the STI-PA roots before an administrator imports it.
 * Prints the SPC and notAfter, or every rule the certificate breaks.
 */
#include "config.h"

#include <getopt.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "profile/profile.h"
#include "tools/sksctl.h"


static void usage(FILE *f)
{
    fprintf(f, "usage: sksctl cert-check --cert FILE [--chain FILE] --trust FILE\n"
               "\n"
               "Checks an SP certificate against the SHAKEN profile (ATIS-1000080) and\n"
               "its chain to the STI-PA roots.  Prints \"spc: SPC\" and\n"
               "\"not-after: TIME\" on success, else every broken rule; exits non-zero\n"
               "on failure.\n"
               "\n"
               "  --cert FILE   the SP certificate (PEM or DER); further PEM certificates\n"
               "                in the file (a fullchain file) are taken as intermediates\n"
               "  --chain FILE  PEM intermediate certificates (e.g. chain.pem)\n"
               "  --trust FILE  PEM STI-PA root certificates to trust\n");
}

static void print_result(const struct sks_profile_result *res)
{
    char when[32] = "";
    struct tm tm;

    if (gmtime_r(&res->not_after, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("spc: %s\nnot-after: %s\n", res->spc, when);
}

static void print_broken(const char *path, const struct sks_profile_result *res)
{
    const char *line = res->detail;
    unsigned int bits = res->broken, n = 0;

    for (; bits != 0; bits &= bits - 1)
        n++;
    fprintf(stderr, "sksctl cert-check: %s breaks %u SHAKEN profile rule%s:\n", path, n,
            n == 1 ? "" : "s");
    while (*line != '\0') {
        size_t len = strcspn(line, "\n");

        fprintf(stderr, "  %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
}

static int check(const char *cert_path, const char *chain_path, const char *trust_path)
{
    STACK_OF(X509) *certs = NULL, *chain = NULL;
    X509_STORE *roots = NULL;
    struct sks_profile_result res;
    struct sks_error err;
    X509 *ee;
    int rc;

    sks_error_clear(&err);
    if (chain_path == NULL && (chain = sk_X509_new_null()) == NULL) {
        sks_fail(&err, SKS_ERR_SYSTEM, "out of memory");
        goto fail;
    }
    if (cli_load_certs(cert_path, true, &certs, &err) != SKS_OK ||
        (chain_path != NULL && cli_load_certs(chain_path, false, &chain, &err) != SKS_OK) ||
        cli_load_roots(trust_path, &roots, &err) != SKS_OK)
        goto fail;
    ee = sk_X509_shift(certs);
    while (sk_X509_num(certs) > 0) {
        X509 *x = sk_X509_shift(certs);

        if (!sk_X509_push(chain, x))
            X509_free(x); /* out of memory: the chain check then reports it */
    }
    if (sks_profile_check(ee, chain, roots, time(NULL), &res, &err) == SKS_OK) {
        if (res.warning[0] != '\0')
            fprintf(stderr, "sksctl cert-check: warning: %s\n", res.warning);
        print_result(&res);
        rc = 0;
    } else if (err.status == SKS_ERR_POLICY) {
        print_broken(cert_path, &res);
        rc = sks_exit_code(err.status);
    } else {
        rc = cli_report("cert-check", &err);
    }
    X509_free(ee);
    goto done;
fail:
    rc = cli_report("cert-check", &err);
done:
    X509_STORE_free(roots);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

int cmd_cert_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'i'},
        {"trust", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cert = NULL, *chain = NULL, *trust = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cert = optarg;
            break;
        case 'i':
            chain = optarg;
            break;
        case 't':
            trust = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return SKSCTL_EXIT_USAGE;
        }
    }
    if (optind != argc || cert == NULL || trust == NULL) {
        fprintf(stderr, "sksctl cert-check: --cert and --trust are required\n");
        usage(stderr);
        return SKSCTL_EXIT_USAGE;
    }
    return check(cert, chain, trust);
}
