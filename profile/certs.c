#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "profile/certs.h"

bool sks_asn1_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return false;
    *out = timegm(&tm);
    return true;
}

void sks_time_format(char *out, size_t outsize, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outsize, "(time %lld)", (long long)t);
}

sks_status sks_certs_parse(const unsigned char *data, size_t len, bool der_ok, const char *what,
                           STACK_OF(X509) * *out, struct sks_error *err)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    const unsigned char *p = data;
    BIO *bio = NULL;
    X509 *x;
    sks_status st = SKS_OK;

    if (len > SKS_CERT_FILE_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "%s is too large (%zu bytes; the limit is %d)", what,
                        len, SKS_CERT_FILE_MAX);
    if (certs == NULL || (bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", what);
        goto done;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(certs, x) <= 0) {
            X509_free(x);
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", what);
            goto done;
        }
    }
    if (sk_X509_num(certs) == 0 && der_ok && (x = d2i_X509(NULL, &p, (long)len)) != NULL) {
        if (p != data + len) {
            X509_free(x);
            st = sks_fail(err, SKS_ERR_INPUT,
                          "%s: its DER certificate is %zu bytes and %zu more follow it: trailing "
                          "bytes are refused",
                          what, (size_t)(p - data), len - (size_t)(p - data));
            goto done;
        }
        if (sk_X509_push(certs, x) <= 0)
            X509_free(x);
    }
    if (sk_X509_num(certs) == 0)
        st = sks_fail(err, SKS_ERR_INPUT, "%s holds no %s certificate", what,
                      der_ok ? "PEM or DER" : "PEM");
done:
    /* A parser that ran off the end of the bundle leaves its complaint behind. */
    ERR_clear_error();
    BIO_free(bio);
    if (st != SKS_OK) {
        sk_X509_pop_free(certs, X509_free);
        return st;
    }
    *out = certs;
    return SKS_OK;
}

sks_status sks_certs_store(STACK_OF(X509) * certs, const char *what, X509_STORE **out,
                           struct sks_error *err)
{
    X509_STORE *store = X509_STORE_new();
    int i;

    for (i = 0; store != NULL && i < sk_X509_num(certs); i++) {
        if (X509_STORE_add_cert(store, sk_X509_value(certs, i)) != 1) {
            X509_STORE_free(store);
            return sks_fail(err, SKS_ERR_INPUT,
                            "cannot add certificate %d of %s to the trust store", i + 1, what);
        }
    }
    if (store == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    *out = store;
    return SKS_OK;
}

bool sks_cert_crl_url(X509 *cert, char *out, size_t size)
{
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    bool found = false;
    int i, k;

    for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT_NAME *dpn = sk_DIST_POINT_value(dps, i)->distpoint;

        if (dpn == NULL || dpn->type != 0) /* 0: fullName; 1, a name relative to the issuer */
            continue;
        for (k = 0; !found && k < sk_GENERAL_NAME_num(dpn->name.fullname); k++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dpn->name.fullname, k);
            const ASN1_IA5STRING *uri =
                gn->type == GEN_URI ? gn->d.uniformResourceIdentifier : NULL;

            if (uri != NULL && uri->length > 8 && (size_t)uri->length < size &&
                strncmp((const char *)uri->data, "https://", 8) == 0 &&
                memchr(uri->data, '\0', (size_t)uri->length) == NULL) {
                memcpy(out, uri->data, (size_t)uri->length);
                out[uri->length] = '\0';
                found = true;
            }
        }
    }
    CRL_DIST_POINTS_free(dps);
    ERR_clear_error();
    return found;
}
