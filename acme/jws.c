/*
 * JWS for ACME (RFC 7515 flattened JSON serialization, RFC 8555 6.2):
 * ES256 signed in the token, and the HS256 of an External Account Binding.
 * The signature is r || s (RFC 7518 3.4), which is what CKM_ECDSA gives.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "acme/internal.h"
#include "shaken/b64url.h"

/* base64url of |len| bytes, malloc'd; NULL when out of memory. */
static char *b64(const void *in, size_t len)
{
    char *out = malloc(b64url_encoded_len(len) + 1);

    if (out != NULL)
        b64url_encode(in, len, out);
    return out;
}

sks_status acme_p256_jwk_json(const unsigned char *pt, size_t len, char **out,
                              struct sks_error *err)
{
    char x[48], y[48];
    int n;

    *out = NULL;
    if (pt == NULL || len != SKS_P256_POINT_LEN || pt[0] != 0x04)
        return sks_fail(err, SKS_ERR_INPUT, "not an uncompressed P-256 point");
    b64url_encode(pt + 1, 32, x);
    b64url_encode(pt + 33, 32, y);
    /* RFC 7638 3.2: the required members only, in lexicographic order, no whitespace. */
    n = asprintf(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (n < 0) {
        *out = NULL;
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    return SKS_OK;
}

sks_status acme_jwk_json(struct p11_key *key, char **out, struct sks_error *err)
{
    size_t len = 0;
    const unsigned char *pt = p11_key_public(key, &len);

    if (pt == NULL || len != SKS_P256_POINT_LEN || pt[0] != 0x04) {
        *out = NULL;
        return sks_fail(err, SKS_ERR_INPUT, "the account key %s is not a P-256 key",
                        p11_key_uri(key));
    }
    return acme_p256_jwk_json(pt, len, out, err);
}

sks_status acme_jwk_thumbprint(struct p11_key *key, char out[ACME_THUMBPRINT_LEN + 1],
                               struct sks_error *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *jwk = NULL;
    sks_status st = acme_jwk_json(key, &jwk, err);

    if (st != SKS_OK)
        return st;
    SHA256((const unsigned char *)jwk, strlen(jwk), digest);
    b64url_encode(digest, sizeof(digest), out);
    free(jwk);
    return SKS_OK;
}

/* {"protected":..,"payload":..,"signature":..} from the three encoded parts. */
static sks_status flattened(const char *prot, const char *payload, const char *sig, char **out,
                            struct sks_error *err)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", payload, "signature", sig);

    *out = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out != NULL ? SKS_OK : sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
}

sks_status acme_jws_es256(struct p11_key *key, const char *kid, const char *nonce, const char *url,
                          const char *payload, char **out, struct sks_error *err)
{
    unsigned char digest[SHA256_DIGEST_LENGTH], sig[P11_ES256_SIG_LEN];
    char *jwk = NULL, *hdr = NULL, *prot = NULL, *pay = NULL, *input = NULL, *sig64 = NULL;
    json_t *h = NULL, *jwk_obj = NULL;
    sks_status st = SKS_OK;

    *out = NULL;
    h = json_pack("{s:s, s:s}", "alg", "ES256", "url", url);
    if (h != NULL && nonce != NULL)
        json_object_set_new(h, "nonce", json_string(nonce));
    if (h != NULL && kid != NULL) {
        json_object_set_new(h, "kid", json_string(kid));
    } else if (h != NULL) {
        if ((st = acme_jwk_json(key, &jwk, err)) != SKS_OK)
            goto done;
        jwk_obj = json_loads(jwk, 0, NULL);
        json_object_set(h, "jwk", jwk_obj);
    }
    if (h == NULL || (hdr = json_dumps(h, JSON_COMPACT)) == NULL ||
        (prot = b64(hdr, strlen(hdr))) == NULL ||
        (pay = payload != NULL ? b64(payload, strlen(payload)) : strdup("")) == NULL ||
        asprintf(&input, "%s.%s", prot, pay) < 0) {
        input = NULL;
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    SHA256((const unsigned char *)input, strlen(input), digest);
    st = p11_key_sign_digest(key, digest, sizeof(digest), sig, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "signing the ACME request to %s", url);
        goto done;
    }
    if ((sig64 = b64(sig, sizeof(sig))) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    st = flattened(prot, pay, sig64, out, err);
done:
    json_decref(h);
    json_decref(jwk_obj);
    free(jwk);
    free(hdr);
    free(prot);
    free(pay);
    free(input);
    free(sig64);
    return st;
}

sks_status acme_jws_eab(const struct acme_eab *eab, const char *url, const char *jwk, json_t **out,
                        struct sks_error *err)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *hdr = NULL, *prot = NULL, *pay = NULL, *input = NULL, *mac64 = NULL, *jws = NULL;
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", eab->kid, "url", url);
    sks_status st = SKS_OK;

    *out = NULL;
    if (h == NULL || (hdr = json_dumps(h, JSON_COMPACT)) == NULL ||
        (prot = b64(hdr, strlen(hdr))) == NULL || (pay = b64(jwk, strlen(jwk))) == NULL ||
        asprintf(&input, "%s.%s", prot, pay) < 0) {
        input = NULL;
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    if (HMAC(EVP_sha256(), eab->hmac_key, (int)eab->hmac_len, (const unsigned char *)input,
             strlen(input), mac, &maclen) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot compute the HS256 of the account binding");
        goto done;
    }
    if ((mac64 = b64(mac, maclen)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    st = flattened(prot, pay, mac64, &jws, err);
    if (st == SKS_OK && (*out = json_loads(jws, 0, NULL)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
done:
    OPENSSL_cleanse(mac, sizeof(mac));
    json_decref(h);
    free(hdr);
    free(prot);
    free(pay);
    free(input);
    free(mac64);
    free(jws);
    return st;
}
