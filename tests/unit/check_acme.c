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
#include <openssl/x509v3.h>

#include "acme/internal.h"
#include "acme/renew.h"
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

/* RFC 9773 4.1's example: keyIdentifier 69:88:5B:...:D4, serial 00:87:65:43:21. */
START_TEST(ari_cert_id_is_the_base64url_aki_and_serial_of_rfc9773)
{
    static const unsigned char keyid[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40,
                                          0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
                                          0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    X509 *x = X509_new();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    struct sks_error err;
    char *id = NULL;

    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), 0x87654321), 1);
    akid->keyid = ASN1_OCTET_STRING_new();
    ck_assert_int_eq(ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof(keyid)), 1);
    ck_assert_int_eq(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    ck_assert_int_eq(acme_ari_cert_id(x, &id, &err), SKS_OK);
    ck_assert_str_eq(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    free(id);
    AUTHORITY_KEYID_free(akid);
    X509_free(x);
}
END_TEST

START_TEST(renewal_window_is_the_last_fraction_of_the_lifetime_opened_by_jitter)
{
    struct acme_renew_config cfg;
    const time_t nb = 1000000, na = nb + 90 * 86400;
    time_t a, b;

    acme_renew_config_init(&cfg);
    cfg.jitter = 0;
    ck_assert_int_eq(acme_renew_window(&cfg, "sp-a", nb, na), na - 30 * 86400);
    cfg.fraction = 1.0;
    ck_assert_int_eq(acme_renew_window(&cfg, "sp-a", nb, na), nb);
    cfg.fraction = ACME_RENEW_FRACTION_DEFAULT;
    cfg.jitter = 3600;
    a = acme_renew_window(&cfg, "sp-a", nb, na);
    b = acme_renew_window(&cfg, "sp-b", nb, na);
    /* Within the jitter, the same for an identity on every run. */
    ck_assert(a <= na - 30 * 86400 && a >= na - 30 * 86400 - 3600);
    ck_assert(b <= na - 30 * 86400 && b >= na - 30 * 86400 - 3600);
    ck_assert_int_eq(a, acme_renew_window(&cfg, "sp-a", nb, na));
}
END_TEST

START_TEST(backoff_doubles_from_retry_min_up_to_retry_max)
{
    struct acme_renew_config cfg;

    acme_renew_config_init(&cfg);
    cfg.retry_min = 600;
    cfg.retry_max = 4000;
    for (int i = 0; i < 20; i++) {
        long b1 = acme_renew_backoff(&cfg, 1), b2 = acme_renew_backoff(&cfg, 2),
             b9 = acme_renew_backoff(&cfg, 9);

        ck_assert(b1 >= 600 && b1 <= 660);
        ck_assert(b2 >= 1200 && b2 <= 1320);
        ck_assert(b9 >= 4000 && b9 <= 4400);
    }
}
END_TEST

/* The [acme] section of |text| loaded into |cfg|. */
static sks_status load_acme(const char *text, struct acme_renew_config *cfg, struct sks_error *err)
{
    CONF *conf = NCONF_new(NULL);
    BIO *b = BIO_new_mem_buf(text, -1);
    long line = 0;
    sks_status st;

    ck_assert_int_eq(NCONF_load_bio(conf, b, &line), 1);
    acme_renew_config_init(cfg);
    st = acme_renew_config_load(cfg, conf, "/etc/shaken-sks", err);
    BIO_free(b);
    NCONF_free(conf);
    return st;
}

START_TEST(acme_section_reads_every_key_and_names_a_bad_one)
{
    struct acme_renew_config cfg;
    struct sks_error err;

    ck_assert_int_eq(load_acme("[acme]\ndirectory = https://ca.test/dir\nca_file = ca.pem\n"
                               "allow_private = yes\nstipa_url = https://pa.test\n"
                               "stipa_account = sp-1\nstipa_credentials = /k\n"
                               "renew_fraction = 0.5\njitter = 0\nretry_min = 5\n"
                               "retry_max = 50\n",
                               &cfg, &err),
                     SKS_OK);
    ck_assert_str_eq(cfg.directory, "https://ca.test/dir");
    ck_assert_str_eq(cfg.ca_file, "/etc/shaken-sks/ca.pem");
    ck_assert(cfg.allow_private);
    ck_assert_str_eq(cfg.source.stipa_url, "https://pa.test");
    ck_assert_str_eq(cfg.source.stipa_credentials, "/k");
    ck_assert(cfg.fraction == 0.5);
    ck_assert_int_eq(cfg.jitter, 0);
    ck_assert_int_eq(cfg.retry_min, 5);
    ck_assert_int_eq(cfg.retry_max, 50);
    acme_renew_config_free(&cfg);

    ck_assert_int_ne(load_acme("[acme]\nrenew_fracton = 0.5\n", &cfg, &err), SKS_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "renew_fracton"));
    acme_renew_config_free(&cfg);
    ck_assert_int_ne(load_acme("[acme]\nrenew_fraction = 0\n", &cfg, &err), SKS_OK);
    acme_renew_config_free(&cfg);
    ck_assert_int_ne(load_acme("[acme]\nretry_min = 100\nretry_max = 10\n", &cfg, &err), SKS_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "retry_min"));
    acme_renew_config_free(&cfg);
    ck_assert_int_ne(load_acme("[acme]\nallow_private = maybe\n", &cfg, &err), SKS_OK);
    acme_renew_config_free(&cfg);
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
    tcase_add_test(tc, ari_cert_id_is_the_base64url_aki_and_serial_of_rfc9773);
    tcase_add_test(tc, renewal_window_is_the_last_fraction_of_the_lifetime_opened_by_jitter);
    tcase_add_test(tc, backoff_doubles_from_retry_min_up_to_retry_max);
    tcase_add_test(tc, acme_section_reads_every_key_and_names_a_bad_one);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
