/*
 * ACME Renewal Information (RFC 9773): the window in which the server
 * suggests that a certificate be renewed, asked of its renewalInfo
 * resource by the certificate's certID with an unauthenticated GET.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "acme/internal.h"
#include "shaken/b64url.h"

sks_status acme_ari_cert_id(X509 *cert, char **out, struct sks_error *err)
{
    /* Read from the extension itself: the cached accessor needs a complete, hashable certificate.
     */
    AUTHORITY_KEYID *akid = X509_get_ext_d2i(cert, NID_authority_key_identifier, NULL, NULL);
    const ASN1_OCTET_STRING *aki = akid != NULL ? akid->keyid : NULL;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    sks_status st = SKS_OK;
    unsigned char *der = NULL;
    int n;
    size_t len;

    *out = NULL;
    /* RFC 9773 4.1: the serial's DER encoding without tag and length (its content octets). */
    if (aki == NULL || (n = i2d_ASN1_INTEGER(serial, &der)) <= 2 || der[1] >= 0x80) {
        st = sks_fail_field(err, SKS_ERR_INPUT, "acme-ari", "acme",
                            "the certificate has no authority key identifier or serial for "
                            "its renewal information (RFC 9773 certID)");
        goto done;
    }
    len = b64url_encoded_len((size_t)aki->length) + 1 + b64url_encoded_len((size_t)n - 2) + 1;
    if ((*out = malloc(len)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    len = b64url_encode(aki->data, (size_t)aki->length, *out);
    (*out)[len++] = '.';
    b64url_encode(der + 2, (size_t)n - 2, *out + len);
done:
    OPENSSL_free(der);
    AUTHORITY_KEYID_free(akid);
    return st;
}

/* An RFC 3339 UTC time ("2026-12-04T00:00:00Z", fractions of seconds allowed). */
static bool parse_time(const char *s, time_t *out)
{
    struct tm tm = {0};
    int used = 0;
    const char *rest;

    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6)
        return false;
    rest = s + used;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "z") != 0)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return *out != (time_t)-1;
}

sks_status acme_renewal_info(struct acme_client *c, X509 *cert, bool *offered, time_t *start,
                             time_t *end, struct sks_error *err)
{
    const char *base = json_string_value(json_object_get(c->dir, "renewalInfo"));
    const json_t *w;
    struct sks_fetched f = {0};
    char *id = NULL, *url = NULL;
    json_t *o = NULL;
    size_t n;
    sks_status st;

    *offered = base != NULL;
    if (base == NULL)
        return SKS_OK;
    if ((st = acme_ari_cert_id(cert, &id, err)) != SKS_OK)
        return st;
    n = strlen(base) + strlen(id) + 2;
    if ((url = malloc(n)) == NULL) {
        free(id);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    /* RFC 9773 4.2: the resource is the renewalInfo URL, a slash, the certID. */
    snprintf(url, n, "%s%s%s", base, base[0] != '\0' && base[strlen(base) - 1] == '/' ? "" : "/",
             id);
    st = sks_fetch(&c->fetch, url, &f, err);
    if (st == SKS_OK) {
        o = json_loadb((const char *)f.data, f.len, 0, NULL);
        w = json_object_get(o, "suggestedWindow");
        if (!parse_time(json_string_value(json_object_get(w, "start")), start) ||
            !parse_time(json_string_value(json_object_get(w, "end")), end) || *end < *start)
            st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                                "ACME server: the renewal information %s has no suggestedWindow "
                                "with a start and a later end (RFC 9773 4.2)",
                                url);
    } else {
        sks_error_prefix(err, "ACME renewal information");
    }
    json_decref(o);
    sks_fetched_clear(&f);
    free(url);
    free(id);
    return st;
}
