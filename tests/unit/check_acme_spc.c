/*
 * The SHAKEN parts of ACME (acme/spc.h): the TNAuthList identifier, the
 * account key's fingerprint, the SPC token's check before it is sent, the
 * tkauth-01 answer, and the token read from a file or a command.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "acme/acme.h"
#include "acme/spc.h"
#include "shaken/b64url.h"
#include "shaken/passport.h"

static EVP_PKEY *account_key, *other_key, *stipa_key;

static EVP_PKEY *p256_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    ck_assert_ptr_nonnull(k);
    return k;
}

static void setup(void)
{
    account_key = p256_new();
    other_key = p256_new();
    stipa_key = p256_new();
}

static void teardown(void)
{
    EVP_PKEY_free(account_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(stipa_key);
}

/* base64url of |s| into a static-sized buffer. */
static void b64(const char *s, char *out)
{
    b64url_encode((const unsigned char *)s, strlen(s), out);
}

/*
 * An SPC token as an STI-PA signs one (ATIS-1000080): |claims| is the JSON
 * of the payload; the header is {"alg":"ES256","typ":"JWT","x5u":...}
 * unless |header| says otherwise.
 */
static char *token_make(const char *header, const char *claims)
{
    static const char def[] =
        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"x5u\":\"https://sti-pa.test/cert.pem\"}";
    char h[1024], c[4096], input[6000], sig64[100];
    unsigned char sig[SKS_ES256_SIG_LEN];
    struct sks_error err = {0};
    char *tok;

    b64(header != NULL ? header : def, h);
    b64(claims, c);
    snprintf(input, sizeof(input), "%s.%s", h, c);
    ck_assert_int_eq(
        sks_es256_sign_evp(stipa_key, (unsigned char *)input, strlen(input), sig, &err), SKS_OK);
    b64url_encode(sig, sizeof(sig), sig64);
    tok = malloc(strlen(input) + strlen(sig64) + 2);
    sprintf(tok, "%s.%s", input, sig64);
    return tok;
}

/* Claims for |spc| bound to |key|, expiring at |exp|, with |extra| atc members. */
static char *claims_for(const char *spc, EVP_PKEY *key, long long exp, const char *extra)
{
    char fp[SKS_ACME_FINGERPRINT_SIZE], *value = NULL, *c = malloc(4096);
    struct sks_error err = {0};

    ck_assert_int_eq(acme_tnauthlist_value(spc, &value, &err), SKS_OK);
    ck_assert_int_eq(sks_acme_fingerprint(key, fp, &err), SKS_OK);
    snprintf(c, 4096,
             "{\"exp\":%lld,\"jti\":\"0b4e2d4c-1\",\"atc\":{\"tktype\":\"TNAuthList\","
             "\"tkvalue\":\"%s\",\"fingerprint\":\"%s\"%s}}",
             exp, value, fp, extra != NULL ? extra : "");
    free(value);
    return c;
}

static char *good_token(void)
{
    char *c = claims_for("1234", account_key, (long long)time(NULL) + 3600, ",\"ca\":false");
    char *t = token_make(NULL, c);

    free(c);
    return t;
}

static sks_status check(const char *token, struct sks_error *err)
{
    const struct sks_acme_atc_expect e = {"1234", account_key, false, 0};

    return sks_acme_atc_check(token, strlen(token), &e, NULL, err);
}

/* The token is refused, naming |field| with |code| and saying |words|. */
static void assert_refused(const char *token, const char *field, const char *code,
                           const char *words)
{
    struct sks_error err = {0};

    ck_assert_int_ne(check(token, &err), SKS_OK);
    ck_assert_str_eq(err.field, field);
    ck_assert_str_eq(sks_error_code(&err), code);
    ck_assert_msg(strstr(err.msg, words) != NULL, "\"%s\" not in: %s", words, err.msg);
}

START_TEST(tnauthlist_value_is_unpadded_base64url_der)
{
    struct sks_error err = {0};
    char *v = NULL;

    /* RFC 8226 with EXPLICIT tags: 30 08 A0 06 16 04 "1234". */
    ck_assert_int_eq(acme_tnauthlist_value("1234", &v, &err), SKS_OK);
    ck_assert_str_eq(v, "MAigBhYEMTIzNA");
    free(v);
    ck_assert_int_eq(acme_tnauthlist_value("12a4", &v, &err), SKS_ERR_INPUT);
    ck_assert_ptr_null(v);
}
END_TEST

START_TEST(fingerprint_is_the_jwk_thumbprint_in_hex)
{
    /* RFC 7517 A.1's EC key; its RFC 7638 thumbprint computed apart (Python hashlib). */
    static const char x[] = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    static const char y[] = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
    unsigned char point[65] = {0x04};
    char fp[SKS_ACME_FINGERPRINT_SIZE];
    struct sks_error err = {0};
    EVP_PKEY *key = NULL;
    size_t n;

    ck_assert_int_eq(b64url_decode(x, strlen(x), point + 1, &n), 0);
    ck_assert_int_eq(b64url_decode(y, strlen(y), point + 33, &n), 0);
    ck_assert_int_eq(sks_acme_p256_from_point(point, sizeof(point), &key, &err), SKS_OK);
    ck_assert_int_eq(sks_acme_fingerprint(key, fp, &err), SKS_OK);
    ck_assert_str_eq(fp, "SHA256 72:7F:88:FD:63:4C:0A:57:A1:89:5A:79:D6:2F:F4:56:93:84:35:6D:"
                         "6E:A4:47:AB:03:CB:04:6A:6E:61:9F:EB");
    EVP_PKEY_free(key);
    /* A point off the curve is no account key. */
    point[64] ^= 1;
    ck_assert_int_eq(sks_acme_p256_from_point(point, sizeof(point), &key, &err), SKS_ERR_INPUT);
    ck_assert_ptr_null(key);
}
END_TEST

START_TEST(fingerprint_refuses_a_non_p256_key)
{
    EVP_PKEY *rsa = EVP_RSA_gen(1024);
    char fp[SKS_ACME_FINGERPRINT_SIZE];
    struct sks_error err = {0};

    ck_assert_int_eq(sks_acme_fingerprint(rsa, fp, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "P-256"));
    EVP_PKEY_free(rsa);
}
END_TEST

START_TEST(atc_check_accepts_the_token_for_the_spc_and_account)
{
    const struct sks_acme_atc_expect e = {"1234", account_key, false, 0};
    struct sks_acme_atc_info info;
    struct sks_error err = {0};
    char *t = good_token();

    ck_assert_msg(sks_acme_atc_check(t, strlen(t), &e, &info, &err) == SKS_OK, "%s", err.msg);
    ck_assert_str_eq(info.x5u, "https://sti-pa.test/cert.pem");
    ck_assert_str_eq(info.jti, "0b4e2d4c-1");
    ck_assert_str_eq(info.tkvalue, "MAigBhYEMTIzNA");
    ck_assert_int_gt(info.exp, (long long)time(NULL));
    free(t);
}
END_TEST

START_TEST(atc_check_takes_absent_ca_as_false_and_lower_case_hex)
{
    char *c = claims_for("1234", account_key, (long long)time(NULL) + 60, NULL), *p, *t;
    struct sks_error err = {0};

    /* The hex of the fingerprint in lower case. */
    for (p = strstr(c, "SHA256 ") + 7; *p != '"'; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    t = token_make(NULL, c);
    ck_assert_msg(check(t, &err) == SKS_OK, "%s", err.msg);
    free(t);
    free(c);
}
END_TEST

/* A token with the claims for |spc|, |key| and |exp| is refused as |field| |code| |words|. */
static void assert_claims_refused(const char *spc, EVP_PKEY *key, long long exp, const char *field,
                                  const char *code, const char *words)
{
    char *c = claims_for(spc, key, exp, NULL);
    char *t = token_make(NULL, c);

    assert_refused(t, field, code, words);
    free(t);
    free(c);
}

START_TEST(atc_check_refuses_a_token_for_another_spc)
{
    long long exp = (long long)time(NULL) + 3600;

    assert_claims_refused("5678", account_key, exp, "atc.tkvalue", "spc-token-mismatch",
                          "for SPC \"5678\"");
    assert_claims_refused("5678", account_key, exp, "atc.tkvalue", "spc-token-mismatch",
                          "identity's SPC \"1234\"");
}
END_TEST

START_TEST(atc_check_refuses_a_token_for_another_account_key)
{
    assert_claims_refused("1234", other_key, (long long)time(NULL) + 3600, "atc.fingerprint",
                          "spc-token-mismatch", "another account");
}
END_TEST

START_TEST(atc_check_refuses_an_expired_token)
{
    assert_claims_refused("1234", account_key, (long long)time(NULL) - 10, "exp",
                          "spc-token-expired", "expired");
}
END_TEST

/* Claims whose atc.tkvalue is |tkvalue| as written, for SPC 1234's account. */
static char *token_with_tkvalue(const char *tkvalue)
{
    char fp[SKS_ACME_FINGERPRINT_SIZE], c[1024];
    struct sks_error err = {0};

    ck_assert_int_eq(sks_acme_fingerprint(account_key, fp, &err), SKS_OK);
    snprintf(c, sizeof(c),
             "{\"exp\":%lld,\"jti\":\"j\",\"atc\":{\"tktype\":\"TNAuthList\",\"tkvalue\":\"%s\","
             "\"fingerprint\":\"%s\"}}",
             (long long)time(NULL) + 600, tkvalue, fp);
    return token_make(NULL, c);
}

START_TEST(atc_check_takes_the_padded_base64_a_deployed_sti_pa_writes)
{
    const struct sks_acme_atc_expect e = {"1234", account_key, false, 0};
    struct sks_acme_atc_info info;
    struct sks_error err = {0};
    char *t = token_with_tkvalue("MAigBhYEMTIzNA==");

    ck_assert_msg(sks_acme_atc_check(t, strlen(t), &e, &info, &err) == SKS_OK, "%s", err.msg);
    /* The order must name it as the token writes it. */
    ck_assert_str_eq(info.tkvalue, "MAigBhYEMTIzNA==");
    free(t);
    t = token_with_tkvalue("MAigBhYEMTIzNA=");
    assert_refused(t, "atc.tkvalue", "spc-token-mismatch", "not the base64url DER TNAuthList");
    free(t);
    t = token_with_tkvalue("MAigBhYENTY3OA==");
    assert_refused(t, "atc.tkvalue", "spc-token-mismatch", "for SPC \"5678\"");
    free(t);
}
END_TEST

START_TEST(atc_check_refuses_another_tktype_and_ca)
{
    long long exp = (long long)time(NULL) + 3600;
    char *c = claims_for("1234", account_key, exp, ",\"ca\":true"), *t = token_make(NULL, c), *p;
    const struct sks_acme_atc_expect want_ca = {"1234", account_key, true, 0};
    struct sks_error err = {0};

    assert_refused(t, "atc.ca", "spc-token-mismatch", "CA certificate");
    /* The same token is what a CA certificate's order needs. */
    ck_assert_int_eq(sks_acme_atc_check(t, strlen(t), &want_ca, NULL, &err), SKS_OK);
    free(t);
    p = strstr(c, "TNAuthList");
    memcpy(p, "TNAuthLisx", 10);
    t = token_make(NULL, c);
    assert_refused(t, "atc.tktype", "spc-token-mismatch", "TNAuthLisx");
    free(t);
    free(c);
}
END_TEST

START_TEST(atc_check_refuses_malformed_tokens)
{
    long long exp = (long long)time(NULL) + 3600;
    char *c = claims_for("1234", account_key, exp, NULL), *t;

    assert_refused("abc.def", "atc", "invalid-spc-token", "compact JWS");
    assert_refused("a.b.c.d", "atc", "invalid-spc-token", "compact JWS");
    t = token_make("{\"alg\":\"HS256\",\"x5u\":\"https://sti-pa.test/c\"}", c);
    assert_refused(t, "alg", "invalid-spc-token", "HS256");
    free(t);
    t = token_make("{\"alg\":\"ES256\"}", c);
    assert_refused(t, "x5u", "invalid-spc-token", "x5u");
    free(t);
    t = token_make("{\"alg\":\"ES256\",\"x5u\":\"http://sti-pa.test/c\"}", c);
    assert_refused(t, "x5u", "invalid-spc-token", "https");
    free(t);
    t = token_make(NULL, "{\"exp\":1,\"exp\":2}");
    assert_refused(t, "claims", "invalid-spc-token", "duplicate");
    free(t);
    t = token_make(NULL, "{\"exp\":\"soon\",\"jti\":\"x\",\"atc\":{}}");
    assert_refused(t, "exp", "invalid-spc-token", "exp");
    free(t);
    t = token_make(NULL, "{\"exp\":99999999999,\"atc\":{}}");
    assert_refused(t, "jti", "invalid-spc-token", "jti");
    free(t);
    t = token_make(NULL, "{\"exp\":99999999999,\"jti\":\"x\",\"atc\":\"TNAuthList\"}");
    assert_refused(t, "atc", "invalid-spc-token", "atc object");
    free(t);
    /* A signature cut short. */
    t = good_token();
    t[strlen(t) - 4] = '\0';
    assert_refused(t, "signature", "invalid-spc-token", "64 bytes");
    free(t);
    free(c);
}
END_TEST

START_TEST(atc_answer_is_the_atc_object)
{
    struct sks_error err = {0};
    char *json = NULL, *t = good_token(), want[SKS_ACME_ATC_MAX + 16];

    ck_assert_int_eq(sks_acme_atc_answer(t, &json, &err), SKS_OK);
    snprintf(want, sizeof(want), "{\"atc\":\"%s\"}", t);
    ck_assert_str_eq(json, want);
    free(json);
    ck_assert_int_eq(sks_acme_atc_answer("a.b\",\"x\":\"c", &json, &err), SKS_ERR_INPUT);
    ck_assert_ptr_null(json);
    free(t);
}
END_TEST

/* The server's authorization and challenge objects, from JSON text. */
static sks_status tkauth(const char *authz, const char *chall, char **payload,
                         struct sks_error *err)
{
    const struct sks_acme_tkauth t = {"aa.bb.cc", "MAigBhYEMTIzNA"};
    json_t *a = json_loads(authz, 0, NULL), *c = json_loads(chall, 0, NULL);
    sks_status st = sks_acme_tkauth_answer((void *)&t, a, c, payload, err);

    json_decref(a);
    json_decref(c);
    return st;
}

START_TEST(tkauth_answer_takes_only_the_tkauth_challenge_of_the_order)
{
    static const char authz[] = "{\"identifier\":{\"type\":\"TNAuthList\","
                                "\"value\":\"MAigBhYEMTIzNA\"}}";
    static const char chall[] = "{\"type\":\"tkauth-01\",\"tkauth-type\":\"atc\","
                                "\"token-authority\":\"https://sti-pa.test\",\"token\":\"x\"}";
    struct sks_error err = {0};
    char *payload = NULL;

    ck_assert_int_eq(tkauth(authz, chall, &payload, &err), SKS_OK);
    ck_assert_str_eq(payload, "{\"atc\":\"aa.bb.cc\"}");
    free(payload);
    ck_assert_int_eq(
        tkauth("{\"identifier\":{\"type\":\"TNAuthList\",\"value\":\"MAigBhYENTY3OA\"}}", chall,
               &payload, &err),
        SKS_ERR_INPUT);
    ck_assert_str_eq(sks_error_code(&err), "acme-protocol");
    ck_assert_ptr_null(payload);
    ck_assert_int_eq(tkauth(authz, "{\"type\":\"http-01\",\"token\":\"x\"}", &payload, &err),
                     SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"http-01\""));
    ck_assert_int_eq(
        tkauth(authz, "{\"type\":\"tkauth-01\",\"tkauth-type\":\"jwt\"}", &payload, &err),
        SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "no SPC token sent"));
    ck_assert_ptr_null(payload);
}
END_TEST

START_TEST(atc_from_file_trims_and_refuses_junk)
{
    char path[] = "/tmp/check_acme_spc.XXXXXX", *tok = NULL;
    struct sks_error err = {0};
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    fputs("  aa.bb.cc\n\n", f);
    fclose(f);
    ck_assert_int_eq(sks_acme_atc_from_file(path, &tok, &err), SKS_OK);
    ck_assert_str_eq(tok, "aa.bb.cc");
    free(tok);
    f = fopen(path, "w");
    fputs("{\"token\":\"aa.bb.cc\"}\n", f);
    fclose(f);
    ck_assert_int_eq(sks_acme_atc_from_file(path, &tok, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not hold an SPC token"));
    unlink(path);
    ck_assert_int_eq(sks_acme_atc_from_file(path, &tok, &err), SKS_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "SPC token file"));
}
END_TEST

START_TEST(atc_from_command_passes_what_the_token_needs)
{
    struct sks_error err = {0};
    char *tok = NULL;

    ck_assert_msg(sks_acme_atc_from_command("echo \"$SKS_SPC.$SKS_ACME_TKVALUE.$SKS_ACME_CA\"",
                                            "1234", "MAigBhYEMTIzNA", "SHA256 00", false, 5000,
                                            &tok, &err) == SKS_OK,
                  "%s", err.msg);
    ck_assert_str_eq(tok, "1234.MAigBhYEMTIzNA.false");
    free(tok);
    ck_assert_int_eq(sks_acme_atc_from_command("test \"$SKS_ACME_FINGERPRINT\" = 'SHA256 00'",
                                               "1234", "v", "SHA256 00", false, 5000, &tok, &err),
                     SKS_ERR_INPUT); /* it printed nothing */
}
END_TEST

START_TEST(atc_from_command_fails_on_status_timeout_and_size)
{
    struct sks_error err = {0};
    char *tok = NULL;

    ck_assert_int_eq(
        sks_acme_atc_from_command("echo a.b.c; exit 3", "1234", "v", "f", false, 5000, &tok, &err),
        SKS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "exited with status 3"));
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(
        sks_acme_atc_from_command("exec sleep 30", "1234", "v", "f", false, 200, &tok, &err),
        SKS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "did not finish within 200 ms"));
    ck_assert_int_eq(sks_acme_atc_from_command("head -c 20000 /dev/zero | tr '\\0' a", "1234", "v",
                                               "f", false, 5000, &tok, &err),
                     SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acme_spc");
    TCase *tc = tcase_create("spc");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tnauthlist_value_is_unpadded_base64url_der);
    tcase_add_test(tc, fingerprint_is_the_jwk_thumbprint_in_hex);
    tcase_add_test(tc, fingerprint_refuses_a_non_p256_key);
    tcase_add_test(tc, atc_check_accepts_the_token_for_the_spc_and_account);
    tcase_add_test(tc, atc_check_takes_absent_ca_as_false_and_lower_case_hex);
    tcase_add_test(tc, atc_check_refuses_a_token_for_another_spc);
    tcase_add_test(tc, atc_check_refuses_a_token_for_another_account_key);
    tcase_add_test(tc, atc_check_refuses_an_expired_token);
    tcase_add_test(tc, atc_check_takes_the_padded_base64_a_deployed_sti_pa_writes);
    tcase_add_test(tc, atc_check_refuses_another_tktype_and_ca);
    tcase_add_test(tc, atc_check_refuses_malformed_tokens);
    tcase_add_test(tc, atc_answer_is_the_atc_object);
    tcase_add_test(tc, tkauth_answer_takes_only_the_tkauth_challenge_of_the_order);
    tcase_add_test(tc, atc_from_file_trims_and_refuses_junk);
    tcase_add_test(tc, atc_from_command_passes_what_the_token_needs);
    tcase_add_test(tc, atc_from_command_fails_on_status_timeout_and_size);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
