/*
 * The parts of the ACME client that need no server and no token: the
 * External Account Binding JWS (RFC 8555 7.3.4) verifies with the HMAC key
 * and names the key identifier, the URL and the account key; a TNAuthList
 * identifier's value is the base64url DER TNAuthList of the SPC (RFC 9448);
 * revocation reasons are RFC 5280's codes.  (acme-pebble.sh runs the rest
 * against pebble.)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "acme/internal.h"
#include "profile/tnauthlist.h"
#include "shaken/b64url.h"

/* The decoded base64url member |name| of |jws|, NUL-terminated (free()). */
static char *member(const json_t *jws, const char *name, size_t *len)
{
    const char *v = json_string_value(json_object_get(jws, name));
    char *out;

    ck_assert_ptr_nonnull(v);
    out = calloc(1, strlen(v) + 1);
    ck_assert_int_eq(b64url_decode(v, strlen(v), (unsigned char *)out, len), 0);
    return out;
}

START_TEST(eab_jws_verifies_with_the_hmac_key_and_binds_the_account_key)
{
    static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
    const char *jwk = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"BBBB\"}";
    struct acme_eab eab = {"kid-1", key, sizeof(key)};
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    struct sks_error err = {0};
    json_t *jws = NULL, *hdr;
    char *prot, *payload, *sig, *input;
    size_t len, siglen;

    ck_assert_int_eq(acme_jws_eab(&eab, "https://ca.example/new-acct", jwk, &jws, &err), SKS_OK);
    prot = member(jws, "protected", &len);
    hdr = json_loads(prot, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "alg")), "HS256");
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "kid")), "kid-1");
    ck_assert_str_eq(json_string_value(json_object_get(hdr, "url")), "https://ca.example/new-acct");
    ck_assert_ptr_null(json_object_get(hdr, "nonce")); /* RFC 8555 7.3.4: no nonce */
    payload = member(jws, "payload", &len);
    ck_assert_str_eq(payload, jwk);
    sig = member(jws, "signature", &siglen);
    input = calloc(1, 4096);
    snprintf(input, 4096, "%s.%s", json_string_value(json_object_get(jws, "protected")),
             json_string_value(json_object_get(jws, "payload")));
    HMAC(EVP_sha256(), key, sizeof(key), (unsigned char *)input, strlen(input), mac, &maclen);
    ck_assert_uint_eq(siglen, maclen);
    ck_assert_int_eq(memcmp(sig, mac, maclen), 0);
    json_decref(hdr);
    json_decref(jws);
    free(prot);
    free(payload);
    free(sig);
    free(input);
}
END_TEST

START_TEST(tnauthlist_identifier_is_the_base64url_der_of_the_spc)
{
    struct sks_tnauthlist_summary sum;
    struct sks_error err = {0};
    unsigned char der[256];
    size_t len = 0;
    char *value = NULL;

    ck_assert_int_eq(acme_tnauthlist_value("1234", &value, &err), SKS_OK);
    ck_assert_int_eq(b64url_decode(value, strlen(value), der, &len), 0);
    ck_assert_int_eq(sks_tnauthlist_decode(der, len, &sum, &err), SKS_OK);
    ck_assert_uint_eq(sum.spcs, 1);
    ck_assert_uint_eq(sum.ranges + sum.ones, 0);
    ck_assert_str_eq(sum.first_spc, "1234");
    free(value);
    ck_assert_int_ne(acme_tnauthlist_value("not an spc", &value, &err), SKS_OK);
    ck_assert_ptr_null(value);
}
END_TEST

START_TEST(revocation_reasons_are_rfc5280_codes)
{
    ck_assert_int_eq(acme_reason_code("unspecified"), 0);
    ck_assert_int_eq(acme_reason_code("keyCompromise"), 1);
    ck_assert_int_eq(acme_reason_code("superseded"), 4);
    ck_assert_int_eq(acme_reason_code("cessationOfOperation"), 5);
    ck_assert_int_eq(acme_reason_code("removeFromCRL"), 8);
    ck_assert_int_eq(acme_reason_code("aACompromise"), 10);
    ck_assert_int_eq(acme_reason_code("keycompromise"), -1);
    ck_assert_int_eq(acme_reason_code(""), -1);
    ck_assert_int_eq(acme_reason_code(NULL), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acme");
    TCase *tc = tcase_create("offline");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, eab_jws_verifies_with_the_hmac_key_and_binds_the_account_key);
    tcase_add_test(tc, tnauthlist_identifier_is_the_base64url_der_of_the_spc);
    tcase_add_test(tc, revocation_reasons_are_rfc5280_codes);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
