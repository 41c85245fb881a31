/*
 * keyref_sign KEYREF.pem MESSAGE SIG.der
 *
 * Does what an application that only knows PEM keys does (Asterisk's
 * res_stir_shaken, libstirshaken): reads the key file into memory, parses it
 * with PEM_read_bio_PrivateKey on a memory BIO and signs MESSAGE with
 * EVP_DigestSign (SHA-256).  With a key-reference PEM and the sks provider
 * activated from openssl.cnf, the key is the token's; the caller verifies
 * SIG.der with the token's public key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "tests/interop/interop.h"

int main(int argc, char **argv)
{
    unsigned char *pem, *msg, sig[INTEROP_DER_SIG_MAX];
    size_t pem_len, msg_len, sig_len;
    EVP_PKEY *key;
    BIO *bio;

    interop_prog = "keyref_sign";
    if (argc != 4) {
        fprintf(stderr, "usage: keyref_sign KEYREF.pem MESSAGE SIG.der\n");
        return 2;
    }
    pem = interop_read_file(argv[1], &pem_len);
    msg = interop_read_file(argv[2], &msg_len);

    bio = BIO_new_mem_buf(pem, (int)pem_len);
    if (bio == NULL)
        interop_die("out of memory");
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL)
        interop_die("PEM_read_bio_PrivateKey could not load %s", argv[1]);
    if (!EVP_PKEY_is_a(key, "EC"))
        interop_die("%s did not load as an EC key", argv[1]);

    sig_len = interop_sign(key, msg, msg_len, sig);
    if (sig_len == 0)
        interop_die("EVP_DigestSign with the key from %s failed", argv[1]);
    interop_write_file(argv[3], sig, sig_len);

    EVP_PKEY_free(key);
    free(msg);
    free(pem);
    return 0;
}
