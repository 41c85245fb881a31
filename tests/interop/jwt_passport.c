/*
 * jwt_passport KEYREF.pem PUB.pem TOKEN.out
 *
 * Signs a SHAKEN PASSporT (RFC 8225, RFC 8588) the way Asterisk 18-20 and
 * libstirshaken do with libjwt 1.10: the private key is handed to
 * jwt_set_alg(JWT_ALG_ES256) as PEM bytes -- here a key-reference PEM, so
 * libjwt's PEM_read_bio_PrivateKey lands on the token key through the sks
 * provider activated from openssl.cnf.  The compact token is written to
 * TOKEN.out, then checked twice with PUB.pem: by libjwt's jwt_decode and by
 * re-encoding the JWS r || s signature (RFC 7518 3.4) as DER for the default
 * provider.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/ec.h>

#include "shaken/b64url.h"
#include "tests/interop/interop.h"

#define ES256_COORD_LEN 32
#define ES256_SIG_LEN (2 * ES256_COORD_LEN)

static char *sign_passport(const unsigned char *pem, size_t pem_len)
{
    jwt_t *jwt = NULL;
    char *token;

    if (jwt_new(&jwt) != 0 || jwt_add_header(jwt, "ppt", "shaken") != 0 ||
        jwt_add_header(jwt, "typ", "passport") != 0 ||
        jwt_add_header(jwt, "x5u", "https://cert.example.net/sp.pem") != 0 ||
        jwt_add_grant(jwt, "attest", "A") != 0 ||
        jwt_add_grants_json(jwt, "{\"dest\":{\"tn\":[\"12155550131\"]},"
                                 "\"orig\":{\"tn\":\"12155550121\"}}") != 0 ||
        jwt_add_grant_int(jwt, "iat", 1700000000) != 0 ||
        jwt_add_grant(jwt, "origid", "123e4567-e89b-12d3-a456-426655440000") != 0)
        interop_die("cannot build the PASSporT claims with libjwt");
    if (jwt_set_alg(jwt, JWT_ALG_ES256, pem, (int)pem_len) != 0)
        interop_die("jwt_set_alg(JWT_ALG_ES256) refused the key-reference PEM");
    token = jwt_encode_str(jwt);
    if (token == NULL)
        interop_die("jwt_encode_str failed: libjwt could not sign with the token key");
    jwt_free(jwt);
    return token;
}

static void check_with_libjwt(const char *token, const unsigned char *pub, size_t pub_len)
{
    jwt_t *jwt = NULL;
    const char *ppt;

    if (jwt_decode(&jwt, token, pub, (int)pub_len) != 0)
        interop_die("libjwt's jwt_decode rejects the PASSporT signature");
    ppt = jwt_get_header(jwt, "ppt");
    if (jwt_get_alg(jwt) != JWT_ALG_ES256 || ppt == NULL || strcmp(ppt, "shaken") != 0 ||
        jwt_get_grant(jwt, "attest") == NULL || strcmp(jwt_get_grant(jwt, "attest"), "A") != 0)
        interop_die("the decoded PASSporT lost its alg, ppt or attest");
    jwt_free(jwt);
    printf("ok - libjwt jwt_decode verifies the ES256 PASSporT signed with the token key\n");
}

/* RFC 7515 5.2: the signature covers "header.payload" as transmitted. */
static void check_with_openssl(const char *token, EVP_PKEY *pub)
{
    const char *dot = strrchr(token, '.');
    unsigned char raw[ES256_SIG_LEN], der[INTEROP_DER_SIG_MAX], *p = der;
    size_t raw_len;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r, *s;
    int der_len;

    if (dot == NULL || strlen(dot + 1) != b64url_encoded_len(ES256_SIG_LEN) ||
        b64url_decode(dot + 1, strlen(dot + 1), raw, &raw_len) != 0 || raw_len != ES256_SIG_LEN)
        interop_die("the JWS signature is not 64 bytes of base64url (RFC 7518 3.4)");
    r = BN_bin2bn(raw, ES256_COORD_LEN, NULL);
    s = BN_bin2bn(raw + ES256_COORD_LEN, ES256_COORD_LEN, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
        interop_die("out of memory");
    der_len = i2d_ECDSA_SIG(sig, &p);
    if (der_len <= 0 || !interop_verify(pub, (const unsigned char *)token, (size_t)(dot - token),
                                        der, (size_t)der_len))
        interop_die("the default provider rejects the PASSporT signature");
    ECDSA_SIG_free(sig);
    printf("ok - the default provider verifies the PASSporT's r || s signature\n");
}

int main(int argc, char **argv)
{
    unsigned char *pem, *pub_pem;
    size_t pem_len, pub_len;
    EVP_PKEY *pub;
    char *token;

    interop_prog = "jwt_passport";
    if (argc != 4) {
        fprintf(stderr, "usage: jwt_passport KEYREF.pem PUB.pem TOKEN.out\n");
        return 2;
    }
    pem = interop_read_file(argv[1], &pem_len);
    pub_pem = interop_read_file(argv[2], &pub_len);
    pub = interop_load_soft_pubkey(argv[2]);

    token = sign_passport(pem, pem_len);
    interop_write_file(argv[3], (const unsigned char *)token, strlen(token));
    check_with_libjwt(token, pub_pem, pub_len);
    check_with_openssl(token, pub);

    free(token);
    EVP_PKEY_free(pub);
    free(pub_pem);
    free(pem);
    return 0;
}
