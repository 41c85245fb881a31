/*
 * sksctl wrapping-key and wrap: a key wrapped for the token's wrapping key
 * on the machine where it is, then imported with sksctl import --wrapped,
 * never crosses the network in the clear.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "keystore/input.h"
#include "keystore/keystore.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

static int usage_wrapping_key(FILE *f, int status)
{
    fprintf(f, "usage: sksctl wrapping-key [--out FILE] [OPTIONS]\n"
               "\n"
               "Prints the public key (PEM) that keys are wrapped for before sksctl import\n"
               "--wrapped.  The RSA-3072 key pair is generated in the token on first use\n"
               "(label \"shaken-sks/wrapping\"); its private key can only unwrap and never\n"
               "leaves the token.\n"
               "\n"
               "  --out FILE         write the PEM to FILE instead of stdout\n" CLI_STORE_USAGE);
    return status;
}

int cmd_wrapping_key(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "wrapping-key"};
    const char *out_path = NULL;
    const struct cli_opt opts[] = {
        CLI_ARG("out", 0, &out_path),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct sks_error err;
    struct cli_store s;
    EVP_PKEY *pub = NULL;
    BIO *out;
    int rc, ok;

    if (!cli_parse_opts(argc, argv, opts, usage_wrapping_key, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error(o.cmd, "unexpected argument");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (sks_keystore_wrapping_key(s.ks, &pub, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    out = out_path != NULL ? BIO_new_file(out_path, "w") : BIO_new_fp(stdout, BIO_NOCLOSE);
    ok = out != NULL && PEM_write_bio_PUBKEY(out, pub) == 1 && BIO_flush(out) == 1;
    BIO_free(out);
    EVP_PKEY_free(pub);
    if (!ok) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the wrapping key to %s",
                 out_path != NULL ? out_path : "stdout");
        return cli_store_report(o.cmd, &err, &s);
    }
    cli_store_close(&s);
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
    const char *wk = NULL, *key_path = NULL, *pass = NULL, *out = NULL, *oaep = "sha1";
    const struct cli_opt opts[] = {
        CLI_ARG("wrapping-key", 0, &wk),
        CLI_ARG("key", 0, &key_path),
        CLI_ARG("passphrase-file", 0, &pass),
        CLI_ARG("out", 0, &out),
        CLI_ARG("oaep", 0, &oaep),
        CLI_HELP('h'),
        CLI_END,
    };
    EVP_PKEY *pub = NULL, *key = NULL;
    unsigned char *blob = NULL;
    struct sks_error err;
    size_t len = 0;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_wrap, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error("wrap", "unexpected argument");
    if (wk == NULL || key_path == NULL || out == NULL)
        return cli_usage_error("wrap", "--wrapping-key, --key and --out are required");
    if (strcmp(oaep, "sha1") != 0 && strcmp(oaep, "sha256") != 0)
        return cli_usage_error("wrap", "--oaep takes sha1 or sha256");
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
