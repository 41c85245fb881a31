/*
 * sksctl key store commands: generate, attach, wrapping-key, wrap, import,
 * import-batch, list, activate, retire, destroy, sweep, protect; and the lookup that
 * lets sksctl sign take an identity name.
 *
 * Every command that changes the token sweeps first (sks_keystore_sweep), so
 * that what an interrupted command left behind is cleaned up by the next.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "p11/p11.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"
#include "keystore/input.h"
#include "tools/sksctl.h"

/* ---- options every key store command takes -------------------------------------------- */

struct store_opts {
    const char *cmd;
    const char *config, *module, *token, *pin_file, *trust;
};

enum { OPT_CONFIG = 'c', OPT_MODULE = 0x100, OPT_TOKEN, OPT_PIN_FILE, OPT_TRUST, OPT_HELP = 'h' };

#define STORE_LONG_OPTIONS                                                                         \
    {"config", required_argument, NULL, OPT_CONFIG},                                               \
        {"module", required_argument, NULL, OPT_MODULE},                                           \
        {"token", required_argument, NULL, OPT_TOKEN},                                             \
        {"pin-file", required_argument, NULL, OPT_PIN_FILE},                                       \
        {"trust", required_argument, NULL, OPT_TRUST},                                             \
    {                                                                                              \
        "help", no_argument, NULL, OPT_HELP                                                        \
    }

#define STORE_USAGE                                                                                \
    "  -c, --config FILE  configuration file (default " SKS_CONFIG_DEFAULT ")\n"                   \
    "  --module PATH      PKCS#11 module (overrides pkcs11_module)\n"                              \
    "  --token LABEL|URI  token (overrides token)\n"                                               \
    "  --pin-file FILE    user PIN file (overrides pin_file)\n"

#define TRUST_USAGE "  --trust FILE       STI-PA trust anchors, PEM (overrides trust_anchors)\n"

/* Takes a common option; false when |c| is not one. */
static bool store_opt(int c, struct store_opts *o)
{
    switch (c) {
    case OPT_CONFIG:
        o->config = optarg;
        return true;
    case OPT_MODULE:
        o->module = optarg;
        return true;
    case OPT_TOKEN:
        o->token = optarg;
        return true;
    case OPT_PIN_FILE:
        o->pin_file = optarg;
        return true;
    case OPT_TRUST:
        o->trust = optarg;
        return true;
    default:
        return false;
    }
}

static int usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "sksctl %s: %s (see sksctl %s --help)\n", cmd, msg, cmd);
    return SKSCTL_EXIT_USAGE;
}

static void warn_stderr(const char *msg, void *arg)
{
    fprintf(stderr, "sksctl %s: warning: %s\n", (const char *)arg, msg);
}

/* An open key store and what it was opened with. */
struct store {
    struct sks_config cfg;
    struct p11_token *tok;
    struct sks_keystore *ks;
};

static void store_close(struct store *s)
{
    sks_keystore_close(s->ks);
    p11_token_put(s->tok);
    sks_config_free(&s->cfg);
    memset(s, 0, sizeof(*s));
}

static sks_status store_config(const struct store_opts *o, struct sks_config *cfg,
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

/*
 * Opens the token and the key store.  |roots|: load the trust anchors (every
 * way in needs them).  |mutating|: sweep first.
 */
static sks_status store_open(const struct store_opts *o, bool roots, bool mutating, struct store *s,
                             struct sks_error *err)
{
    struct sks_keystore_config kcfg;
    sks_status st;

    memset(s, 0, sizeof(*s));
    sks_keystore_config_init(&kcfg);
    st = store_config(o, &s->cfg, err);
    if (st != SKS_OK)
        return st;
    if (s->cfg.pin_file == NULL) {
        store_close(s);
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
    if (roots && s->cfg.trust_anchors == NULL) {
        store_close(s);
        return sks_fail(err, SKS_ERR_INPUT,
                        "no trust anchors: set trust_anchors in [sks] or give --trust");
    }
    if (roots && (st = sks_config_load_trust(s->cfg.trust_anchors, &kcfg.roots, err)) != SKS_OK) {
        store_close(s);
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
        store_close(s);
    return st;
}

/* ---- reading inputs ------------------------------------------------------------------- */

/* Certificate, chain and x5u: --cert may be a full chain when --chain is absent. */
struct cred_files {
    const char *cert, *chain, *x5u;
};

static void cred_free(struct sks_credentials *c)
{
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
    memset(c, 0, sizeof(*c));
}

static sks_status read_credentials(const struct cred_files *f, struct sks_credentials *c,
                                   struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    sks_status st;

    memset(c, 0, sizeof(*c));
    c->x5u = f->x5u;
    st = sks_input_certs("--cert", f->cert, &certs, err);
    if (st != SKS_OK)
        return st;
    c->cert = sk_X509_shift(certs);
    if (f->chain == NULL) {
        c->chain = certs;
        return SKS_OK;
    }
    sk_X509_pop_free(certs, X509_free);
    st = sks_input_certs("--chain", f->chain, &c->chain, err);
    if (st != SKS_OK)
        cred_free(c);
    return st;
}

static bool parse_version(const char *s, unsigned int *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 0xffffff || s[0] == '-')
        return false;
    *out = (unsigned int)v;
    return true;
}

static int report(const char *cmd, struct sks_error *err, struct store *s)
{
    int rc = cli_report(cmd, err);

    if (s != NULL)
        store_close(s);
    return rc;
}

/* ---- generate ---------------------------------------------------------------------------- */

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
               "  --csr FILE         where to write the CSR (PEM)\n" STORE_USAGE);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"spc", required_argument, NULL, 's'},
        {"csr", required_argument, NULL, 'o'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "generate"};
    const char *spc = NULL, *csr = NULL;
    struct sks_error err;
    struct store s;
    unsigned int version = 0;
    BIO *out = NULL;
    sks_status st;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 's')
            spc = optarg;
        else if (c == 'o')
            csr = optarg;
        else if (c == OPT_HELP)
            return usage_generate(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_generate(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind + 1 != argc)
        return usage_error(o.cmd, "give one IDENTITY");
    if (spc == NULL || csr == NULL)
        return usage_error(o.cmd, "--spc and --csr are required");
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    out = strcmp(csr, "-") == 0 ? BIO_new_fp(stdout, BIO_NOCLOSE) : BIO_new_file(csr, "w");
    if (out == NULL) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the CSR to %s: %s", csr, strerror(errno));
        return report(o.cmd, &err, &s);
    }
    st = sks_keystore_generate(s.ks, argv[optind], spc, out, &version, &err);
    BIO_free(out);
    if (st != SKS_OK) {
        if (strcmp(csr, "-") != 0)
            unlink(csr);
        return report(o.cmd, &err, &s);
    }
    fprintf(stderr, "%s/%u pending: send the CSR to the STI-CA, then sksctl attach %s\n",
            argv[optind], version, argv[optind]);
    store_close(&s);
    return 0;
}

/* ---- attach ------------------------------------------------------------------------------ */

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
               "                     userinfo, query or fragment)\n" STORE_USAGE TRUST_USAGE);
    return status;
}

int cmd_attach(int argc, char **argv)
{
    static const struct option opts[] = {
        {"version", required_argument, NULL, 'v'},
        {"cert", required_argument, NULL, 'C'},
        {"chain", required_argument, NULL, 'a'},
        {"x5u", required_argument, NULL, 'x'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "attach"};
    struct cred_files f = {0};
    struct sks_credentials cred;
    unsigned int version = 0;
    struct sks_error err;
    struct store s;
    sks_status st;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'v' && !parse_version(optarg, &version))
            return usage_error(o.cmd, "--version takes a version number");
        else if (c == 'C')
            f.cert = optarg;
        else if (c == 'a')
            f.chain = optarg;
        else if (c == 'x')
            f.x5u = optarg;
        else if (c == OPT_HELP)
            return usage_attach(stdout, 0);
        else if (c != 'v' && !store_opt(c, &o))
            return usage_attach(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind + 1 != argc)
        return usage_error(o.cmd, "give one IDENTITY");
    if (f.cert == NULL || f.x5u == NULL)
        return usage_error(o.cmd, "--cert and --x5u are required");
    if (read_credentials(&f, &cred, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    st = store_open(&o, true, true, &s, &err);
    if (st == SKS_OK)
        st = sks_keystore_attach(s.ks, argv[optind], version, &cred, &err);
    cred_free(&cred);
    if (st != SKS_OK)
        return report(o.cmd, &err, &s);
    printf("%s: certificate attached\n", argv[optind]);
    store_close(&s);
    return 0;
}

/* ---- wrapping-key and wrap ----------------------------------------------------------------- */

static int usage_wrapping_key(FILE *f, int status)
{
    fprintf(f, "usage: sksctl wrapping-key [--out FILE] [OPTIONS]\n"
               "\n"
               "Prints the public key (PEM) that keys are wrapped for before sksctl import\n"
               "--wrapped.  The RSA-3072 key pair is generated in the token on first use\n"
               "(label \"shaken-sks/wrapping\"); its private key can only unwrap and never\n"
               "leaves the token.\n"
               "\n"
               "  --out FILE         write the PEM to FILE instead of stdout\n" STORE_USAGE);
    return status;
}

int cmd_wrapping_key(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "wrapping-key"};
    const char *out_path = NULL;
    struct sks_error err;
    struct store s;
    EVP_PKEY *pub = NULL;
    BIO *out;
    int c, ok;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'o')
            out_path = optarg;
        else if (c == OPT_HELP)
            return usage_wrapping_key(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_wrapping_key(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind != argc)
        return usage_error(o.cmd, "unexpected argument");
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (sks_keystore_wrapping_key(s.ks, &pub, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    out = out_path != NULL ? BIO_new_file(out_path, "w") : BIO_new_fp(stdout, BIO_NOCLOSE);
    ok = out != NULL && PEM_write_bio_PUBKEY(out, pub) == 1 && BIO_flush(out) == 1;
    BIO_free(out);
    EVP_PKEY_free(pub);
    if (!ok) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the wrapping key to %s",
                 out_path != NULL ? out_path : "stdout");
        return report(o.cmd, &err, &s);
    }
    store_close(&s);
    return 0;
}

static int usage_wrap(FILE *f, int status)
{
    fprintf(f, "usage: sksctl wrap --wrapping-key FILE --key FILE --out FILE\n"
               "                  [--passphrase-file FILE] [--oaep sha1|sha256]\n"
               "\n"
               "Wraps a P-256 private key for a token's wrapping key, in software, on the\n"
               "machine where the key is: RSA-OAEP(ephemeral AES-256 key) || AES key wrap\n"
               "with padding (RFC 5649) of the PKCS#8 key, the CKM_RSA_AES_KEY_WRAP layout.\n"
               "No token is needed.\n"
               "\n"
               "  --wrapping-key FILE  the token's wrapping public key (sksctl wrapping-key)\n"
               "  --key FILE           the key: PEM or DER, PKCS#8 (plain or encrypted) or SEC1\n"
               "  --passphrase-file F  the key's passphrase (else asked on the terminal)\n"
               "  --out FILE           where to write the blob (mode 0600)\n"
               "  --oaep sha1|sha256   OAEP hash and MGF1 hash (default sha1, the one SoftHSM\n"
               "                       2.6 unwraps; sha256 for tokens that take it)\n");
    return status;
}

static sks_status write_private_file(const char *path, const unsigned char *data, size_t len,
                                     struct sks_error *err)
{
    FILE *f;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
        if (fd >= 0)
            close(fd);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
    }
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
    }
    if (fclose(f) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot write %s: %s", path, strerror(errno));
    return SKS_OK;
}

int cmd_wrap(int argc, char **argv)
{
    static const struct option opts[] = {
        {"wrapping-key", required_argument, NULL, 'w'},
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"oaep", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *wk = NULL, *key_path = NULL, *pass = NULL, *out = NULL, *oaep = "sha1";
    EVP_PKEY *pub = NULL, *key = NULL;
    unsigned char *blob = NULL;
    struct sks_error err;
    size_t len = 0;
    sks_status st;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            wk = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'a':
            oaep = optarg;
            break;
        case 'h':
            return usage_wrap(stdout, 0);
        default:
            return usage_wrap(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (optind != argc)
        return usage_error("wrap", "unexpected argument");
    if (wk == NULL || key_path == NULL || out == NULL)
        return usage_error("wrap", "--wrapping-key, --key and --out are required");
    if (strcmp(oaep, "sha1") != 0 && strcmp(oaep, "sha256") != 0)
        return usage_error("wrap", "--oaep takes sha1 or sha256");
    st = sks_input_public_key("--wrapping-key", wk, &pub, &err);
    if (st == SKS_OK)
        st = sks_input_key(key_path, pass, &key, &err);
    if (st == SKS_OK)
        st = sks_wrap_key(pub, key, strcmp(oaep, "sha1") == 0 ? "SHA1" : "SHA256", &blob, &len,
                          &err);
    if (st == SKS_OK)
        st = write_private_file(out, blob, len, &err);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    free(blob);
    if (st != SKS_OK)
        return cli_report("wrap", &err);
    return 0;
}

/* ---- import -------------------------------------------------------------------------------- */

static int usage_import(FILE *f, int status)
{
    fprintf(f, "usage: sksctl import IDENTITY (--key FILE | --wrapped FILE) --cert FILE\n"
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
               "  --spc SPC            refuse unless the certificate is for this SPC\n" STORE_USAGE
                   TRUST_USAGE);
    return status;
}

struct import_args {
    const char *identity, *key, *pass, *wrapped, *spc;
    struct cred_files f;
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

    st = read_credentials(&a->f, &cred, err);
    if (st == SKS_OK && a->spc != NULL) {
        char spc[SKS_SPC_MAX + 1];
        st = sks_cert_spc(cred.cert, spc, err);
        if (st == SKS_OK && strcmp(spc, a->spc) != 0)
            st =
                sks_fail(err, SKS_ERR_POLICY,
                         "spc: the certificate is for SPC %s, not the --spc %s given", spc, a->spc);
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
    cred_free(&cred);
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
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"wrapped", required_argument, NULL, 'w'},
        {"cert", required_argument, NULL, 'C'},
        {"chain", required_argument, NULL, 'a'},
        {"x5u", required_argument, NULL, 'x'},
        {"spc", required_argument, NULL, 's'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "import"};
    struct import_args a = {0};
    unsigned int version = 0;
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            a.key = optarg;
            break;
        case 'p':
            a.pass = optarg;
            break;
        case 'w':
            a.wrapped = optarg;
            break;
        case 'C':
            a.f.cert = optarg;
            break;
        case 'a':
            a.f.chain = optarg;
            break;
        case 'x':
            a.f.x5u = optarg;
            break;
        case 's':
            a.spc = optarg;
            break;
        case OPT_HELP:
            return usage_import(stdout, 0);
        default:
            if (!store_opt(c, &o))
                return usage_import(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (optind + 1 != argc)
        return usage_error(o.cmd, "give one IDENTITY");
    a.identity = argv[optind];
    if ((a.key == NULL) == (a.wrapped == NULL))
        return usage_error(o.cmd, "give --key or --wrapped (one of them)");
    if (a.f.cert == NULL || a.f.x5u == NULL)
        return usage_error(o.cmd, "--cert and --x5u are required");
    if (store_open(&o, true, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (import_one(s.ks, &a, &version, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    printf("%s/%u %s\n", a.identity, version, version_state(s.ks, a.identity, version));
    store_close(&s);
    return 0;
}

/* ---- import-batch ---------------------------------------------------------------------------- */

static int usage_import_batch(FILE *f, int status)
{
    fprintf(
        f,
        "usage: sksctl import-batch DIR [--passphrase-file FILE] [OPTIONS]\n"
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
        "  --passphrase-file F  passphrase of every encrypted key.pem\n" STORE_USAGE TRUST_USAGE);
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
    a.f.cert = cert;
    a.f.chain = file_exists(chain) ? chain : NULL;
    a.f.x5u = x5u;
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
    static const struct option opts[] = {
        {"passphrase-file", required_argument, NULL, 'p'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "import-batch"};
    const char *pass = NULL;
    char **names = NULL;
    size_t n = 0, i, failed = 0;
    bool tty = isatty(STDERR_FILENO);
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'p')
            pass = optarg;
        else if (c == OPT_HELP)
            return usage_import_batch(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_import_batch(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind + 1 != argc)
        return usage_error(o.cmd, "give one DIR");
    if (batch_list(argv[optind], &names, &n, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (store_open(&o, true, true, &s, &err) != SKS_OK) {
        for (i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return report(o.cmd, &err, NULL);
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
    store_close(&s);
    return failed == 0 ? 0 : sks_exit_code(SKS_ERR_INPUT);
}

/* ---- list ------------------------------------------------------------------------------------ */

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
               "                     are listed under \"unprotectedKeys\"\n" STORE_USAGE);
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
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "list"};
    struct list_ctx ctx = {0};
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'j')
            ctx.json = true;
        else if (c == OPT_HELP)
            return usage_list(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_list(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind + 1 < argc)
        return usage_error(o.cmd, "give at most one IDENTITY");
    ctx.only = optind < argc ? argv[optind] : NULL;
    if (store_open(&o, false, false, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
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
        return report(o.cmd, &err, &s);
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
    store_close(&s);
    if (ctx.only != NULL && ctx.shown == 0) {
        sks_fail(&err, SKS_ERR_NOT_FOUND, "no identity %s", ctx.only);
        return cli_report(o.cmd, &err);
    }
    return 0;
}

/* ---- activate, retire, destroy, sweep
 * ------------------------------------------------------------ */

static int usage_activate(FILE *f, int status)
{
    fprintf(f, "usage: sksctl activate IDENTITY VERSION [OPTIONS]\n"
               "\n"
               "Makes VERSION the one IDENTITY signs with, in one token write.  The version\n"
               "it replaces becomes \"previous\" and stays usable for the grace period\n"
               "(grace_period, default 24 h) until sksctl retire destroys it.  A previous\n"
               "version can be activated again (a rollback).\n"
               "\n" STORE_USAGE);
    return status;
}

/* IDENTITY VERSION: the arguments of activate and destroy. */
static int identity_version(const char *cmd, int argc, char **argv, unsigned int *version)
{
    if (optind + 2 != argc)
        return usage_error(cmd, "give IDENTITY VERSION");
    if (!parse_version(argv[optind + 1], version))
        return usage_error(cmd, "VERSION is a version number (sksctl list)");
    return 0;
}

int cmd_activate(int argc, char **argv)
{
    static const struct option opts[] = {STORE_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    struct store_opts o = {.cmd = "activate"};
    unsigned int version = 0;
    struct sks_error err;
    struct store s;
    int c, rc;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == OPT_HELP)
            return usage_activate(stdout, 0);
        if (!store_opt(c, &o))
            return usage_activate(stderr, SKSCTL_EXIT_USAGE);
    }
    if ((rc = identity_version(o.cmd, argc, argv, &version)) != 0)
        return rc;
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (sks_keystore_activate(s.ks, argv[optind], version, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    printf("%s/%u active\n", argv[optind], version);
    store_close(&s);
    return 0;
}

static int usage_retire(FILE *f, int status)
{
    fprintf(f, "usage: sksctl retire [IDENTITY] [OPTIONS]\n"
               "\n"
               "Destroys the previous versions (of IDENTITY, or of every identity) whose\n"
               "grace period is over.  Run it from cron.\n"
               "\n" STORE_USAGE);
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
    static const struct option opts[] = {STORE_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    struct store_opts o = {.cmd = "retire"};
    struct retire_ctx ctx = {0};
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == OPT_HELP)
            return usage_retire(stdout, 0);
        if (!store_opt(c, &o))
            return usage_retire(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind + 1 < argc)
        return usage_error(o.cmd, "give at most one IDENTITY");
    ctx.only = optind < argc ? argv[optind] : NULL;
    ctx.now = time(NULL);
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    ctx.grace = s.cfg.grace_period;
    /* Name what goes before it goes. */
    if (sks_keystore_list(s.ks, retire_cb, &ctx, &err) != SKS_OK ||
        sks_keystore_retire(s.ks, ctx.only, ctx.now, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    if (ctx.n == 0)
        printf("nothing to retire\n");
    store_close(&s);
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
               "  --yes              required: the key cannot be brought back\n" STORE_USAGE);
    return status;
}

int cmd_destroy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "destroy"};
    unsigned int version = 0;
    bool yes = false;
    struct sks_error err;
    struct sks_active *a = NULL;
    struct store s;
    int c, rc;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'y')
            yes = true;
        else if (c == OPT_HELP)
            return usage_destroy(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_destroy(stderr, SKSCTL_EXIT_USAGE);
    }
    if ((rc = identity_version(o.cmd, argc, argv, &version)) != 0)
        return rc;
    if (!yes)
        return usage_error(o.cmd, "destroying a key cannot be undone: add --yes");
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (sks_keystore_destroy(s.ks, argv[optind], version, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    printf("destroyed %s/%u\n", argv[optind], version);
    if (sks_keystore_active(s.ks, argv[optind], 0, &a, &err) == SKS_OK)
        sks_active_put(a);
    else if (err.status == SKS_ERR_NOT_FOUND)
        fprintf(stderr,
                "sksctl destroy: warning: %s has no active version now: run sksctl "
                "activate\n",
                argv[optind]);
    store_close(&s);
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
               "\n" STORE_USAGE);
    return status;
}

int cmd_sweep(int argc, char **argv)
{
    static const struct option opts[] = {STORE_LONG_OPTIONS, {NULL, 0, NULL, 0}};
    struct store_opts o = {.cmd = "sweep"};
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == OPT_HELP)
            return usage_sweep(stdout, 0);
        if (!store_opt(c, &o))
            return usage_sweep(stderr, SKSCTL_EXIT_USAGE);
    }
    if (optind != argc)
        return usage_error(o.cmd, "unexpected argument");
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    store_close(&s);
    return 0;
}

/* ---- protect ------------------------------------------------------------------------------- */

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
               "  --all              every EC key and the wrapping key pair\n" STORE_USAGE);
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
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        STORE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct store_opts o = {.cmd = "protect"};
    size_t done = 0, failed = 0;
    bool all = false;
    struct sks_error err;
    struct store s;
    int c;

    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == OPT_HELP)
            return usage_protect(stdout, 0);
        else if (!store_opt(c, &o))
            return usage_protect(stderr, SKSCTL_EXIT_USAGE);
    }
    if (all == (optind < argc))
        return usage_error(o.cmd, "give IDENTITY... or --all");
    if (store_open(&o, false, true, &s, &err) != SKS_OK)
        return report(o.cmd, &err, NULL);
    if (sks_keystore_protect(s.ks, (const char *const *)argv + optind, (size_t)(argc - optind),
                             protect_cb, NULL, &done, &failed, &err) != SKS_OK)
        return report(o.cmd, &err, &s);
    store_close(&s);
    if (done == 0)
        printf("no modifiable key to protect\n");
    if (failed > 0) {
        sks_fail(&err, SKS_ERR_POLICY, "%zu of %zu keys are still modifiable", failed, done);
        return cli_report(o.cmd, &err);
    }
    return 0;
}

/* ---- sksctl sign --key IDENTITY
 * ------------------------------------------------------------------ */

/*
 * Appends |s| to |buf|, percent-encoded when |encode| (RFC 7512 2.3: query
 * values are RFC 3986 percent-encoded).  False when it does not fit.
 */
static bool append_encoded(char *buf, size_t len, const char *s, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(buf);

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = !encode || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || strchr("-._~/", ch) != NULL;
        if (n + 4 >= len)
            return false;
        if (plain) {
            buf[n++] = (char)ch;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        }
    }
    buf[n] = '\0';
    return true;
}

bool cli_is_identity_ref(const char *spec)
{
    struct stat sb;

    if (strncmp(spec, "identity:", 9) == 0)
        return true;
    return strncmp(spec, "pkcs11:", 7) != 0 && stat(spec, &sb) != 0 && sks_identity_name_ok(spec);
}

sks_status cli_resolve_identity(const char *spec, const char *config, char **uri, char **x5u,
                                struct sks_error *err)
{
    struct store_opts o = {.cmd = "sign", .config = config};
    const char *name = strncmp(spec, "identity:", 9) == 0 ? spec + 9 : spec;
    char buf[4096], pin[PATH_MAX];
    struct sks_active *a = NULL;
    struct store s;
    sks_status st;

    st = store_open(&o, false, false, &s, err);
    if (st == SKS_OK)
        st = sks_keystore_active(s.ks, name, 0, &a, err);
    if (st != SKS_OK) {
        sks_error_prefix(err,
                         "--key %s is neither a file nor a pkcs11: URI, and as a key store "
                         "identity",
                         spec);
        store_close(&s);
        return st;
    }
    /* The provider is configured apart from sksctl: the URI says where the token is. */
    snprintf(buf, sizeof(buf), "%s?", p11_key_uri(a->key));
    if (realpath(s.cfg.pin_file, pin) == NULL)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "PIN file %s: %s", s.cfg.pin_file, strerror(errno));
    if (st == SKS_OK && s.cfg.pkcs11_module != NULL &&
        !(append_encoded(buf, sizeof(buf), "module-path=", false) &&
          append_encoded(buf, sizeof(buf), s.cfg.pkcs11_module, true) &&
          append_encoded(buf, sizeof(buf), "&", false)))
        st = sks_fail(err, SKS_ERR_INPUT, "the module path is too long for a URI");
    if (st == SKS_OK && !(append_encoded(buf, sizeof(buf), "pin-source=file:", false) &&
                          append_encoded(buf, sizeof(buf), pin, true)))
        st = sks_fail(err, SKS_ERR_INPUT, "the PIN file path is too long for a URI");
    if (st == SKS_OK && (*uri = strdup(buf)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (st == SKS_OK && (*x5u = strdup(a->x5u)) == NULL) {
        free(*uri);
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    sks_active_put(a);
    store_close(&s);
    return st;
}
