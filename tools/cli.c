/* What sksctl's subcommands share: key loading, file reading, error reports. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "p11/p11.h"
#include "sks/certs.h"
#include "sks/keystore_input.h"
#include "tools/sksctl.h"

int cli_report(const char *cmd, const struct sks_error *err)
{
    fprintf(stderr, "sksctl %s: %s\n", cmd, err->msg);
    return sks_exit_code(err->status);
}

sks_status cli_read_file(const char *path, size_t max, unsigned char **data, size_t *len,
                         struct sks_error *err)
{
    return sks_file_read(path, max, data, len, err);
}

/* The sks provider is needed only for token keys; load it on first use. */
static void load_providers(void)
{
    static int loaded;

    if (loaded)
        return;
    loaded = 1;
    OSSL_PROVIDER_try_load(NULL, "default", 1);
    OSSL_PROVIDER_try_load(NULL, "sks", 1);
    ERR_clear_error();
}

sks_status cli_load_private_key(const char *spec, EVP_PKEY **out, struct sks_error *err)
{
    OSSL_STORE_CTX *store = NULL;
    OSSL_STORE_INFO *info = NULL;
    EVP_PKEY *pkey = NULL;
    char *uri = NULL;
    sks_status st;

    load_providers();
    if (strncmp(spec, "pkcs11:", 7) == 0) {
        uri = OPENSSL_strdup(spec);
    } else {
        struct stat sb;
        if (stat(spec, &sb) != 0)
            return sks_fail(err, SKS_ERR_NOT_FOUND, "key %s: %s", spec, strerror(errno));
        uri = OPENSSL_strdup(spec);
    }
    if (uri == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");

    store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    if (store == NULL) {
        st = sks_fail(err, SKS_ERR_INPUT, "cannot open key %s", spec);
        goto done;
    }
    OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
    while (pkey == NULL && !OSSL_STORE_eof(store)) {
        info = OSSL_STORE_load(store);
        if (info == NULL)
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    if (pkey == NULL) {
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no private key in %s", spec);
        goto done;
    }
    *out = pkey;
    st = SKS_OK;
done:
    if (st != SKS_OK)
        sks_error_add_openssl(err);
    OSSL_STORE_close(store);
    OPENSSL_free(uri);
    return st;
}

sks_status cli_open_token(const struct cli_token_opts *opts, struct p11_token **tok,
                          struct sks_error *err)
{
    struct p11_module *mod = NULL;
    P11KitUri *match = NULL;
    char pin[PATH_MAX + 6];
    sks_status st;

    if (opts->token != NULL) {
        match = p11_kit_uri_new();
        if (match == NULL)
            return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        if (strncmp(opts->token, "pkcs11:", 7) == 0) {
            int rc = p11_kit_uri_parse(opts->token, P11_KIT_URI_FOR_TOKEN, match);
            if (rc != P11_KIT_URI_OK) {
                p11_kit_uri_free(match);
                return sks_fail(err, SKS_ERR_INPUT, "invalid PKCS#11 URI \"%s\": %s",
                                opts->token, p11_kit_uri_message(rc));
            }
        } else {
            CK_TOKEN_INFO *info = p11_kit_uri_get_token_info(match);
            size_t len = strlen(opts->token);
            if (len > sizeof(info->label)) {
                p11_kit_uri_free(match);
                return sks_fail(err, SKS_ERR_INPUT, "token label \"%s\" is over 32 bytes",
                                opts->token);
            }
            memset(info->label, ' ', sizeof(info->label));
            memcpy(info->label, opts->token, len);
        }
    }
    st = p11_module_get(opts->module, &mod, err);
    if (st == SKS_OK)
        st = p11_token_find(mod, match, NULL, tok, err);
    p11_module_put(mod);
    if (match != NULL)
        p11_kit_uri_free(match);
    if (st != SKS_OK || opts->pin_file == NULL)
        return st;
    if (realpath(opts->pin_file, pin + 5) == NULL) {
        p11_token_put(*tok);
        return sks_fail(err, SKS_ERR_NOT_FOUND, "PIN file %s: %s", opts->pin_file,
                        strerror(errno));
    }
    memcpy(pin, "file:", 5);
    st = p11_token_set_pin_source(*tok, pin, err);
    if (st != SKS_OK)
        p11_token_put(*tok);
    return st;
}

sks_status cli_load_certs(const char *path, bool der_ok, STACK_OF(X509) **out,
                          struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st = cli_read_file(path, SKS_CERT_FILE_MAX, &data, &len, err);

    if (st == SKS_OK)
        st = sks_certs_parse(data, len, der_ok, path, out, err);
    OPENSSL_free(data);
    return st;
}

sks_status cli_load_roots(const char *path, X509_STORE **out, struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    sks_status st = cli_load_certs(path, false, &certs, err);

    if (st == SKS_OK)
        st = sks_certs_store(certs, path, out, err);
    sk_X509_pop_free(certs, X509_free);
    return st;
}
