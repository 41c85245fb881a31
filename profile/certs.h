/* Certificate bundles: what a PEM (or single DER) certificate file holds. */
#ifndef SKS_CERTS_H
#define SKS_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/error.h"

/* A certificate file larger than this is refused, not read. */
#define SKS_CERT_FILE_MAX (1024 * 1024)

/* |t| as seconds since 1970 in |*out|; false when it does not decode. */
bool sks_asn1_time(const ASN1_TIME *t, time_t *out);
/* |t| in |out| as a UTC time for messages: "2025-06-15T16:26:40Z". */
void sks_time_format(char *out, size_t outsize, time_t t);

/*
 * Every certificate of |data|, in order: any number of PEM certificates or,
 * when |der_ok|, a single DER one.  At least one is required; |what| names
 * the input in messages ("--chain chain.pem").
 */
sks_status sks_certs_parse(const unsigned char *data, size_t len, bool der_ok, const char *what,
                           STACK_OF(X509) * *out, struct sks_error *err);
/* A trust store holding every certificate of |certs|. */
sks_status sks_certs_store(STACK_OF(X509) * certs, const char *what, X509_STORE **out,
                           struct sks_error *err);

/*
 * The first https URI among |cert|'s CRL distribution points (a fullName),
 * in |out| of |size| bytes; false when it names none that fits.
 */
bool sks_cert_crl_url(X509 *cert, char *out, size_t size);

#endif
