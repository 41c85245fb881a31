/*
 * Key-reference files: a PEM file that names a token key by its pkcs11: URI,
 * in pkcs11-provider's format so that files are interchangeable:
 *
 *   -----BEGIN PKCS#11 PROVIDER URI-----
 *   DER of SEQUENCE { desc VisibleString "PKCS#11 Provider URI v1.0",
 *                     uri  UTF8String }
 *
 * A key-reference file never holds a PIN.
 */
#ifndef SKS_COMMON_KEYREF_H
#define SKS_COMMON_KEYREF_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/bio.h>

#include "common/error.h"

#define KEYREF_PEM_NAME "PKCS#11 PROVIDER URI"
#define KEYREF_DESC "PKCS#11 Provider URI v1.0"
/* Longer URIs are refused: a hostile file must not make us allocate freely. */
#define KEYREF_URI_MAX 4096

/* Writes the PEM for |uri| to |out|.  URIs carrying pin-value are refused. */
sks_status keyref_write(BIO *out, const char *uri, struct sks_error *err);
/* True when |der| is a key reference by its description, however broken the rest. */
bool keyref_is_keyref(const unsigned char *der, size_t len);
/* Decodes the DER body; *uri is a NUL-terminated copy (OPENSSL_free it). */
sks_status keyref_decode(const unsigned char *der, size_t len, char **uri, struct sks_error *err);

#endif
