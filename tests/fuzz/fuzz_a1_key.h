/*
 * The RFC 8225 A.1 test key pair, for fuzz targets that sign or check a key
 * against a certificate: a published key, so it protects nothing, and the
 * key of the vectors in tests/vectors.
 */
#ifndef SKS_TESTS_FUZZ_A1_KEY_H
#define SKS_TESTS_FUZZ_A1_KEY_H

#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char fuzz_a1_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgi7q2TZvN9VDFg8Vy\n"
    "qCP06bETrR2v8MRvr89rn4i+UAahRANCAAQWfaj1HUETpoNCrOtp9KA8o0V79IuW\n"
    "ARKt9C1cFPkyd3FBP4SeiNZxQhDrD0tdBHls3/wFe8++K2FrPyQF9vuh\n"
    "-----END PRIVATE KEY-----\n";

/* The private key; aborts when it does not load, as nothing could be fuzzed. */
static inline EVP_PKEY *fuzz_a1_private_key(void)
{
    BIO *bio = BIO_new_mem_buf(fuzz_a1_private_pem, -1);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (key == NULL)
        abort();
    return key;
}

#endif
