/* sksctl init-token and sksctl keygen: token set-up for administrators and tests. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "p11/p11.h"
#include "tools/sksctl.h"

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
    static const struct option opts[] = {
        {"module", required_argument, NULL, 'm'}, {"label", required_argument, NULL, 'l'},
        {"so-pin-file", required_argument, NULL, 's'}, {"pin-file", required_argument, NULL, 'p'},
        {"slot", required_argument, NULL, 'S'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *module = NULL, *label = NULL, *so_pin = NULL, *pin = NULL, *slot = NULL;
    char so_src[PATH_MAX + 6], user_src[PATH_MAX + 6];
    struct p11_module *mod = NULL;
    P11KitUri *match = NULL;
    struct sks_error err;
    sks_status st;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': module = optarg; break;
        case 'l': label = optarg; break;
        case 's': so_pin = optarg; break;
        case 'p': pin = optarg; break;
        case 'S': slot = optarg; break;
        case 'h': return usage_init(stdout, 0);
        default: return usage_init(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (label == NULL || so_pin == NULL || pin == NULL || optind != argc)
        return usage_init(stderr, SKSCTL_EXIT_USAGE);
    if (!pin_source(so_pin, so_src, &err) || !pin_source(pin, user_src, &err))
        return cli_report("init-token", &err);
    if (slot != NULL) {
        int rc;
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
    static const struct option opts[] = {
        {"module", required_argument, NULL, 'm'}, {"token", required_argument, NULL, 't'},
        {"pin-file", required_argument, NULL, 'p'}, {"label", required_argument, NULL, 'l'},
        {"id", required_argument, NULL, 'i'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_token_opts topts = {0};
    const char *label = NULL, *idhex = NULL;
    unsigned char id[P11_ID_MAX];
    size_t id_len = 0;
    struct p11_token *tok = NULL;
    struct sks_error err;
    char *uri = NULL;
    sks_status st;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': topts.module = optarg; break;
        case 't': topts.token = optarg; break;
        case 'p': topts.pin_file = optarg; break;
        case 'l': label = optarg; break;
        case 'i': idhex = optarg; break;
        case 'h': return usage_keygen(stdout, 0);
        default: return usage_keygen(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (label == NULL || optind != argc)
        return usage_keygen(stderr, SKSCTL_EXIT_USAGE);
    if (idhex != NULL && !parse_hex(idhex, id, sizeof(id), &id_len)) {
        sks_fail(&err, SKS_ERR_INPUT, "--id \"%s\" is not 1 to %d bytes of hex", idhex,
                 P11_ID_MAX);
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
