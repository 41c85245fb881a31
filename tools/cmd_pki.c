/*
 * sksctl's certificate commands.  cert-check checks an SP certificate
 * against the SHAKEN profile and its chain to the STI-PA roots before an
 * administrator imports it, and prints the SPC and notAfter, or every rule
 * the certificate breaks.
 *
 * pki writes a complete test SHAKEN PKI (ATIS-1000080) for tests, demos and
 * interop runs.  Never for production trust: the root key sits in a plain
 * file.
 *
 * Files written in DIR:
 *   root.pem                STI-PA root certificate (self-signed, P-256)
 *   root.key                its private key (PKCS#8 PEM, mode 0600)
 *   ca.pem                  STI-CA intermediate certificate, issued by the root
 *   ca.key                  its private key (PKCS#8 PEM, mode 0600)
 *   crl.pem                 empty CRL signed by the STI-CA
 *   chain.pem               the intermediate(s) an SP certificate needs
 *   and for each SPC:
 *   sp-<SPC>.pem            SP certificate (CN "SHAKEN <SPC>", TNAuthList with the SPC)
 *   sp-<SPC>.key            its private key (PKCS#8 PEM, mode 0600; not with --csr)
 *   sp-<SPC>-fullchain.pem  SP certificate followed by the intermediate
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "profile/profile.h"
#include "shaken/rules.h"
#include "testpki/testpki.h"
#include "keystore/input.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

#define SPC_LIST_MAX 64

/* ---- pki ------------------------------------------------------------------------------------- */

static int usage_pki(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl pki --out DIR --spc SPC[,SPC...] [--csr FILE] [--days N] [--policy CP]\n"
            "                  [--crl-url URL] [--ca-crl-url URL]\n"
            "\n"
            "Creates a test SHAKEN PKI (STI-PA root, STI-CA intermediate, their CRLs and\n"
            "one SP certificate per SPC, all per ATIS-1000080).  For tests only.\n"
            "\n"
            "  --out DIR    directory to write to (created if missing)\n"
            "  --spc LIST   comma-separated SPCs, each 1-%d of 0-9 and A-Z\n"
            "  --csr FILE   issue the SP certificates for the public key of this PEM or\n"
            "               DER CSR (its signature must verify; its subject is ignored)\n"
            "               instead of generating SP keys\n"
            "  --days N     validity of every certificate and of the CRL (default 365)\n"
            "  --policy CP  certificate policy of the STI-CA and SP certificates: 1.3\n"
            "               (SHAKEN CP v1.3, " SKS_SHAKEN_CP_V1_3_OID "), 1.4 (v1.4,\n"
            "               " SKS_SHAKEN_CP_V1_4_OID ", the default) or another\n"
            "               SHAKEN CP OID (" SKS_SHAKEN_CP_ARC "N)\n"
            "  --crl-url URL  the CRL distribution point of the SP certificates, where\n"
            "               crl.pem is to be served (https; default " SKS_TESTPKI_CRL_URL ")\n"
            "  --ca-crl-url URL  the CRL distribution point of the STI-CA certificate,\n"
            "               where root-crl.pem is to be served (https; default: none)\n"
            "\n"
            "Files written in DIR:\n"
            "  root.pem                STI-PA root certificate\n"
            "  root.key                its private key (mode 0600)\n"
            "  root-crl.pem            empty CRL signed by the STI-PA root (of STI-CAs)\n"
            "  ca.pem                  STI-CA intermediate certificate\n"
            "  ca.key                  its private key (mode 0600)\n"
            "  crl.pem                 empty CRL signed by the STI-CA\n"
            "  chain.pem               intermediate(s) for an SP certificate\n"
            "  sp-<SPC>.pem            SP certificate for each SPC\n"
            "  sp-<SPC>.key            its private key (mode 0600; not written with --csr)\n"
            "  sp-<SPC>-fullchain.pem  SP certificate followed by the intermediate\n",
            SKS_SPC_MAX);
    return status;
}

struct pki_opts {
    const char *out;
    const char *csr;
    char *spcs[SPC_LIST_MAX];
    size_t nspcs;
    int days;
    const char *crl_url;         /* NULL: SKS_TESTPKI_CRL_URL */
    struct sks_testpki_opts pki; /* --policy, --ca-crl-url */
};

/* --spc: splits |list| in place into opts->spcs. */
static int opt_spcs(char *list, void *opts)
{
    struct pki_opts *o = opts;
    char *save = NULL, *spc;

    for (spc = strtok_r(list, ",", &save); spc != NULL; spc = strtok_r(NULL, ",", &save)) {
        if (!sks_spc_valid(spc)) {
            fprintf(stderr,
                    "sksctl pki: SPC \"%s\" is not 1-%d characters of 0-9 and A-Z "
                    "(ATIS-1000080)\n",
                    spc, SKS_SPC_MAX);
            return SKSCTL_EXIT_USAGE;
        }
        if (o->nspcs == SPC_LIST_MAX) {
            fprintf(stderr, "sksctl pki: more than %d SPCs\n", SPC_LIST_MAX);
            return SKSCTL_EXIT_USAGE;
        }
        o->spcs[o->nspcs++] = spc;
    }
    if (o->nspcs == 0) {
        fprintf(stderr, "sksctl pki: --spc lists no SPC\n");
        return SKSCTL_EXIT_USAGE;
    }
    return 0;
}

static int opt_days(char *arg, void *days)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > SKS_TESTPKI_DAYS_MAX) {
        fprintf(stderr, "sksctl pki: --days must be a whole number from 1 to %d\n",
                SKS_TESTPKI_DAYS_MAX);
        return SKSCTL_EXIT_USAGE;
    }
    *(int *)days = (int)v;
    return 0;
}

static int opt_policy(char *arg, void *out)
{
    const char *policy = strcmp(arg, "1.3") == 0   ? SKS_SHAKEN_CP_V1_3_OID
                         : strcmp(arg, "1.4") == 0 ? SKS_SHAKEN_CP_V1_4_OID
                                                   : arg;

    /* Another OID would break the profile the PKI is checked against. */
    if (strncmp(policy, SKS_SHAKEN_CP_ARC, strlen(SKS_SHAKEN_CP_ARC)) != 0 ||
        strlen(policy) == strlen(SKS_SHAKEN_CP_ARC) ||
        strspn(policy + strlen(SKS_SHAKEN_CP_ARC), "0123456789") !=
            strlen(policy + strlen(SKS_SHAKEN_CP_ARC))) {
        fprintf(stderr, "sksctl pki: --policy must be 1.3, 1.4 or a SHAKEN CP OID "
                        "(" SKS_SHAKEN_CP_ARC "N)\n");
        return SKSCTL_EXIT_USAGE;
    }
    *(const char **)out = policy;
    return 0;
}

/*
 * Opens DIR/NAME for writing with |mode|, also on a file that already
 * exists with a wider mode, so a private key is never readable by others.
 */
static FILE *open_out(const char *dir, const char *name, mode_t mode, char *path, size_t pathsize,
                      struct sks_error *err)
{
    FILE *f;
    int fd;

    if ((size_t)snprintf(path, pathsize, "%s/%s", dir, name) >= pathsize) {
        sks_fail(err, SKS_ERR_INPUT, "output path %s/%s is too long", dir, name);
        return NULL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 || fchmod(fd, mode) != 0) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static sks_status close_out(FILE *f, int written, const char *path, struct sks_error *err)
{
    int bad = !written || ferror(f);

    if (fclose(f) != 0 || bad) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s", path);
        sks_error_add_openssl(err);
        return SKS_ERR_SYSTEM;
    }
    printf("%s\n", path);
    return SKS_OK;
}

static sks_status write_certs(const char *dir, const char *name, X509 *const *certs, size_t n,
                              struct sks_error *err)
{
    char path[PATH_MAX];
    FILE *f = open_out(dir, name, 0644, path, sizeof(path), err);
    int ok = 1;
    size_t i;

    if (f == NULL)
        return SKS_ERR_SYSTEM;
    for (i = 0; i < n && ok; i++)
        ok = PEM_write_X509(f, certs[i]);
    return close_out(f, ok, path, err);
}

static sks_status write_key(const char *dir, const char *name, EVP_PKEY *key, struct sks_error *err)
{
    char path[PATH_MAX];
    FILE *f = open_out(dir, name, 0600, path, sizeof(path), err);

    if (f == NULL)
        return SKS_ERR_SYSTEM;
    return close_out(f, PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), path, err);
}

static sks_status write_crl(const char *dir, const char *name, X509_CRL *crl, struct sks_error *err)
{
    char path[PATH_MAX];
    FILE *f = open_out(dir, name, 0644, path, sizeof(path), err);

    if (f == NULL)
        return SKS_ERR_SYSTEM;
    return close_out(f, PEM_write_X509_CRL(f, crl), path, err);
}

static sks_status make_dir(const char *dir, struct sks_error *err)
{
    struct stat st;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot create %s: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sks_fail(err, SKS_ERR_INPUT, "%s is not a directory", dir);
    return SKS_OK;
}

/* The public key of a PEM or DER CSR whose signature verifies. */
static sks_status load_csr_key(const char *path, EVP_PKEY **pub, struct sks_error *err)
{
    X509_REQ *req = NULL;
    sks_status st;

    st = sks_csr_load(path, &req, err);
    if (st != SKS_OK)
        return st;
    st = sks_testpki_csr_pubkey(req, pub, err);
    if (st != SKS_OK)
        sks_error_prefix(err, "%s", path);
    X509_REQ_free(req);
    return st;
}

/* Re-checks an issued certificate: the PKI must never hand out a non-compliant one. */
static sks_status self_check(const struct sks_testpki *pki, X509 *ee, struct sks_error *err)
{
    struct sks_profile_result res;
    STACK_OF(X509) *chain = NULL;
    X509_STORE *roots = NULL;
    sks_status st;

    st = sks_testpki_trust(pki, &roots, &chain, err);
    if (st != SKS_OK)
        return st;
    st = sks_profile_check(ee, chain, roots, pki->now, &res, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "issued SP certificate fails the profile (a bug)");
        err->status = st = SKS_ERR_INTERNAL;
    }
    X509_STORE_free(roots);
    sk_X509_pop_free(chain, X509_free);
    return st;
}

static sks_status issue_sp(const struct pki_opts *o, const struct sks_testpki *pki, const char *spc,
                           EVP_PKEY *csr_key, struct sks_error *err)
{
    struct sks_testpki_ee_opts eo = {.crl_url = o->crl_url};
    EVP_PKEY *key = NULL;
    X509 *certs[2] = {NULL, pki->ca};
    char name[SKS_SPC_MAX + 32];
    sks_status st;

    if (csr_key == NULL && (st = sks_testpki_keygen(&key, err)) != SKS_OK)
        return st;
    st = sks_testpki_issue(pki, csr_key != NULL ? csr_key : key, spc, &eo, &certs[0], err);
    if (st != SKS_OK || (st = self_check(pki, certs[0], err)) != SKS_OK)
        goto done;
    snprintf(name, sizeof(name), "sp-%s.pem", spc);
    if ((st = write_certs(o->out, name, certs, 1, err)) != SKS_OK)
        goto done;
    snprintf(name, sizeof(name), "sp-%s-fullchain.pem", spc);
    if ((st = write_certs(o->out, name, certs, 2, err)) != SKS_OK)
        goto done;
    if (key != NULL) {
        snprintf(name, sizeof(name), "sp-%s.key", spc);
        st = write_key(o->out, name, key, err);
    }
done:
    X509_free(certs[0]);
    EVP_PKEY_free(key);
    return st;
}

static sks_status write_pki(const struct pki_opts *o, struct sks_error *err)
{
    struct sks_testpki pki;
    EVP_PKEY *csr_key = NULL;
    sks_status st;
    size_t i;

    if (o->csr != NULL && (st = load_csr_key(o->csr, &csr_key, err)) != SKS_OK)
        return st;
    if ((st = make_dir(o->out, err)) != SKS_OK)
        goto out;
    if ((st = sks_testpki_create_opts(&pki, time(NULL), o->days, &o->pki, err)) != SKS_OK)
        goto out;
    if ((st = write_certs(o->out, "root.pem", &pki.root, 1, err)) != SKS_OK ||
        (st = write_key(o->out, "root.key", pki.root_key, err)) != SKS_OK ||
        (st = write_crl(o->out, "root-crl.pem", pki.root_crl, err)) != SKS_OK ||
        (st = write_certs(o->out, "ca.pem", &pki.ca, 1, err)) != SKS_OK ||
        (st = write_key(o->out, "ca.key", pki.ca_key, err)) != SKS_OK ||
        (st = write_crl(o->out, "crl.pem", pki.crl, err)) != SKS_OK ||
        (st = write_certs(o->out, "chain.pem", &pki.ca, 1, err)) != SKS_OK)
        goto done;
    for (i = 0; i < o->nspcs && st == SKS_OK; i++)
        st = issue_sp(o, &pki, o->spcs[i], csr_key, err);
done:
    sks_testpki_cleanup(&pki);
out:
    EVP_PKEY_free(csr_key);
    return st;
}

int cmd_pki(int argc, char **argv)
{
    struct pki_opts o = {.days = 365};
    const struct cli_opt opts[] = {
        CLI_ARG("out", 0, &o.out),
        CLI_CALL("spc", opt_spcs, &o),
        CLI_ARG("csr", 0, &o.csr),
        CLI_CALL("days", opt_days, &o.days),
        CLI_CALL("policy", opt_policy, &o.pki.policy),
        CLI_ARG("crl-url", 0, &o.crl_url),
        CLI_ARG("ca-crl-url", 0, &o.pki.ca_crl_url),
        CLI_HELP(0),
        CLI_END,
    };
    struct sks_error err;
    int rc;

    sks_error_clear(&err);
    if (!cli_parse_opts(argc, argv, opts, usage_pki, &rc))
        return rc;
    if (optind != argc || o.out == NULL || o.nspcs == 0) {
        fprintf(stderr, "sksctl pki: --out and --spc are required\n");
        return usage_pki(stderr, SKSCTL_EXIT_USAGE);
    }
    if (o.crl_url != NULL && sks_x5u_check(o.crl_url, &err) != SKS_OK) {
        sks_error_prefix(&err, "--crl-url");
        return cli_report("pki", &err);
    }
    if (o.pki.ca_crl_url != NULL && sks_x5u_check(o.pki.ca_crl_url, &err) != SKS_OK) {
        sks_error_prefix(&err, "--ca-crl-url");
        return cli_report("pki", &err);
    }
    if (write_pki(&o, &err) != SKS_OK)
        return cli_report("pki", &err);
    return 0;
}

/* ---- cert-check ------------------------------------------------------------------------------ */

static int usage_cert_check(FILE *f, int status)
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
    return status;
}

static void print_checked(const struct sks_profile_result *res)
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
    if (sks_certs_load(cert_path, true, &certs, &err) != SKS_OK ||
        (chain_path != NULL && sks_certs_load(chain_path, false, &chain, &err) != SKS_OK) ||
        sks_roots_load(trust_path, &roots, &err) != SKS_OK)
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
        print_checked(&res);
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
    const char *cert = NULL, *chain = NULL, *trust = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("cert", 0, &cert),
        CLI_ARG("chain", 0, &chain),
        CLI_ARG("trust", 0, &trust),
        CLI_HELP(0),
        CLI_END,
    };
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_cert_check, &rc))
        return rc;
    if (optind != argc || cert == NULL || trust == NULL) {
        fprintf(stderr, "sksctl cert-check: --cert and --trust are required\n");
        return usage_cert_check(stderr, SKSCTL_EXIT_USAGE);
    }
    return check(cert, chain, trust);
}
