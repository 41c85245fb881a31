#include "config.h"

#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "common/keyref.h"

typedef struct {
    ASN1_VISIBLESTRING *desc;
    ASN1_UTF8STRING *uri;
} KEYREF;

ASN1_SEQUENCE(KEYREF) =
    {
        ASN1_SIMPLE(KEYREF, desc, ASN1_VISIBLESTRING),
        ASN1_SIMPLE(KEYREF, uri, ASN1_UTF8STRING),
} static_ASN1_SEQUENCE_END(KEYREF)

        IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(KEYREF) IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(KEYREF)

            sks_status keyref_write(BIO * out, const char *uri, struct sks_error *err)
{
    KEYREF *ref = KEYREF_new();
    unsigned char *der = NULL;
    int len;
    sks_status st = SKS_OK;

    /* Checked first: no message below may quote a URI that holds a PIN. */
    if (strcasestr(uri, "pin-value=") != NULL)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "the URI carries pin-value; a key-reference file never holds a PIN");
    else if (strncmp(uri, "pkcs11:", 7) != 0)
        st = sks_fail(err, SKS_ERR_INPUT, "\"%.64s\" is not a pkcs11: URI", uri);
    else if (strlen(uri) > KEYREF_URI_MAX)
        st = sks_fail(err, SKS_ERR_INPUT, "the URI is longer than %d bytes", KEYREF_URI_MAX);
    if (st != SKS_OK)
        goto done;
    if (ref == NULL || !ASN1_STRING_set(ref->desc, KEYREF_DESC, -1) ||
        !ASN1_STRING_set(ref->uri, uri, -1) || (len = i2d_KEYREF(ref, &der)) <= 0) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot encode the key reference");
        goto done;
    }
    if (PEM_write_bio(out, KEYREF_PEM_NAME, "", der, len) <= 0)
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot write the key reference");
done:
    OPENSSL_free(der);
    KEYREF_free(ref);
    return st;
}

bool keyref_is_keyref(const unsigned char *der, size_t len)
{
    /* SEQUENCE, then VisibleString (tag 0x1a) holding the description. */
    size_t dlen = strlen(KEYREF_DESC), off;

    if (len < 4 || der[0] != 0x30)
        return false;
    off = der[1] < 0x80 ? 2 : 2 + (der[1] & 0x7f);
    return off + 2 + dlen <= len && der[off] == 0x1a && der[off + 1] == dlen &&
           memcmp(der + off + 2, KEYREF_DESC, dlen) == 0;
}

sks_status keyref_decode(const unsigned char *der, size_t len, char **uri, struct sks_error *err)
{
    const unsigned char *p = der;
    KEYREF *ref = d2i_KEYREF(NULL, &p, (long)len);
    sks_status st = SKS_OK;

    if (ref == NULL || p != der + len) {
        st = sks_fail(err, SKS_ERR_INPUT, "malformed key-reference file: bad DER");
    } else if (ASN1_STRING_length(ref->desc) != (int)strlen(KEYREF_DESC) ||
               memcmp(ASN1_STRING_get0_data(ref->desc), KEYREF_DESC, strlen(KEYREF_DESC)) != 0) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "malformed key-reference file: the description is not \"%s\"", KEYREF_DESC);
    } else if (ASN1_STRING_length(ref->uri) < 8 || ASN1_STRING_length(ref->uri) > KEYREF_URI_MAX ||
               memchr(ASN1_STRING_get0_data(ref->uri), '\0', ASN1_STRING_length(ref->uri)) ||
               memcmp(ASN1_STRING_get0_data(ref->uri), "pkcs11:", 7) != 0) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "malformed key-reference file: the URI is not a pkcs11: URI");
    } else if ((*uri = OPENSSL_strndup((const char *)ASN1_STRING_get0_data(ref->uri),
                                       ASN1_STRING_length(ref->uri))) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    KEYREF_free(ref);
    return st;
}
