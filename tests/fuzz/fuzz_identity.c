/*
 * libFuzzer target: the Identity header parser and verifier, and the
 * verification of a call's several values (the input's lines).
 *
 * The key is the RFC 8225 A.1 public key and the clock stands at the iat of
 * the vectors, so inputs derived from the seed corpus (tests/vectors) reach
 * the signature check rather than stopping at the freshness check.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "verify/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char a1_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFn2o9R1BE6aDQqzrafSgPKNFe/SL\n"
    "lgESrfQtXBT5MndxQT+EnojWcUIQ6w9LXQR5bN/8BXvPvithaz8kBfb7oQ==\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY *a1_public(void)
{
    static EVP_PKEY *key;
    BIO *bio;

    if (key != NULL)
        return key;
    bio = BIO_new_mem_buf(a1_public_pem, -1);
    key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL)
        abort();
    return key;
}

/* The input's lines as the Identity values of one call: whatever they are, the set is judged. */
static void verify_lines(const char *data, size_t size)
{
    static struct sks_verify_set set;
    struct sks_identity_value v[SKS_VERIFY_IDENTITIES_MAX];
    struct sks_verify_opts opts;
    struct sks_error err;
    size_t n = 0, i = 0, start;

    while (i < size) {
        for (start = i; i < size && data[i] != '\n'; i++)
            ;
        if (n < SKS_VERIFY_IDENTITIES_MAX)
            v[n] = (struct sks_identity_value){data + start, i - start};
        n++;
        i++;
    }
    sks_verify_opts_init(&opts);
    opts.pubkey = a1_public();
    opts.now = 1443208345;
    sks_error_clear(&err);
    if (sks_identities_verify(v, n, &opts, &set, &err) == SKS_OK) {
        if (set.res.sip_code != SKS_SIP_OK || set.at_fault != SKS_VERIFY_NO_VALUE ||
            set.nlinks >= n)
            abort();
    } else if (set.res.sip_code == SKS_SIP_OK || err.msg[0] == '\0' ||
               (set.at_fault != SKS_VERIFY_NO_VALUE && set.at_fault > n)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sks_verify_result res;
    struct sks_verify_opts opts;
    struct sks_error err;

    sks_verify_opts_init(&opts);
    opts.pubkey = a1_public();
    opts.now = 1443208345;
    sks_error_clear(&err);
    /* The input is not NUL-terminated: the parser must honour |size|. */
    if (sks_identity_verify((const char *)data, size, &opts, &res, &err) == SKS_OK) {
        if (res.sip_code != SKS_SIP_OK || res.passport.orig[0] == '\0')
            abort();
    } else if (res.sip_code == SKS_SIP_OK || err.msg[0] == '\0') {
        abort();
    }
    if (memchr(data, '\n', size) != NULL)
        verify_lines((const char *)data, size);
    return 0;
}
