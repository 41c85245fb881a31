/*
 * libFuzzer target for the SHAKEN profile checker: each input is tried as a
 * DER certificate (sks_profile_check against a fixed root store, and
 * sks_cert_spc), as a bare TNAuthList value, and as the TNAuthList of an SP
 * certificate that the fixed PKI signs, so that hostile extension values also
 * reach the checker behind a chain that verifies.  Whatever the bytes, the
 * checker must return an answer, never crash or leak.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "profile/profile.h"
#include "testpki/testpki.h"
#include "profile/tnauthlist.h"

/* A fixed validation time keeps runs reproducible. */
#define FUZZ_NOW ((time_t)1750004800)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sks_testpki pki;
static X509_STORE *roots;
static STACK_OF(X509) * chain;
static X509 *template_ee;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sks_error err;
    EVP_PKEY *key = NULL;

    sks_error_clear(&err);
    if (sks_testpki_create(&pki, FUZZ_NOW, 365, &err) != SKS_OK ||
        sks_testpki_trust(&pki, &roots, &chain, &err) != SKS_OK ||
        sks_testpki_keygen(&key, &err) != SKS_OK ||
        sks_testpki_issue(&pki, key, "1234", NULL, &template_ee, &err) != SKS_OK) {
        fprintf(stderr, "fuzz_profile: %s\n", err.msg);
        abort();
    }
    EVP_PKEY_free(key);
    return 0;
}

/* The template SP certificate with |data| as its TNAuthList value, signed by the STI-CA. */
static void check_signed_tnauthlist(const uint8_t *data, size_t size)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    X509 *cert = X509_dup(template_ee);
    struct sks_profile_result res;
    int idx;

    if (oid == NULL || cert == NULL || size > SKS_TNAUTHLIST_DER_MAX)
        goto done;
    idx = X509_get_ext_by_OBJ(cert, oid, -1);
    if (idx < 0 ||
        !ASN1_OCTET_STRING_set(X509_EXTENSION_get_data(X509_get_ext(cert, idx)), data, (int)size) ||
        X509_sign(cert, pki.ca_key, EVP_sha256()) <= 0)
        goto done;
    sks_profile_check(cert, chain, roots, FUZZ_NOW, &res, NULL);
done:
    X509_free(cert);
    ASN1_OBJECT_free(oid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sks_tnauthlist_summary sum;
    struct sks_profile_result res;
    struct sks_error err;
    char spc[SKS_SPC_MAX + 1];
    const unsigned char *p = data;
    X509 *cert;

    sks_tnauthlist_decode(data, size, &sum, &err);
    check_signed_tnauthlist(data, size);
    cert = d2i_X509(NULL, &p, (long)size);
    if (cert != NULL) {
        sks_profile_check(cert, chain, roots, FUZZ_NOW, &res, &err);
        sks_cert_spc(cert, spc, &err);
        X509_free(cert);
    }
    ERR_clear_error();
    return 0;
}
