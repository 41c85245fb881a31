/*
 * libFuzzer target: key-reference files (common/keyref.h), read the ways the
 * provider reads them: the input as DER (keyref_is_keyref, then
 * keyref_decode, as the DER decoder does), and as PEM (PEM_read_bio, then
 * keyref_decode of the body when the PEM name is ours, as the PEM decoder
 * does).
 *
 * A URI that decodes must be what the rest of the provider expects: a
 * pkcs11: URI of at most KEYREF_URI_MAX bytes with no NUL inside, which
 * keyref_write() writes back to a file that decodes to the same URI.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/keyref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* keyref_write() then PEM and DER decoding again: the same URI comes back. */
static void check_round_trip(const char *uri)
{
    char *name = NULL, *header = NULL, *again = NULL;
    unsigned char *der = NULL;
    struct sks_error err;
    long len = 0;
    BIO *mem = BIO_new(BIO_s_mem());

    /* keyref_write refuses what no key-reference file may carry: a PIN. */
    if (mem == NULL || keyref_write(mem, uri, &err) != SKS_OK)
        goto done;
    if (!PEM_read_bio(mem, &name, &header, &der, &len) || strcmp(name, KEYREF_PEM_NAME) != 0 ||
        !keyref_is_keyref(der, (size_t)len) ||
        keyref_decode(der, (size_t)len, &again, &err) != SKS_OK || strcmp(again, uri) != 0) {
        fprintf(stderr, "fuzz_keyref: \"%s\" does not survive keyref_write and decoding\n", uri);
        abort();
    }
done:
    OPENSSL_free(again);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(mem);
    ERR_clear_error();
}

/* What keyref_decode() promises about a URI it returns. */
static void check_decoded(const unsigned char *der, size_t len)
{
    struct sks_error err;
    char *uri = NULL;

    sks_error_clear(&err);
    if (keyref_decode(der, len, &uri, &err) != SKS_OK) {
        if (err.msg[0] == '\0')
            abort();
        return;
    }
    if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0 || strlen(uri) > KEYREF_URI_MAX)
        abort();
    check_round_trip(uri);
    OPENSSL_free(uri);
}

static void check_pem(const uint8_t *data, size_t size)
{
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    BIO *mem = BIO_new_mem_buf(data, (int)size);

    if (mem != NULL && PEM_read_bio(mem, &name, &header, &der, &len) &&
        strcmp(name, KEYREF_PEM_NAME) == 0) {
        keyref_is_keyref(der, (size_t)len);
        check_decoded(der, (size_t)len);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(mem);
    ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    keyref_is_keyref(data, size);
    check_decoded(data, size);
    check_pem(data, size);
    ERR_clear_error();
    return 0;
}
