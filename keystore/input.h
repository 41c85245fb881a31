/*
 * What an import is given, read and decoded before the key store sees it:
 * key files (PEM or DER, PKCS#8 plain or encrypted, or SEC1), certificate
 * files, wrapped-key blobs and passphrase files.  sksctl and the fuzzers
 * read their inputs through these functions, so that what one refuses the
 * other refuses too.
 *
 * Every file is opened without blocking and must be a regular file: a FIFO
 * or a device named by mistake is refused at once instead of blocking the
 * command forever.  It is read up to a size limit, never further.
 */
#ifndef SKS_KEYSTORE_INPUT_H
#define SKS_KEYSTORE_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "common/file.h"

/* Keys, certificates and blobs are small; anything larger is a mistake or an attack. */
#define SKS_INPUT_MAX (1024 * 1024)
#define SKS_PASSPHRASE_MAX 1024
/*
 * Encrypted PKCS#8 keys: the key derivation an input asks for runs before
 * its passphrase can be known to be right, so its cost is bounded first.
 * PBKDF2 at 10,000,000 iterations takes seconds; 2^31 would take minutes.
 * scrypt: at most 32 MiB, the most OpenSSL's PKCS#8 decryption allocates
 * (128 * r * (N + 2 + p) bytes), and p at most 16.
 */
#define SKS_PBKDF2_ITER_MAX 10000000L
#define SKS_SCRYPT_MEM_MAX (32ULL * 1024 * 1024)
#define SKS_SCRYPT_P_MAX 16

/* sks_file_read() of at most SKS_INPUT_MAX bytes; an empty file is refused; |what|: "--key". */
sks_status sks_input_file(const char *what, const char *path, unsigned char **data, size_t *len,
                          struct sks_error *err);

/*
 * Every certificate of a PEM file in order, or the one of a DER file (which
 * must hold nothing after it): the one certificate reader of --cert and
 * --chain.
 */
sks_status sks_input_certs(const char *what, const char *path, STACK_OF(X509) * *out,
                           struct sks_error *err);
struct sks_credentials;
/*
 * What comes with a key: the certificate file |cert| (--cert: PEM or DER;
 * a PEM file's further certificates are the chain when |chain| is NULL),
 * the intermediates of |chain| (--chain) and |x5u|, which *c points to.
 * Free with sks_credentials_free().
 */
sks_status sks_input_credentials(const char *cert, const char *chain, const char *x5u,
                                 struct sks_credentials *c, struct sks_error *err);
void sks_credentials_free(struct sks_credentials *c);
/* A public key file, PEM or DER (--wrapping-key). */
sks_status sks_input_public_key(const char *what, const char *path, EVP_PKEY **out,
                                struct sks_error *err);
/* A passphrase file: its first line, not empty, without the newline; OPENSSL_clear_free it. */
sks_status sks_input_passphrase(const char *path, char **pass, struct sks_error *err);

/*
 * Files a command reads to check or sign, not to import: at most
 * SKS_CERT_FILE_MAX bytes each (a request SKS_CSR_FILE_MAX), with
 * sks_file_read()'s messages.
 */
#define SKS_CSR_FILE_MAX (64 * 1024)
/* Every certificate in a PEM file (or, when |der_ok|, a single DER one). */
sks_status sks_certs_load(const char *path, bool der_ok, STACK_OF(X509) * *out,
                          struct sks_error *err);
/*
 * The STI-PA trust anchors: a trust store of every certificate in the PEM
 * file |path|, each a CA certificate, at most SKS_ROOTS_MAX of them.
 */
#define SKS_ROOTS_MAX 1000
sks_status sks_roots_load(const char *path, X509_STORE **out, struct sks_error *err);
/* A PEM public key. */
sks_status sks_pubkey_load(const char *path, EVP_PKEY **out, struct sks_error *err);
/* A PEM or DER certificate request; its signature is not checked here. */
sks_status sks_csr_load(const char *path, X509_REQ **out, struct sks_error *err);

/*
 * A private key to sign with, named by |spec|: a pkcs11: URI, a
 * key-reference PEM file or a plain PEM/DER key file, through OSSL_STORE.
 * Token keys come from the sks provider, loaded on first use: the one an
 * openssl.cnf or OPENSSL_MODULES names, else the one built next to the
 * program (provider/.libs), else the one in the modules directory.  A
 * failure gives the provider's own reason where it has one.
 */
sks_status sks_key_load(const char *spec, EVP_PKEY **out, struct sks_error *err);

/*
 * A private key from the file |path|: PEM or DER, PKCS#8 plain or encrypted
 * (PBES2), or SEC1.  The passphrase comes from |pass_file|, else from a
 * prompt on the terminal, never from argv.  The file's bytes are cleansed
 * before return.
 */
sks_status sks_input_key(const char *path, const char *pass_file, EVP_PKEY **out,
                         struct sks_error *err);
/*
 * The same for the bytes of a key file, |name| naming it in messages.
 * |pass| NULL: ask on the terminal, or refuse an encrypted key without one.
 * Refused before any decoding, each with a message that names the fault:
 * - PEM: more than one PEM block, or anything but white space after the
 *   block (text before it is taken, as RFC 7468 5.2 allows);
 * - DER (the file's, or the PEM block's): bytes after the key;
 * - EC keys naming a curve other than P-256, or whose stored public key is
 *   not a point on the curve;
 * - encrypted PKCS#8 that is not PBES2, whose cipher or key derivation
 *   function this OpenSSL does not know, with a PBKDF2 iteration count
 *   outside 1..SKS_PBKDF2_ITER_MAX, or scrypt parameters over the limits.
 */
sks_status sks_key_decode(const unsigned char *data, size_t len, const char *name, const char *pass,
                          EVP_PKEY **out, struct sks_error *err);

#endif
