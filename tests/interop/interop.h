/*
 * What the interop test programs share: loading a token key the way an
 * application does (OSSL_STORE on a pkcs11: URI, or a key-reference PEM),
 * signing with EVP_DigestSign, and checking every signature in software with
 * the default provider alone, so that a wrong token signature cannot be
 * "verified" by the code that made it.
 *
 * The programs are test drivers: on failure they print what failed and
 * OpenSSL's error queue, and exit 1.
 */
#ifndef SKS_TESTS_INTEROP_H
#define SKS_TESTS_INTEROP_H

#include <stddef.h>

#include <openssl/evp.h>

/* DER ECDSA-Sig-Value for P-256: SEQUENCE of two INTEGERs of up to 33 bytes. */
#define INTEROP_DER_SIG_MAX 72

/* Set from argv[0] by each program's main(); prefixes every message. */
extern const char *interop_prog;

/* Prints "PROG: message", then OpenSSL's error queue, and exits 1. */
void interop_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Prints "PROG: message" and OpenSSL's error queue; for use in threads. */
void interop_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * How a benchmark run with no arguments starts its script: runs
 * $top_srcdir/|script| with /bin/sh, this program's absolute path (from
 * |self|, argv[0]) in the environment variable |env|, so that the script can
 * call it back.  Does not return.
 */
void interop_run_script(const char *self, const char *script, const char *env)
    __attribute__((noreturn));

/* A decimal count from 1 to |max| given on the command line; dies otherwise. */
long interop_parse_count(const char *s, long max, const char *what);

/* Reads a whole file of at most 1 MiB; dies on failure.  NUL-terminated. */
unsigned char *interop_read_file(const char *path, size_t *len);
void interop_write_file(const char *path, const unsigned char *data, size_t len);

/*
 * A pkcs11: URI: the first private key (or, when there is none, public key)
 * that OSSL_STORE finds there.  Anything else is a PEM file (a key-reference
 * PEM) for OSSL_DECODER.  Dies if there is no key.
 */
EVP_PKEY *interop_load_key(const char *spec);
/* A SubjectPublicKeyInfo PEM file, decoded by the default provider. */
EVP_PKEY *interop_load_soft_pubkey(const char *path);

/*
 * ES256 over |msg| with EVP_DigestSign on a fresh EVP_MD_CTX, as a SIP stack
 * does per call.  Returns the DER signature length, 0 on failure (the error
 * queue says why).
 */
size_t interop_sign(EVP_PKEY *key, const unsigned char *msg, size_t len,
                    unsigned char sig[INTEROP_DER_SIG_MAX]);
/* 1 when |sig| (DER) is a valid ES256 signature over |msg| by |pub|. */
int interop_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len, const unsigned char *sig,
                   size_t siglen);

/*
 * The baseline of a verifier's figures: raw OpenSSL ES256 verifications per
 * second (interop_verify, a fresh context each, over a 200-byte message,
 * the size of a PASSporT signing input) from |threads| threads for
 * |seconds|.
 */
double interop_raw_verify_rate(unsigned int threads, double seconds);

#endif
