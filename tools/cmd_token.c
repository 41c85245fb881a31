/*
 * sksctl's token commands, for administrators and tests: init-token and
 * keygen set a token up, keyref names one of its keys for software that
 * reads a key file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "common/keyref.h"
#include "p11/p11.h"
#include "keystore/input.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

/* ---- init-token ------------------------------------------------------------------------------ */

static int usage_init(FILE *f, int status)
{
    fprintf(f, "usage: sksctl init-token --label LABEL --so-pin-file FILE --pin-file FILE\n"
               "                         [--module PATH] [--slot URI]\n"
               "\n"
               "Initialises a token (C_InitToken) and sets its user PIN.  The first slot\n"
               "holding an uninitialised token is used unless --slot names one.  PINs are\n"
               "read from files, never from the command line.\n");
    return status;
}

/* Absolute "file:" source for a PIN file, as the PKCS#11 layer takes them. */
static bool pin_source(const char *path, char out[PATH_MAX + 6], struct sks_error *err)
{
    memcpy(out, "file:", 5);
    if (realpath(path, out + 5) == NULL) {
        sks_fail(err, SKS_ERR_NOT_FOUND, "PIN file %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

int cmd_init_token(int argc, char **argv)
{
    const char *module = NULL, *label = NULL, *so_pin = NULL, *pin = NULL, *slot = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("module", 0, &module),
        CLI_ARG("label", 0, &label),
        CLI_ARG("so-pin-file", 0, &so_pin),
        CLI_ARG("pin-file", 0, &pin),
        CLI_ARG("slot", 0, &slot),
        CLI_HELP('h'),
        CLI_END,
    };
    char so_src[PATH_MAX + 6], user_src[PATH_MAX + 6];
    struct p11_module *mod = NULL;
    P11KitUri *match = NULL;
    struct sks_error err;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_init, &rc))
        return rc;
    if (label == NULL || so_pin == NULL || pin == NULL || optind != argc)
        return usage_init(stderr, SKSCTL_EXIT_USAGE);
    if (!pin_source(so_pin, so_src, &err) || !pin_source(pin, user_src, &err))
        return cli_report("init-token", &err);
    if (slot != NULL) {
        match = p11_kit_uri_new();
        if (match == NULL || (rc = p11_kit_uri_parse(slot, P11_KIT_URI_FOR_SLOT, match)) != 0) {
            sks_fail(&err, SKS_ERR_INPUT, "invalid slot URI \"%s\"", slot);
            p11_kit_uri_free(match);
            return cli_report("init-token", &err);
        }
    }
    st = p11_module_get(module, &mod, &err);
    if (st == SKS_OK)
        st = p11_token_initialise(mod, match, label, so_src, user_src, &err);
    p11_module_put(mod);
    if (match != NULL)
        p11_kit_uri_free(match);
    if (st != SKS_OK)
        return cli_report("init-token", &err);
    printf("token \"%s\" initialised\n", label);
    return 0;
}

/* ---- keygen ---------------------------------------------------------------------------------- */

static int usage_keygen(FILE *f, int status)
{
    fprintf(f, "usage: sksctl keygen --label KEYLABEL [--id HEX] [--module PATH]\n"
               "                     [--token LABEL|URI] --pin-file FILE\n"
               "\n"
               "Generates an EC P-256 key pair in the token.  The private key is sensitive,\n"
               "not extractable, sign-only and not modifiable.  Prints the private key's\n"
               "pkcs11: URI.\n");
    return status;
}

static bool parse_hex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    long n = 0;
    unsigned char *buf = OPENSSL_hexstr2buf(hex, &n);

    if (buf == NULL || n <= 0 || (size_t)n > max) {
        OPENSSL_free(buf);
        return false;
    }
    memcpy(out, buf, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(buf);
    return true;
}

int cmd_keygen(int argc, char **argv)
{
    struct cli_token_opts topts = {0};
    const char *label = NULL, *idhex = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("module", 0, &topts.module),
        CLI_ARG("token", 0, &topts.token),
        CLI_ARG("pin-file", 0, &topts.pin_file),
        CLI_ARG("label", 0, &label),
        CLI_ARG("id", 0, &idhex),
        CLI_HELP('h'),
        CLI_END,
    };
    unsigned char id[P11_ID_MAX];
    size_t id_len = 0;
    struct p11_token *tok = NULL;
    struct sks_error err;
    char *uri = NULL;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_keygen, &rc))
        return rc;
    if (label == NULL || optind != argc)
        return usage_keygen(stderr, SKSCTL_EXIT_USAGE);
    if (idhex != NULL && !parse_hex(idhex, id, sizeof(id), &id_len)) {
        sks_fail(&err, SKS_ERR_INPUT, "--id \"%s\" is not 1 to %d bytes of hex", idhex, P11_ID_MAX);
        return cli_report("keygen", &err);
    }
    st = cli_open_token(&topts, &tok, &err);
    if (st == SKS_OK)
        st = p11_generate_p256(tok, label, id, id_len, &uri, &err);
    p11_token_put(tok);
    if (st != SKS_OK)
        return cli_report("keygen", &err);
    printf("%s\n", uri);
    free(uri);
    return 0;
}

/* ---- keyref: a key-reference PEM file for a token key ---------------------------------------- */

static int usage_keyref(FILE *f, int status)
{
    fprintf(f, "usage: sksctl keyref [--out FILE] [--no-check] URI\n"
               "\n"
               "Writes a key-reference PEM file (-----BEGIN PKCS#11 PROVIDER URI-----, the\n"
               "pkcs11-provider format) naming the token key URI.  Software that reads its\n"
               "key with PEM_read_bio_PrivateKey then signs in the token through the sks\n"
               "provider.  The file never holds a PIN: give the PIN to the provider with\n"
               "pkcs11-module-token-pin, or add pin-source=file:/path to the URI.\n"
               "\n"
               "The key is opened through the sks provider first (as configured by\n"
               "OPENSSL_CONF), and a URI that names no private key is refused; --no-check\n"
               "writes the file without opening the token.\n");
    return status;
}

/*
 * A key reference that names no key fails only when the telephony stack
 * first signs with it; the usual slip is naming a key store identity
 * (object=sp-main) where the token holds its versions (sp-main/1).
 */
static sks_status check_key(const char *uri, struct sks_error *err)
{
    EVP_PKEY *pkey = NULL;
    sks_status st;

    if (strncmp(uri, "pkcs11:", 7) != 0)
        return sks_fail(err, SKS_ERR_INPUT, "\"%s\" is not a pkcs11: URI", uri);
    if (strstr(uri, "type=public") != NULL)
        return SKS_OK;
    st = sks_key_load(uri, &pkey, err);
    EVP_PKEY_free(pkey);
    if (st != SKS_OK)
        sks_error_prefix(err, "refusing to write a key reference that cannot sign (key store "
                              "versions are labelled NAME/N: sksctl list shows them; --no-check "
                              "writes it anyway)");
    return st;
}

int cmd_keyref(int argc, char **argv)
{
    const char *out = NULL;
    bool no_check = false;
    const struct cli_opt opts[] = {
        CLI_ARG("out", 'o', &out),
        CLI_FLAG("no-check", &no_check),
        CLI_HELP('h'),
        CLI_END,
    };
    struct sks_error err;
    BIO *bio;
    sks_status st;
    int rc, fd;

    if (!cli_parse_opts(argc, argv, opts, usage_keyref, &rc))
        return rc;
    if (optind + 1 != argc)
        return usage_keyref(stderr, SKSCTL_EXIT_USAGE);
    if (!no_check && (st = check_key(argv[optind], &err)) != SKS_OK)
        return cli_report("keyref", &err);
    if (out == NULL) {
        bio = BIO_new_fp(stdout, BIO_NOCLOSE);
    } else {
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            sks_fail(&err, SKS_ERR_SYSTEM, "cannot write %s: %s", out, strerror(errno));
            return cli_report("keyref", &err);
        }
        bio = BIO_new_fd(fd, BIO_CLOSE);
    }
    if (bio == NULL) {
        sks_fail(&err, SKS_ERR_SYSTEM, "out of memory");
        return cli_report("keyref", &err);
    }
    st = keyref_write(bio, argv[optind], &err);
    if (BIO_flush(bio) <= 0 && st == SKS_OK)
        st = sks_fail(&err, SKS_ERR_SYSTEM, "cannot write %s", out != NULL ? out : "stdout");
    BIO_free(bio);
    if (st != SKS_OK) {
        if (out != NULL)
            unlink(out);
        return cli_report("keyref", &err);
    }
    return 0;
}
