/* sksctl keyref: writes a key-reference PEM file for a token key. */
#include "config.h"

#include <fcntl.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>

#include "common/keyref.h"
#include "tools/sksctl.h"

static int usage(FILE *f, int status)
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
    st = cli_load_private_key(uri, &pkey, err);
    EVP_PKEY_free(pkey);
    if (st != SKS_OK)
        sks_error_prefix(err, "refusing to write a key reference that cannot sign (key store "
                              "versions are labelled NAME/N: sksctl list shows them; --no-check "
                              "writes it anyway)");
    return st;
}

int cmd_keyref(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"no-check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool check = true;
    struct sks_error err;
    BIO *bio;
    sks_status st;
    int c, fd;

    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n':
            check = false;
            break;
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (optind + 1 != argc)
        return usage(stderr, SKSCTL_EXIT_USAGE);
    if (check && (st = check_key(argv[optind], &err)) != SKS_OK)
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
