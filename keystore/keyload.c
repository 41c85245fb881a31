/*
 * Private keys to sign with, by name (see input.h): OSSL_STORE opens a
 * pkcs11: URI or a key-reference file through the sks provider, and a key
 * file through OpenSSL's own decoders.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#include "common/keyref.h"
#include "keystore/input.h"

#define PROV_NAME_SKS "sks"

/* Where the sks provider was looked for, for the message that it is not loaded. */
static char provider_tried[2 * PATH_MAX + 64];

static bool provider_try_dir(const char *dir)
{
    size_t len = strlen(provider_tried);

    snprintf(provider_tried + len, sizeof(provider_tried) - len, "%s%s/sks.so", len > 0 ? ", " : "",
             dir);
    if (!OSSL_PROVIDER_set_default_search_path(NULL, dir))
        return false;
    return OSSL_PROVIDER_try_load(NULL, PROV_NAME_SKS, 1) != NULL;
}

/*
 * The sks provider is needed only for token keys; load it on first use.
 * An openssl.cnf that loads it, or OPENSSL_MODULES, decides where it comes
 * from.  Otherwise a program run from the build tree takes the provider
 * built next to it (provider/.libs), so that it never signs with an older
 * installed one, and an installed program the one in the modules directory
 * it was configured with.
 */
static void load_providers(void)
{
    static int loaded;
    char exe[PATH_MAX], dir[PATH_MAX + 16];
    const char *env = getenv("OPENSSL_MODULES");
    ssize_t n;

    if (loaded)
        return;
    loaded = 1;
    OSSL_PROVIDER_try_load(NULL, "default", 1);
    if (OSSL_PROVIDER_available(NULL, PROV_NAME_SKS)) {
        ERR_clear_error();
        return;
    }
    if (env != NULL && env[0] != '\0') {
        snprintf(provider_tried, sizeof(provider_tried), "%s/sks.so (OPENSSL_MODULES)", env);
        OSSL_PROVIDER_try_load(NULL, PROV_NAME_SKS, 1);
        ERR_clear_error();
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL)
            *slash = '\0';
        snprintf(dir, sizeof(dir), "%s/provider/.libs", exe);
        if (access(dir, F_OK) == 0 && provider_try_dir(dir))
            goto done;
    }
    provider_try_dir(SKS_MODULESDIR);
done:
    /* Other providers loaded later search OpenSSL's own directory again. */
    OSSL_PROVIDER_set_default_search_path(NULL, NULL);
    ERR_clear_error();
}

static bool is_keyref_file(const char *path)
{
    static const char begin[] = "-----BEGIN " KEYREF_PEM_NAME "-----";
    char head[sizeof(begin)] = "";
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return false;
    if (fgets(head, sizeof(head), f) == NULL)
        head[0] = '\0';
    fclose(f);
    return strncmp(head, begin, sizeof(begin) - 1) == 0;
}

/*
 * Why a key did not load.  The sks provider's own message names the cause
 * (a PIN, a token, an object); OpenSSL's "unsupported" that follows it says
 * nothing, and alone it means the provider never saw the key.
 */
static sks_status key_error(const char *spec, struct sks_error *err)
{
    char cause[SKS_ERROR_MSG_MAX] = "", others[SKS_ERROR_MSG_MAX] = "", buf[256];
    const char *data = NULL, *lib;
    sks_status st = err->status;
    unsigned long e;
    int flags = 0;
    size_t len;

    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        lib = ERR_lib_error_string(e);
        if (cause[0] == '\0' && lib != NULL && strcmp(lib, PROV_NAME_SKS) == 0 &&
            (flags & ERR_TXT_STRING) && data != NULL && data[0] != '\0') {
            /* The provider's reasons are the sks_status classes (provider/prov.h). */
            int reason = ERR_GET_REASON(e);

            st = reason >= SKS_ERR_INPUT && reason <= SKS_ERR_INTERNAL ? (sks_status)reason
                                                                       : SKS_ERR_NOT_FOUND;
            snprintf(cause, sizeof(cause), "%s", data);
        } else {
            len = strlen(others);
            ERR_error_string_n(e, buf, sizeof(buf));
            snprintf(others + len, sizeof(others) - len, " (%s)", buf);
        }
    }
    if (cause[0] != '\0')
        return sks_fail(err, st, "cannot load the private key %s: %s", spec, cause);
    if ((strncmp(spec, "pkcs11:", 7) == 0 || is_keyref_file(spec)) &&
        !OSSL_PROVIDER_available(NULL, PROV_NAME_SKS))
        return sks_fail(err, SKS_ERR_NOT_FOUND,
                        "cannot load the private key %s: the sks provider is not loaded "
                        "(looked for %s); set OPENSSL_MODULES to its directory or load it in "
                        "openssl.cnf",
                        spec, provider_tried[0] != '\0' ? provider_tried : "it in openssl.cnf");
    len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, "%s", others);
    return st;
}

sks_status sks_key_load(const char *spec, EVP_PKEY **out, struct sks_error *err)
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
        /* OpenSSL's file store would wait on a FIFO for a writer. */
        if (!S_ISREG(sb.st_mode))
            return sks_fail(err, SKS_ERR_INPUT, "key %s is not a regular file: give a file", spec);
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
        st = key_error(spec, err);
    OSSL_STORE_close(store);
    OPENSSL_free(uri);
    return st;
}
