/*
 * sksctl's ways in: a key version comes into the key store generated in the
 * token (generate, then attach with its certificate) or imported, a
 * software key or a wrapped one (import, import-batch).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keystore/input.h"
#include "keystore/keystore.h"
#include "shaken/rules.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

/* ---- generate -------------------------------------------------------------------------------- */

static int usage_generate(FILE *f, int status)
{
    fprintf(f, "usage: sksctl generate IDENTITY --spc SPC --csr FILE [OPTIONS]\n"
               "\n"
               "Generates a P-256 key pair in the token for a new version of IDENTITY and\n"
               "writes a PKCS#10 CSR signed by it (CN \"SHAKEN <SPC>\", TNAuthList with the\n"
               "SPC) to FILE (\"-\": stdout).  The version waits as \"pending\" until\n"
               "sksctl attach brings its certificate.\n"
               "\n"
               "  --spc SPC          the Service Provider Code (0-9, A-Z)\n"
               "  --csr FILE         where to write the CSR (PEM)\n" CLI_STORE_USAGE);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "generate"};
    const char *spc = NULL, *csr = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("spc", 0, &spc),
        CLI_ARG("csr", 0, &csr),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct sks_error err;
    struct cli_store s;
    unsigned int version = 0;
    BIO *out = NULL;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_generate, &rc))
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one IDENTITY");
    if (spc == NULL || csr == NULL)
        return cli_usage_error(o.cmd, "--spc and --csr are required");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    out = strcmp(csr, "-") == 0 ? BIO_new_fp(stdout, BIO_NOCLOSE) : BIO_new_file(csr, "w");
    if (out == NULL) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the CSR to %s: %s", csr, strerror(errno));
        return cli_store_report(o.cmd, &err, &s);
    }
    st = sks_keystore_generate(s.ks, argv[optind], spc, out, &version, &err);
    BIO_free(out);
    if (st != SKS_OK) {
        if (strcmp(csr, "-") != 0)
            unlink(csr);
        return cli_store_report(o.cmd, &err, &s);
    }
    fprintf(stderr, "%s/%u pending: send the CSR to the STI-CA, then sksctl attach %s\n",
            argv[optind], version, argv[optind]);
    cli_store_close(&s);
    return 0;
}

/* ---- attach ---------------------------------------------------------------------------------- */

static int usage_attach(FILE *f, int status)
{
    fprintf(f, "usage: sksctl attach IDENTITY [--version N] --cert FILE [--chain FILE]\n"
               "                    --x5u URL [OPTIONS]\n"
               "\n"
               "Completes a pending version (sksctl generate) with the certificate the\n"
               "STI-CA issued for its CSR.  Without --version, the identity's single\n"
               "pending version.  The first complete version of an identity becomes active;\n"
               "later ones wait for sksctl activate.\n"
               "\n"
               "  --version N        the pending version\n"
               "  --cert FILE        the SP certificate (PEM or DER; a PEM full chain is taken\n"
               "                     when --chain is absent)\n"
               "  --chain FILE       the intermediate certificates (PEM)\n"
               "  --x5u URL          where verifiers fetch the certificate (https, no\n"
               "                     userinfo, query or fragment)\n" CLI_CRL_USAGE CLI_STORE_USAGE
                   CLI_TRUST_USAGE);
    return status;
}

static int opt_version(char *arg, void *version)
{
    if (!cli_parse_version(arg, version))
        return cli_usage_error("attach", "--version takes a version number");
    return 0;
}

int cmd_attach(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "attach", .crls = true};
    const char *cert = NULL, *chain = NULL, *x5u = NULL;
    unsigned int version = 0;
    const struct cli_opt opts[] = {
        CLI_CALL("version", opt_version, &version),
        CLI_ARG("cert", 0, &cert),
        CLI_ARG("chain", 0, &chain),
        CLI_ARG("x5u", 0, &x5u),
        CLI_CRL_OPTS(&o),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct sks_credentials cred;
    struct sks_error err;
    struct cli_store s;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_attach, &rc))
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one IDENTITY");
    if (cert == NULL || x5u == NULL)
        return cli_usage_error(o.cmd, "--cert and --x5u are required");
    if (sks_input_credentials(cert, chain, x5u, &cred, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    st = cli_store_open(&o, true, true, &s, &err);
    if (st == SKS_OK)
        st = sks_keystore_attach(s.ks, argv[optind], version, &cred, &err);
    sks_credentials_free(&cred);
    if (st != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    printf("%s: certificate attached\n", argv[optind]);
    cli_store_close(&s);
    return 0;
}

/* ---- import ---------------------------------------------------------------------------------- */

static int usage_import(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl import IDENTITY (--key FILE | --wrapped FILE) --cert FILE\n"
            "                    [--chain FILE] --x5u URL [--spc SPC] [OPTIONS]\n"
            "\n"
            "Imports a key version of IDENTITY: a software key (--key) or a key wrapped\n"
            "for the token (--wrapped, see sksctl wrap).  Everything is checked before\n"
            "anything is written: P-256 key in range and matching the certificate, the\n"
            "SHAKEN certificate profile, the chain to the trust anchors, validity (a\n"
            "certificate expiring within 30 days is taken with a warning), the x5u, and\n"
            "the SPC of an existing identity.  The first version of an identity becomes\n"
            "active; later ones wait for sksctl activate.\n"
            "\n"
            "  --key FILE           PEM or DER, PKCS#8 (plain or encrypted) or SEC1\n"
            "  --passphrase-file F  the key's passphrase (else asked on the terminal)\n"
            "  --wrapped FILE       a blob from sksctl wrap\n"
            "  --cert FILE          the SP certificate (PEM or DER; a PEM full chain is\n"
            "                       taken when --chain is absent)\n"
            "  --chain FILE         the intermediate certificates (PEM)\n"
            "  --x5u URL            where verifiers fetch the certificate\n"
            "  --spc SPC            refuse unless the certificate is for this SPC\n" CLI_CRL_USAGE
                CLI_STORE_USAGE CLI_TRUST_USAGE);
    return status;
}

struct import_args {
    const char *identity, *key, *pass, *wrapped, *spc;
    const char *cert, *chain, *x5u;
};

/* Loads everything the import needs and imports it; the version in *version. */
static sks_status import_one(struct sks_keystore *ks, const struct import_args *a,
                             unsigned int *version, struct sks_error *err)
{
    struct sks_credentials cred = {0};
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    EVP_PKEY *key = NULL;
    sks_status st;

    st = sks_input_credentials(a->cert, a->chain, a->x5u, &cred, err);
    if (st == SKS_OK && a->spc != NULL) {
        char spc[SKS_SPC_MAX + 1];
        st = sks_cert_spc(cred.cert, spc, err);
        if (st == SKS_OK)
            st = sks_spc_match(spc, a->spc, "--spc", err);
    }
    if (st == SKS_OK && a->key != NULL)
        st = sks_input_key(a->key, a->pass, &key, err);
    else if (st == SKS_OK)
        st = sks_input_file("--wrapped", a->wrapped, &blob, &blob_len, err);
    if (st == SKS_OK && key != NULL)
        st = sks_keystore_import_key(ks, a->identity, key, &cred, version, err);
    else if (st == SKS_OK)
        st = sks_keystore_import_wrapped(ks, a->identity, blob, blob_len, &cred, version, err);
    EVP_PKEY_free(key);
    OPENSSL_free(blob);
    sks_credentials_free(&cred);
    return st;
}

/* "active" or "standby": what the import made of the new version. */
static const char *version_state(struct sks_keystore *ks, const char *identity, unsigned int v)
{
    struct sks_active *a = NULL;
    const char *state = "standby";

    if (sks_keystore_active(ks, identity, 0, &a, NULL) == SKS_OK) {
        if (a->version == v)
            state = "active";
        sks_active_put(a);
    }
    return state;
}

int cmd_import(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "import", .crls = true};
    struct import_args a = {0};
    const struct cli_opt opts[] = {
        CLI_ARG("key", 0, &a.key),
        CLI_ARG("passphrase-file", 0, &a.pass),
        CLI_ARG("wrapped", 0, &a.wrapped),
        CLI_ARG("cert", 0, &a.cert),
        CLI_ARG("chain", 0, &a.chain),
        CLI_ARG("x5u", 0, &a.x5u),
        CLI_ARG("spc", 0, &a.spc),
        CLI_CRL_OPTS(&o),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    unsigned int version = 0;
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_import, &rc))
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one IDENTITY");
    a.identity = argv[optind];
    if ((a.key == NULL) == (a.wrapped == NULL))
        return cli_usage_error(o.cmd, "give --key or --wrapped (one of them)");
    if (a.cert == NULL || a.x5u == NULL)
        return cli_usage_error(o.cmd, "--cert and --x5u are required");
    if (cli_store_open(&o, true, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (import_one(s.ks, &a, &version, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    printf("%s/%u %s\n", a.identity, version, version_state(s.ks, a.identity, version));
    cli_store_close(&s);
    return 0;
}

/* ---- import-batch ---------------------------------------------------------------------------- */

static int usage_import_batch(FILE *f, int status)
{
    fprintf(f, "usage: sksctl import-batch DIR [--passphrase-file FILE] [OPTIONS]\n"
               "\n"
               "Imports one key version per subdirectory of DIR; the subdirectory's name is\n"
               "the identity.  Each holds:\n"
               "  key.pem       the private key (or key.wrapped, a blob from sksctl wrap)\n"
               "  cert.pem      the SP certificate\n"
               "  chain.pem     the intermediate certificates (optional when cert.pem is a\n"
               "                full chain)\n"
               "  x5u           the x5u URL, one line\n"
               "Each set is checked and imported on its own: a bad one is reported and the\n"
               "others go on.  Shows progress on a terminal and ends with a summary; exits\n"
               "non-zero when any set failed.\n"
               "\n"
               "  --passphrase-file F  passphrase of every encrypted key.pem\n" CLI_CRL_USAGE
                   CLI_STORE_USAGE CLI_TRUST_USAGE);
    return status;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The identity subdirectories of |dir|, sorted. */
static sks_status batch_list(const char *dir, char ***names, size_t *n, struct sks_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    if (d == NULL)
        return sks_fail(err, errno == ENOENT ? SKS_ERR_NOT_FOUND : SKS_ERR_SYSTEM,
                        "cannot read directory %s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (*n == cap) {
            char **grown = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof(*grown));
            if (grown == NULL)
                break;
            *names = grown;
        }
        if (((*names)[*n] = strdup(e->d_name)) == NULL)
            break;
        (*n)++;
    }
    closedir(d);
    if (e != NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory listing %s", dir);
    qsort(*names, *n, sizeof(**names), name_cmp);
    return SKS_OK;
}

static bool file_exists(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0;
}

/* Reads DIR/NAME/x5u: one line. */
static sks_status batch_x5u(const char *sub, char x5u[SKS_X5U_MAX + 1], struct sks_error *err)
{
    char path[PATH_MAX + 8];
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st;

    snprintf(path, sizeof(path), "%s/x5u", sub);
    st = sks_input_file("x5u", path, &data, &len, err);
    if (st != SKS_OK)
        return st;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len == 0 || len > SKS_X5U_MAX || memchr(data, '\n', len) != NULL)
        st = sks_fail(err, SKS_ERR_INPUT, "x5u: %s must hold one URL on one line", path);
    else
        memcpy(x5u, data, len + 1);
    OPENSSL_free(data);
    return st;
}

static sks_status batch_one(struct sks_keystore *ks, const char *dir, const char *name,
                            const char *pass, unsigned int *version, struct sks_error *err)
{
    char sub[PATH_MAX], key[PATH_MAX + 16], wrapped[PATH_MAX + 16], cert[PATH_MAX + 16],
        chain[PATH_MAX + 16], x5u[SKS_X5U_MAX + 1];
    struct import_args a = {0};
    sks_status st;

    snprintf(sub, sizeof(sub), "%s/%s", dir, name);
    snprintf(key, sizeof(key), "%s/key.pem", sub);
    snprintf(wrapped, sizeof(wrapped), "%s/key.wrapped", sub);
    snprintf(cert, sizeof(cert), "%s/cert.pem", sub);
    snprintf(chain, sizeof(chain), "%s/chain.pem", sub);
    st = batch_x5u(sub, x5u, err);
    if (st != SKS_OK)
        return st;
    a.identity = name;
    a.pass = pass;
    a.cert = cert;
    a.chain = file_exists(chain) ? chain : NULL;
    a.x5u = x5u;
    if (file_exists(key))
        a.key = key;
    else if (file_exists(wrapped))
        a.wrapped = wrapped;
    else
        return sks_fail(err, SKS_ERR_NOT_FOUND, "%s has neither key.pem nor key.wrapped", sub);
    return import_one(ks, &a, version, err);
}

static void progress(size_t done, size_t total, const char *name)
{
    int width = 30, filled = total > 0 ? (int)(done * (size_t)width / total) : width;

    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %-24.24s", filled,
            "==============================", width - filled, "", done, total, name);
    fflush(stderr);
}

int cmd_import_batch(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "import-batch", .crls = true};
    const char *pass = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("passphrase-file", 0, &pass),
        CLI_CRL_OPTS(&o),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    char **names = NULL;
    size_t n = 0, i, failed = 0;
    bool tty = isatty(STDERR_FILENO);
    struct sks_error err;
    struct cli_store s;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_import_batch, &rc))
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one DIR");
    if (batch_list(argv[optind], &names, &n, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (cli_store_open(&o, true, true, &s, &err) != SKS_OK) {
        for (i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return cli_store_report(o.cmd, &err, NULL);
    }
    for (i = 0; i < n; i++) {
        unsigned int version = 0;
        if (tty)
            progress(i, n, names[i]);
        sks_error_clear(&err);
        if (batch_one(s.ks, argv[optind], names[i], pass, &version, &err) == SKS_OK) {
            if (!tty)
                printf("ok %s/%u\n", names[i], version);
        } else {
            failed++;
            if (tty)
                fprintf(stderr, "\r%*s\r", 70, "");
            fprintf(stderr, "FAILED %s: %s\n", names[i], err.msg);
        }
    }
    if (tty) {
        progress(n, n, "done");
        fputc('\n', stderr);
    }
    printf("import-batch: %zu imported, %zu failed, %zu in all\n", n - failed, failed, n);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    cli_store_close(&s);
    return failed == 0 ? 0 : sks_exit_code(SKS_ERR_INPUT);
}
