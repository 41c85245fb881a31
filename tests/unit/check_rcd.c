/*
 * Rich Call Data (RFC 9795): the rcd, rcdi and crn claims as a signer sets
 * them and a verifier reads them, their canonical JSON, the refusals of bad
 * ones, rcdi computed and checked against served content, and a PASSporT
 * of type rcd signed and verified.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "shaken/passport.h"
#include "shaken/rcd.h"
#include "verify/verify.h"

#define X5U "https://cert.example.org/passport.cer"
#define ICN "https://rcd.example.org/logo.png"
#define JCL "https://rcd.example.org/card.json"
#define PHOTO "https://rcd.example.org/photo.jpg"
#define JCD_RCD                                                                                    \
    "{\"nam\":\"Example Bank\",\"icn\":\"" ICN "\",\"jcd\":[\"vcard\",[[\"version\",{},"           \
    "\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Example Bank\"],[\"photo\",{},\"uri\",\"" PHOTO       \
    "\"]]]}"

/* ---- what the content server serves ---------------------------------------------- */

struct served {
    const char *url[4];
    const char *body[4];
    int asked;
};

static sks_status serve(void *ctx, const char *url, const EVP_MD *md,
                        unsigned char out[EVP_MAX_MD_SIZE], unsigned int *len,
                        struct sks_error *err)
{
    struct served *s = ctx;
    int i;

    s->asked++;
    for (i = 0; i < 4 && s->url[i] != NULL; i++) {
        if (strcmp(s->url[i], url) == 0) {
            ck_assert_int_eq(EVP_Digest(s->body[i], strlen(s->body[i]), out, len, md, NULL), 1);
            return SKS_OK;
        }
    }
    return sks_fail(err, SKS_ERR_UNAVAILABLE, "%s: 404 Not Found", url);
}

static void shaken_with_rcd(struct sks_passport *pp, const char *rcd)
{
    struct sks_error err = {0};

    ck_assert_int_eq(sks_passport_init(pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(pp, X5U, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_orig(pp, "12155550121", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_add_dest(pp, "12155550131", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_attest(pp, "A", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_iat(pp, 1700000000, &err), SKS_OK);
    ck_assert_msg(sks_passport_set_rcd(pp, rcd, strlen(rcd), &err) == SKS_OK, "%s", err.msg);
}

/* ---- canonical JSON ------------------------------------------------------------------ */

START_TEST(rcd_claims_encode_as_jansson_canonical_form_and_read_back)
{
    struct sks_error err = {0};
    struct sks_passport pp, back;
    json_t *o, *rcd;
    char out[SKS_IDENTITY_MAX], *want;
    size_t len;

    shaken_with_rcd(&pp, "{ \"nam\" : \"Example Bank\", \"apn\": \"+1 (215) 555-0199\" }");
    ck_assert_int_eq(sks_passport_set_crn(&pp, "Your \"appointment\" reminder", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_claims_json(&pp, out, sizeof(out), &len, &err), SKS_OK);
    rcd = json_pack("{s:s, s:s}", "nam", "Example Bank", "apn", "12155550199");
    o = json_pack("{s:s, s:{s:[s]}, s:I, s:{s:s}, s:s, s:s, s:o}", "attest", "A", "dest", "tn",
                  "12155550131", "iat", (json_int_t)1700000000, "orig", "tn", "12155550121",
                  "origid", pp.origid, "crn", "Your \"appointment\" reminder", "rcd", rcd);
    want = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(out, want);

    /* A verifier reads the same claims back, apn already canonical. */
    memset(&back, 0, sizeof(back));
    back.ppt = SKS_PPT_SHAKEN;
    ck_assert_msg(sks_passport_claims_from_json(&back, out, len, SKS_CLAIMS_RECEIVED, &err) ==
                      SKS_OK,
                  "%s", err.msg);
    ck_assert_str_eq(back.rcd, "{\"apn\":\"12155550199\",\"nam\":\"Example Bank\"}");
    ck_assert_str_eq(back.crn, pp.crn);
    ck_assert_str_eq(back.rcdi, "");
    free(want);
    json_decref(o);
}
END_TEST

START_TEST(received_rcd_keeps_members_rfc9795_may_add_later)
{
    static const char claims[] =
        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1700000000,"
        "\"orig\":{\"tn\":\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-426655440000\","
        "\"rcd\":{\"nam\":\"\",\"zzz\":[1,2]}}";
    struct sks_error err = {0};
    struct sks_passport pp;

    memset(&pp, 0, sizeof(pp));
    ck_assert_msg(sks_passport_claims_from_json(&pp, claims, strlen(claims), SKS_CLAIMS_RECEIVED,
                                                &err) == SKS_OK,
                  "%s", err.msg);
    ck_assert_str_eq(pp.rcd, "{\"nam\":\"\",\"zzz\":[1,2]}");
    /* A signer is held to the members RFC 9795 defines: a typo must not pass. */
    ck_assert_int_eq(sks_passport_set_rcd(&pp, "{\"nam\":\"x\",\"icon\":\"y\"}", 22, &err),
                     SKS_ERR_INPUT);
    ck_assert_str_eq(err.code, "unknown-field");
    ck_assert_ptr_nonnull(strstr(err.msg, "\"icon\""));
}
END_TEST

/* ---- refusals ---------------------------------------------------------------------- */

START_TEST(bad_rcd_is_refused_naming_the_member)
{
    static const struct {
        const char *rcd, *field, *words;
    } cases[] = {
        {"[]", "rcd", "must be an object"},
        {"{\"apn\":\"12155550199\"}", "rcd.nam", "is missing"},
        {"{\"nam\":7}", "rcd.nam", "must be a string"},
        {"{\"nam\":\"a\\nb\"}", "rcd.nam", "control character 0x0a"},
        {"{\"nam\":\"x\",\"apn\":\"12ab\"}", "rcd.apn", "rcd.apn"},
        {"{\"nam\":\"x\",\"icn\":\"http://rcd.example.org/a.png\"}", "rcd.icn",
         "is not an https:// URL"},
        {"{\"nam\":\"x\",\"icn\":\"https://u:p@rcd.example.org/a.png\"}", "rcd.icn", "userinfo"},
        {"{\"nam\":\"x\",\"jcl\":\"" JCL "\",\"jcd\":[\"vcard\",[]]}", "rcd", "both jcd and jcl"},
        {"{\"nam\":\"x\",\"jcd\":{\"fn\":\"x\"}}", "rcd.jcd", "is not a jCard"},
        {"{\"nam\":\"x\",\"jcd\":[\"vcard\",[[\"fn\",{},\"text\"]]]}", "rcd.jcd[1][0]",
         "is not a jCard property"},
        {"{\"nam\":\"x\",\"jcd\":[\"vcard\",[[\"logo\",{},\"uri\",\"ftp://x/y\"]]]}",
         "rcd.jcd[1][0][3]", "is not an https:// URL"},
        {"{\"nam\":\"x\",\"nam\":\"y\"}", "rcd", "duplicate"},
    };
    struct sks_error err = {0};
    struct sks_passport pp;
    size_t i;

    shaken_with_rcd(&pp, "{\"nam\":\"kept\"}");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(sks_passport_set_rcd(&pp, cases[i].rcd, strlen(cases[i].rcd), &err) ==
                          SKS_ERR_INPUT,
                      "%s was taken", cases[i].rcd);
        ck_assert_msg(strcmp(err.field, cases[i].field) == 0, "%s: field %s, not %s", cases[i].rcd,
                      err.field, cases[i].field);
        ck_assert_msg(strstr(err.msg, cases[i].words) != NULL, "%s: \"%s\" lacks \"%s\"",
                      cases[i].rcd, err.msg, cases[i].words);
        /* What was set stays. */
        ck_assert_str_eq(pp.rcd, "{\"nam\":\"kept\"}");
    }
}
END_TEST

START_TEST(oversized_rcd_and_crn_are_refused_by_size)
{
    struct sks_error err = {0};
    struct sks_passport pp;
    char *big = malloc(SKS_RCD_JSON_MAX + 64), crn[SKS_CRN_MAX + 2];

    shaken_with_rcd(&pp, "{\"nam\":\"kept\"}");
    snprintf(big, SKS_RCD_JSON_MAX + 64,
             "{\"nam\":\"x\",\"jcd\":[\"vcard\",[[\"note\",{},\"text\",\"");
    memset(big + strlen(big), 'n', SKS_RCD_JSON_MAX);
    strcpy(big + SKS_RCD_JSON_MAX, "\"]]]}");
    ck_assert_int_eq(sks_passport_set_rcd(&pp, big, strlen(big), &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "at most 4096"));
    memset(crn, 'c', sizeof(crn) - 1);
    crn[sizeof(crn) - 1] = '\0';
    ck_assert_int_eq(sks_passport_set_crn(&pp, crn, &err), SKS_ERR_INPUT);
    ck_assert_str_eq(err.field, "crn");
    ck_assert_int_eq(sks_passport_set_crn(&pp, "", &err), SKS_ERR_INPUT);
    ck_assert_str_eq(pp.crn, "");
    free(big);
}
END_TEST

START_TEST(bad_rcdi_is_refused_naming_the_digest)
{
    static const struct {
        const char *rcdi, *words;
    } cases[] = {
        {"{}", "must be an object of JSON pointers"},
        {"{\"icn\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}", "JSON pointer"},
        {"{\"/icn\":\"md5-1B2M2Y8AsgTpgAmY7PhCfg==\"}", "\"sha256-BASE64\""},
        {"{\"/icn\":\"sha256-47DEQpj8HBSa\"}", "takes 44"},
        {"{\"/icn\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=\"}", "not base64"},
        /* Valid digests, but not for every URL of rcd (the photo is left out). */
        {"{\"/icn\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}", "/jcd/1/2/3"},
        {"{\"/icn\":\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"/jcd/1/2/3\":"
         "\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\",\"/nam\":"
         "\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"}",
         "/nam covers nothing"},
    };
    struct sks_error err = {0};
    struct sks_passport pp;
    size_t i;

    shaken_with_rcd(&pp, JCD_RCD);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(sks_passport_set_rcdi(&pp, cases[i].rcdi, strlen(cases[i].rcdi), &err) ==
                          SKS_ERR_INPUT,
                      "%s was taken", cases[i].rcdi);
        ck_assert_str_eq(err.code, "invalid-rcd");
        ck_assert_msg(strstr(err.msg, cases[i].words) != NULL, "%s: \"%s\" lacks \"%s\"",
                      cases[i].rcdi, err.msg, cases[i].words);
        ck_assert_str_eq(pp.rcdi, "");
    }
}
END_TEST

/* ---- rcdi ------------------------------------------------------------------------------ */

START_TEST(rcdi_covers_every_url_and_the_jcard_and_catches_swapped_content)
{
    struct served s = {{ICN, PHOTO}, {"PNG logo bytes", "JPEG photo bytes"}, 0};
    struct sks_error err = {0};
    struct sks_passport pp;
    json_t *rcdi;
    char *jcd;
    unsigned char d[32];
    unsigned int dlen;
    char want[64] = "sha256-";

    shaken_with_rcd(&pp, JCD_RCD);
    ck_assert_msg(sks_rcdi_compute(&pp, serve, &s, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(s.asked, 2);
    rcdi = json_loads(pp.rcdi, 0, NULL);
    ck_assert_int_eq(json_object_size(rcdi), 3);
    ck_assert_ptr_nonnull(json_object_get(rcdi, "/icn"));
    ck_assert_ptr_nonnull(json_object_get(rcdi, "/jcd/1/2/3"));
    /* "/jcd": SHA-256 over the jCard's canonical JSON, in the SRI form. */
    jcd = json_dumps(json_object_get(json_loads(pp.rcd, 0, NULL), "jcd"),
                     JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_int_eq(EVP_Digest(jcd, strlen(jcd), d, &dlen, EVP_sha256(), NULL), 1);
    EVP_EncodeBlock((unsigned char *)want + 7, d, (int)dlen);
    ck_assert_str_eq(json_string_value(json_object_get(rcdi, "/jcd")), want);

    ck_assert_msg(sks_rcdi_check(&pp, serve, &s, &err) == SKS_OK, "%s", err.msg);
    /* The logo server now serves something else. */
    s.body[0] = "another logo";
    ck_assert_int_eq(sks_rcdi_check(&pp, serve, &s, &err), SKS_ERR_VERIFY);
    ck_assert_str_eq(err.code, "rcdi-mismatch");
    ck_assert_ptr_nonnull(strstr(err.msg, "/icn"));
    /* Content that cannot be had is the fetcher's failure, named by pointer. */
    s.url[0] = "https://elsewhere.example.org/";
    ck_assert_int_eq(sks_rcdi_check(&pp, serve, &s, &err), SKS_ERR_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.msg, "rcdi: /icn"));
    ck_assert_ptr_nonnull(strstr(err.msg, "404"));
    free(jcd);
    json_decref(rcdi);
}
END_TEST

START_TEST(rcd_without_rcdi_is_unprotected_only_when_it_points_at_content)
{
    struct served s = {{NULL}, {NULL}, 0};
    struct sks_error err = {0};
    struct sks_passport pp;

    shaken_with_rcd(&pp, "{\"nam\":\"Example Bank\"}");
    ck_assert_int_eq(sks_rcdi_check(&pp, serve, &s, &err), SKS_OK);
    shaken_with_rcd(&pp, "{\"nam\":\"Example Bank\",\"jcl\":\"" JCL "\"}");
    ck_assert_int_eq(sks_rcdi_check(&pp, serve, &s, &err), SKS_ERR_NOT_FOUND);
    ck_assert_str_eq(err.code, "rcd-unprotected");
    ck_assert_ptr_nonnull(strstr(err.msg, JCL));
    ck_assert_int_eq(s.asked, 0);
}
END_TEST

START_TEST(received_rcdi_missing_a_url_fails_the_check)
{
    struct served s = {{ICN, PHOTO}, {"PNG logo bytes", "JPEG photo bytes"}, 0};
    struct sks_error err = {0};
    struct sks_passport pp;
    json_t *rcdi;
    char *text;

    shaken_with_rcd(&pp, JCD_RCD);
    ck_assert_int_eq(sks_rcdi_compute(&pp, serve, &s, &err), SKS_OK);
    /* What a careless signer sends: the photo's digest left out. */
    rcdi = json_loads(pp.rcdi, 0, NULL);
    json_object_del(rcdi, "/jcd/1/2/3");
    text = json_dumps(rcdi, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(pp.rcdi, sizeof(pp.rcdi), "%s", text);
    ck_assert_int_eq(sks_rcdi_check(&pp, serve, &s, &err), SKS_ERR_VERIFY);
    ck_assert_str_eq(err.code, "rcdi-incomplete");
    ck_assert_ptr_nonnull(strstr(err.msg, PHOTO));
    free(text);
    json_decref(rcdi);
}
END_TEST

/* ---- ppt rcd ------------------------------------------------------------------------------ */

START_TEST(rcd_passport_signs_and_verifies_and_needs_its_rcd)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    struct sks_error err = {0};
    struct sks_passport pp;
    struct sks_verify_opts o;
    struct sks_verify_result res;
    char out[SKS_IDENTITY_MAX];
    size_t len;

    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_RCD, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(&pp, X5U, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_orig(&pp, "12155550121", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_add_dest(&pp, "12155550131", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_sign(&pp, sks_es256_sign_evp, key, out, sizeof(out), &len, &err),
                     SKS_ERR_INPUT);
    ck_assert_str_eq(err.field, "rcd");
    ck_assert_int_eq(sks_passport_set_rcd(&pp, "{\"nam\":\"Example Bank\"}", 22, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_crn(&pp, "Fraud alert", &err), SKS_OK);
    ck_assert_msg(sks_passport_sign(&pp, sks_es256_sign_evp, key, out, sizeof(out), &len, &err) ==
                      SKS_OK,
                  "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(out, ";ppt=rcd"));

    sks_verify_opts_init(&o);
    o.pubkey = key;
    o.now = (time_t)pp.iat;
    ck_assert_msg(sks_identity_verify(out, len, &o, &res, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(res.passport.ppt, SKS_PPT_RCD);
    ck_assert_str_eq(res.passport.rcd, "{\"nam\":\"Example Bank\"}");
    ck_assert_str_eq(res.passport.crn, "Fraud alert");
    EVP_PKEY_free(key);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rcd");
    TCase *json = tcase_create("claims");
    TCase *rcdi = tcase_create("rcdi");
    SRunner *sr;
    int failed;

    tcase_add_test(json, rcd_claims_encode_as_jansson_canonical_form_and_read_back);
    tcase_add_test(json, received_rcd_keeps_members_rfc9795_may_add_later);
    tcase_add_test(json, bad_rcd_is_refused_naming_the_member);
    tcase_add_test(json, oversized_rcd_and_crn_are_refused_by_size);
    tcase_add_test(json, bad_rcdi_is_refused_naming_the_digest);
    tcase_add_test(json, rcd_passport_signs_and_verifies_and_needs_its_rcd);
    suite_add_tcase(s, json);
    tcase_add_test(rcdi, rcdi_covers_every_url_and_the_jcard_and_catches_swapped_content);
    tcase_add_test(rcdi, rcd_without_rcdi_is_unprotected_only_when_it_points_at_content);
    tcase_add_test(rcdi, received_rcdi_missing_a_url_fails_the_check);
    suite_add_tcase(s, rcdi);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
