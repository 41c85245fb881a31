/*
 * libFuzzer target: software keys as `sksctl import --key` takes them, PEM or
 * DER, PKCS#8 (plain or encrypted with a passphrase) or SEC1, through the
 * same two steps:
 *
 *   1. sks_input_key() of keystore/input.c, sksctl's loader (its
 *      structure checks, then OpenSSL's decoders with the passphrase from a
 *      file).  The input goes through a memfd, because the loader reads a
 *      file by name.
 *   2. sks_keystore_import_key(), whose key checks (P-256, 1 <= d < n, the
 *      certificate's public key) run before anything touches the token.
 *      The key store here has no token: the import is called without an
 *      x5u (and once without a certificate), so that it stops at the first
 *      check after the key's and never reaches a PKCS#11 call.
 *
 * The certificate is issued at start-up for the RFC 8225 A.1 key, which the
 * seed corpus (tests/fuzz/corpus/pkcs8) holds in every form; its encrypted
 * forms use the passphrase below.  A key that passes every key check must
 * be that key: the same private value, not only the same public half.
 */
#include "config.h" /* _GNU_SOURCE: memfd_create */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keystore/input.h"
#include "keystore/internal.h"
#include "testpki/testpki.h"
#include "tests/fuzz/fuzz_a1_key.h"

#define FUZZ_NOW ((time_t)1750004800)
#define PASSPHRASE "fuzz-pkcs8 passphrase"
/*
 * PBKDF2 runs as many rounds as the file asks: an input asking for millions
 * would spend the fuzzing time in one execution.  Inputs above this many are
 * skipped, which leaves every parsing path reachable.
 */
#define ITERATIONS_MAX 10000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    int key_fd, pass_fd;
    char key_path[64], pass_path[64];
    BIGNUM *a1_d;
    X509 *a1_cert;
    struct sks_keystore ks;
} fz;

static void die(const char *what, const struct sks_error *err)
{
    fprintf(stderr, "fuzz_pkcs8: %s%s%s\n", what, err != NULL ? ": " : "",
            err != NULL ? err->msg : "");
    abort();
}

static int memfd_path(const char *name, char path[64])
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0)
        die("memfd_create failed", NULL);
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

static void set_file(int fd, const void *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
        die("cannot write the memfd", NULL);
}

/* A key store without a token: enough for the checks an import makes first. */
static void keystore_without_token(void)
{
    sks_keystore_config_init(&fz.ks.cfg);
    pthread_mutex_init(&fz.ks.lock, NULL);
    pthread_mutex_init(&fz.ks.index_lock, NULL);
    fz.ks.lock_fd = memfd_create("fuzz_pkcs8.lock", MFD_CLOEXEC);
    if (fz.ks.lock_fd < 0)
        die("memfd_create failed", NULL);
    snprintf(fz.ks.lock_path, sizeof(fz.ks.lock_path), "(memfd)");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sks_testpki pki;
    struct sks_error err;
    EVP_PKEY *a1 = fuzz_a1_private_key();

    (void)argc;
    (void)argv;
    if (EVP_PKEY_get_bn_param(a1, OSSL_PKEY_PARAM_PRIV_KEY, &fz.a1_d) != 1)
        die("cannot read the RFC 8225 A.1 key", NULL);
    if (sks_testpki_create(&pki, FUZZ_NOW, 365, &err) != SKS_OK ||
        sks_testpki_issue(&pki, a1, "1234", NULL, &fz.a1_cert, &err) != SKS_OK)
        die("cannot issue the test certificate", &err);
    sks_testpki_cleanup(&pki);
    EVP_PKEY_free(a1);
    fz.key_fd = memfd_path("fuzz_pkcs8.key", fz.key_path);
    fz.pass_fd = memfd_path("fuzz_pkcs8.pass", fz.pass_path);
    set_file(fz.pass_fd, PASSPHRASE "\n", strlen(PASSPHRASE) + 1);
    keystore_without_token();
    return 0;
}

/* The PBKDF2 or PKCS#12 PBE iteration count of an EncryptedPrivateKeyInfo; 0 when none. */
static long iterations(const X509_ALGOR *alg)
{
    PBE2PARAM *pbe2 = NULL;
    PBKDF2PARAM *kdf = NULL;
    PBEPARAM *pbe = NULL;
    long iter = 0;

    if (OBJ_obj2nid(alg->algorithm) == NID_pbes2) {
        pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        if (pbe2 != NULL && OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2)
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
        if (kdf != NULL)
            iter = ASN1_INTEGER_get(kdf->iter);
    } else {
        pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
        if (pbe != NULL)
            iter = ASN1_INTEGER_get(pbe->iter);
    }
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    PBEPARAM_free(pbe);
    return iter;
}

/* True when some EncryptedPrivateKeyInfo in the input (DER or any PEM block) asks for too much. */
static bool too_costly(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)size);
    const X509_ALGOR *alg;
    bool costly = false;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len;
    BIO *bio;

    if (sig != NULL) {
        X509_SIG_get0(sig, &alg, NULL);
        costly = iterations(alg) < 0 || iterations(alg) > ITERATIONS_MAX;
        X509_SIG_free(sig);
    }
    bio = BIO_new_mem_buf(data, (int)size);
    while (!costly && bio != NULL && PEM_read_bio(bio, &name, &header, &der, &len)) {
        p = der;
        sig = d2i_X509_SIG(NULL, &p, len);
        if (sig != NULL) {
            X509_SIG_get0(sig, &alg, NULL);
            costly = iterations(alg) < 0 || iterations(alg) > ITERATIONS_MAX;
            X509_SIG_free(sig);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
    }
    BIO_free(bio);
    ERR_clear_error();
    return costly;
}

/* The key passed every key check: it must be the A.1 key itself. */
static void check_accepted(EVP_PKEY *key)
{
    BIGNUM *d = NULL;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 || BN_cmp(d, fz.a1_d) != 0) {
        fprintf(stderr, "fuzz_pkcs8: the key store took a key whose private value is not the "
                        "certificate's key\n");
        abort();
    }
    BN_clear_free(d);
}

/* The import stops at the first check after the key's; which one says how far it got. */
static void check_import(EVP_PKEY *key)
{
    struct sks_credentials cred = {.cert = fz.a1_cert};
    struct sks_error err;
    unsigned int version = 0;

    sks_error_clear(&err);
    if (sks_keystore_import_key(&fz.ks, "sp-fuzz", key, NULL, &version, &err) == SKS_OK)
        die("an import without a certificate succeeded", NULL);
    if (strncmp(err.msg, "no certificate given", 20) != 0 && strncmp(err.msg, "key-", 4) != 0)
        die("unexpected refusal of a key", &err);
    sks_error_clear(&err);
    if (sks_keystore_import_key(&fz.ks, "sp-fuzz", key, &cred, &version, &err) == SKS_OK)
        die("an import without an x5u succeeded", NULL);
    /* sks_x5u_check's refusals all name the field x5u: the key checks passed. */
    if (strcmp(err.field, "x5u") == 0)
        check_accepted(key);
    else if (strncmp(err.msg, "key-", 4) != 0)
        die("unexpected refusal of a key", &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sks_error err;
    EVP_PKEY *key = NULL;

    if (size > SKS_INPUT_MAX || too_costly(data, size))
        return 0;
    set_file(fz.key_fd, data, size);
    sks_error_clear(&err);
    if (sks_input_key(fz.key_path, fz.pass_path, &key, &err) == SKS_OK) {
        check_import(key);
        EVP_PKEY_free(key);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    ERR_clear_error();
    return 0;
}
