/*
 * The SHAKEN certificate profile checker: one test per rule, each with a
 * certificate that breaks exactly that rule and nothing else, plus the
 * TNAuthList encoding and strict decoding.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "profile/profile.h"
#include "testpki/testpki.h"
#include "profile/tnauthlist.h"

/* 2025-06-15T16:26:40Z: a fixed validation time keeps the tests repeatable. */
#define NOW ((time_t)1750004800)
#define DAYS 365
#define DAY 86400L

static struct sks_testpki pki;
static X509_STORE *roots;
static STACK_OF(X509) * chain;

static void pki_setup(void)
{
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_testpki_create(&pki, NOW, DAYS, &err) != SKS_OK ||
        sks_testpki_trust(&pki, &roots, &chain, &err) != SKS_OK) {
        fprintf(stderr, "test PKI: %s\n", err.msg);
        abort();
    }
}

static void pki_teardown(void)
{
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_free(roots);
    sks_testpki_cleanup(&pki);
}

static EVP_PKEY *p256_key(void)
{
    EVP_PKEY *key = NULL;

    ck_assert_int_eq(sks_testpki_keygen(&key, NULL), SKS_OK);
    return key;
}

/* An SP certificate for a fresh P-256 key (or |key|), from the test PKI. */
static X509 *issue(EVP_PKEY *key, const char *spc, const struct sks_testpki_ee_opts *opts)
{
    struct sks_error err;
    EVP_PKEY *own = key != NULL ? NULL : p256_key();
    X509 *ee = NULL;

    sks_error_clear(&err);
    ck_assert_msg(sks_testpki_issue(&pki, key != NULL ? key : own, spc, opts, &ee, &err) == SKS_OK,
                  "issue: %s", err.msg);
    EVP_PKEY_free(own);
    return ee;
}

/* Checks |ee| and asserts that |rule| alone is broken, with |message| in its line. */
static void assert_only_rule(X509 *ee, STACK_OF(X509) * untrusted, enum sks_profile_rule rule,
                             const char *message)
{
    struct sks_profile_result res;
    struct sks_error err;
    char line[128];

    sks_error_clear(&err);
    ck_assert_int_eq(sks_profile_check(ee, untrusted, roots, NOW, &res, &err), SKS_ERR_POLICY);
    ck_assert_msg(res.broken == (unsigned int)rule, "broken 0x%x, want 0x%x only; detail:\n%s",
                  res.broken, (unsigned int)rule, res.detail);
    snprintf(line, sizeof(line), "%s: ", sks_profile_rule_name(rule));
    ck_assert_msg(strncmp(res.detail, line, strlen(line)) == 0, "detail: %s", res.detail);
    ck_assert_msg(strstr(res.detail, message) != NULL, "want \"%s\" in: %s", message, res.detail);
    ck_assert_msg(strstr(err.msg, message) != NULL, "want \"%s\" in: %s", message, err.msg);
    ck_assert_int_eq(err.status, SKS_ERR_POLICY);
}

/* Issues an SP certificate for SPC 1234 with |opts|; asserts it breaks |rule| alone. */
static void assert_opts_break_only(const struct sks_testpki_ee_opts *opts,
                                   enum sks_profile_rule rule, const char *message)
{
    X509 *ee = issue(NULL, "1234", opts);

    assert_only_rule(ee, chain, rule, message);
    X509_free(ee);
}

START_TEST(tnauthlist_encodes_spc_1234_as_rfc8226_bytes)
{
    static const unsigned char want[] = {0x30, 0x08, 0xA0, 0x06, 0x16,
                                         0x04, 0x31, 0x32, 0x33, 0x34};
    const struct sks_tn_entry spc = {SKS_TN_SPC, "1234", 0};
    unsigned char *der = NULL;
    size_t len = 0;

    ck_assert_int_eq(sks_tnauthlist_encode(&spc, 1, &der, &len, NULL), SKS_OK);
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(der, want, sizeof(want));
    OPENSSL_free(der);
}
END_TEST

START_TEST(tnauthlist_decodes_spc_tn_and_range)
{
    const struct sks_tn_entry entries[] = {
        {SKS_TN_SPC, "567A", 0},
        {SKS_TN_ONE, "12025550100", 0},
        {SKS_TN_RANGE, "12025550200", 100},
    };
    struct sks_tnauthlist_summary sum;
    unsigned char *der = NULL;
    size_t len = 0;

    ck_assert_int_eq(sks_tnauthlist_encode(entries, 3, &der, &len, NULL), SKS_OK);
    ck_assert_int_eq(sks_tnauthlist_decode(der, len, &sum, NULL), SKS_OK);
    ck_assert_uint_eq(sum.spcs, 1);
    ck_assert_uint_eq(sum.ones, 1);
    ck_assert_uint_eq(sum.ranges, 1);
    ck_assert_str_eq(sum.first_spc, "567A");
    OPENSSL_free(der);
}
END_TEST

/* Decodes |der| and expects SKS_ERR_INPUT with |message| in the error. */
static void assert_tnauthlist_rejected(const unsigned char *der, size_t len, const char *message)
{
    struct sks_tnauthlist_summary sum;
    struct sks_error err;

    sks_error_clear(&err);
    ck_assert_int_eq(sks_tnauthlist_decode(der, len, &sum, &err), SKS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, message) != NULL, "want \"%s\" in: %s", message, err.msg);
    ck_assert_uint_eq(sum.spcs, 0);
    ck_assert_ptr_null(sum.first_spc);
}

START_TEST(tnauthlist_rejects_trailing_data)
{
    static const unsigned char der[] = {0x30, 0x08, 0xA0, 0x06, 0x16, 0x04,
                                        0x31, 0x32, 0x33, 0x34, 0x00};

    assert_tnauthlist_rejected(der, sizeof(der), "trailing data");
}
END_TEST

START_TEST(tnauthlist_rejects_implicit_tag)
{
    /* [0] IMPLICIT IA5String: the encoding RFC 8226's EXPLICIT module forbids. */
    static const unsigned char der[] = {0x30, 0x06, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34};

    assert_tnauthlist_rejected(der, sizeof(der), "does not decode");
}
END_TEST

START_TEST(tnauthlist_rejects_unknown_choice_tag)
{
    static const unsigned char der[] = {0x30, 0x08, 0xA3, 0x06, 0x16, 0x04, 0x31, 0x32, 0x33, 0x34};

    assert_tnauthlist_rejected(der, sizeof(der), "does not decode");
}
END_TEST

START_TEST(tnauthlist_rejects_utf8_spc)
{
    static const unsigned char der[] = {0x30, 0x08, 0xA0, 0x06, 0x0C, 0x04, 0x31, 0x32, 0x33, 0x34};

    assert_tnauthlist_rejected(der, sizeof(der), "does not decode");
}
END_TEST

START_TEST(tnauthlist_rejects_empty_list)
{
    static const unsigned char der[] = {0x30, 0x00};

    assert_tnauthlist_rejected(der, sizeof(der), "empty list");
}
END_TEST

START_TEST(tnauthlist_rejects_ber_indefinite_length)
{
    static const unsigned char der[] = {0x30, 0x80, 0xA0, 0x06, 0x16, 0x04,
                                        0x31, 0x32, 0x33, 0x34, 0x00, 0x00};

    assert_tnauthlist_rejected(der, sizeof(der), "not DER");
}
END_TEST

START_TEST(tnauthlist_rejects_malformed_telephone_number)
{
    const struct sks_tn_entry tn = {SKS_TN_ONE, "+12025550100", 0};
    unsigned char *der = NULL;
    size_t len = 0;

    ck_assert_int_eq(sks_tnauthlist_encode(&tn, 1, &der, &len, NULL), SKS_OK);
    assert_tnauthlist_rejected(der, len, "malformed telephone number");
    OPENSSL_free(der);
}
END_TEST

START_TEST(tnauthlist_rejects_truncated_input)
{
    static const unsigned char der[] = {0x30, 0x08, 0xA0, 0x06, 0x16, 0x04, 0x31, 0x32};

    assert_tnauthlist_rejected(der, sizeof(der), "does not decode");
}
END_TEST

START_TEST(profile_accepts_compliant_chain_and_returns_spc)
{
    struct sks_profile_result res;
    struct sks_error err;
    X509 *ee = issue(NULL, "1234", NULL);

    sks_error_clear(&err);
    ck_assert_msg(sks_profile_check(ee, chain, roots, NOW, &res, &err) == SKS_OK, "%s", res.detail);
    ck_assert_uint_eq(res.broken, 0);
    ck_assert_str_eq(res.spc, "1234");
    ck_assert_str_eq(res.detail, "");
    ck_assert_int_eq((long long)res.not_after, (long long)(NOW + DAYS * DAY));
    X509_free(ee);
}
END_TEST

START_TEST(profile_accepts_critical_tnauthlist)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_TNAUTHLIST_CRITICAL};
    struct sks_profile_result res;
    X509 *ee = issue(NULL, "99ZZ", &opts);

    ck_assert_msg(sks_profile_check(ee, chain, roots, NOW, &res, NULL) == SKS_OK, "%s", res.detail);
    ck_assert_str_eq(res.spc, "99ZZ");
    X509_free(ee);
}
END_TEST

START_TEST(cert_spc_returns_the_spc)
{
    char spc[SKS_SPC_MAX + 1];
    X509 *ee = issue(NULL, "7A7B", NULL);

    ck_assert_int_eq(sks_cert_spc(ee, spc, NULL), SKS_OK);
    ck_assert_str_eq(spc, "7A7B");
    X509_free(ee);
}
END_TEST

START_TEST(cert_spc_names_the_tnauthlist_in_its_error)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_NO_TNAUTHLIST};
    struct sks_error err;
    char spc[SKS_SPC_MAX + 1];
    X509 *ee = issue(NULL, "1234", &opts);

    sks_error_clear(&err);
    ck_assert_int_eq(sks_cert_spc(ee, spc, &err), SKS_ERR_POLICY);
    ck_assert_str_eq(spc, "");
    ck_assert_msg(strstr(err.msg, "certificate TNAuthList: extension") == err.msg, "%s", err.msg);
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_p384_key)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    X509 *ee = issue(key, "1234", NULL);

    assert_only_rule(ee, chain, SKS_RULE_KEY_P256, "EC key is on curve secp384r1");
    X509_free(ee);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(profile_rejects_rsa_key)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *ee = issue(key, "1234", NULL);

    assert_only_rule(ee, chain, SKS_RULE_KEY_P256, "public key is RSA");
    X509_free(ee);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(profile_rejects_sha384_signature)
{
    const struct sks_testpki_ee_opts opts = {.digest = "SHA384"};

    assert_opts_break_only(&opts, SKS_RULE_SIG_ALG,
                           "signed with ecdsa-with-SHA384; ecdsa-with-SHA256 is required");
}
END_TEST

START_TEST(profile_rejects_noncritical_key_usage)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_KU_NOT_CRITICAL};

    assert_opts_break_only(&opts, SKS_RULE_KEY_USAGE, "extension is not critical");
}
END_TEST

START_TEST(profile_rejects_key_encipherment_usage)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_KU_KEY_ENCIPHERMENT};

    assert_opts_break_only(&opts, SKS_RULE_KEY_USAGE,
                           "also asserts keyEncipherment; digitalSignature only is required");
}
END_TEST

START_TEST(profile_rejects_ca_true)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_CA_TRUE};

    assert_opts_break_only(&opts, SKS_RULE_BASIC_CONSTRAINTS, "asserts CA:TRUE");
}
END_TEST

START_TEST(profile_rejects_cert_without_tnauthlist)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_NO_TNAUTHLIST};
    struct sks_profile_result res;
    X509 *ee = issue(NULL, "1234", &opts);

    assert_only_rule(ee, chain, SKS_RULE_TNAUTHLIST, "extension (1.3.6.1.5.5.7.1.26) is absent");
    sks_profile_check(ee, chain, roots, NOW, &res, NULL);
    ck_assert_str_eq(res.spc, "");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_two_spcs)
{
    const struct sks_tn_entry two[] = {{SKS_TN_SPC, "1234", 0}, {SKS_TN_SPC, "5678", 0}};
    const struct sks_testpki_ee_opts opts = {.tnauthlist = two, .tnauthlist_len = 2};
    X509 *ee = issue(NULL, "1234", &opts);

    assert_only_rule(ee, chain, SKS_RULE_TNAUTHLIST,
                     "tnauthlist: holds 2 SPCs; exactly one is required");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_tn_instead_of_spc)
{
    const struct sks_tn_entry tn = {SKS_TN_ONE, "12025550100", 0};
    const struct sks_testpki_ee_opts opts = {.tnauthlist = &tn, .tnauthlist_len = 1};

    assert_opts_break_only(&opts, SKS_RULE_TNAUTHLIST, "holds 0 SPCs; exactly one is required");
}
END_TEST

START_TEST(profile_rejects_tn_beside_the_spc)
{
    const struct sks_tn_entry both[] = {{SKS_TN_SPC, "1234", 0}, {SKS_TN_RANGE, "12025550100", 10}};
    const struct sks_testpki_ee_opts opts = {.tnauthlist = both, .tnauthlist_len = 2};

    assert_opts_break_only(&opts, SKS_RULE_TNAUTHLIST,
                           "holds 1 telephone-number entries besides the SPC");
}
END_TEST

START_TEST(profile_rejects_lowercase_spc)
{
    X509 *ee = issue(NULL, "12ab", NULL);

    assert_only_rule(ee, chain, SKS_RULE_TNAUTHLIST,
                     "the SPC \"12ab\" has a character other than 0-9 and A-Z at offset 2");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_wrong_cn)
{
    const struct sks_testpki_ee_opts opts = {.cn = "SHAKEN 9999"};

    assert_opts_break_only(&opts, SKS_RULE_SUBJECT_CN,
                           "CN is \"SHAKEN 9999\"; \"SHAKEN 1234\" is required");
}
END_TEST

START_TEST(profile_rejects_cn_without_shaken_prefix)
{
    const struct sks_testpki_ee_opts opts = {.cn = "sp.example.com"};

    assert_opts_break_only(&opts, SKS_RULE_SUBJECT_CN, "CN is \"sp.example.com\"");
}
END_TEST

START_TEST(profile_rejects_cert_without_policy)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_NO_POLICY};

    assert_opts_break_only(&opts, SKS_RULE_POLICY, "certificatePolicies extension is absent");
}
END_TEST

/* The profile result for an SP certificate issued under certificate policy |policy|. */
static sks_status check_with_policy(const char *policy, struct sks_profile_result *res)
{
    const struct sks_testpki_ee_opts opts = {.policy = policy};
    EVP_PKEY *key = p256_key();
    X509 *ee = issue(key, "1234", &opts);
    struct sks_error err = {0};
    sks_status st = sks_profile_check(ee, chain, roots, pki.now, res, &err);

    X509_free(ee);
    EVP_PKEY_free(key);
    return st;
}

START_TEST(profile_takes_current_shaken_cp_oids_without_warning)
{
    static const char *const current[] = {SKS_SHAKEN_CP_V1_3_OID, SKS_SHAKEN_CP_V1_4_OID, NULL};
    struct sks_profile_result res;
    size_t i;

    for (i = 0; i < sizeof(current) / sizeof(current[0]); i++) {
        ck_assert_msg(check_with_policy(current[i], &res) == SKS_OK, "%s: %s",
                      current[i] != NULL ? current[i] : "default", res.detail);
        ck_assert_msg(res.warning[0] == '\0', "%s: %s", current[i], res.warning);
    }
}
END_TEST

START_TEST(profile_warns_of_a_superseded_shaken_cp_oid)
{
    struct sks_profile_result res;

    ck_assert_int_eq(check_with_policy("2.16.840.1.114569.1.1.1", &res), SKS_OK);
    ck_assert_msg(strstr(res.warning, "policy: certificate policy 2.16.840.1.114569.1.1.1 is a "
                                      "superseded SHAKEN CP version") != NULL,
                  "%s", res.warning);
    ck_assert_ptr_nonnull(strstr(res.warning, SKS_SHAKEN_CP_V1_3_OID " (CP v1.3)"));
    ck_assert_int_eq(check_with_policy("2.16.840.1.114569.1.1.9", &res), SKS_OK);
    ck_assert_ptr_nonnull(strstr(res.warning, "is an unknown SHAKEN CP version"));
}
END_TEST

START_TEST(profile_rejects_a_policy_oid_that_is_no_shaken_cp)
{
    const struct sks_testpki_ee_opts other = {.policy = "1.2.3.4"};
    const struct sks_testpki_ee_opts two = {.policy =
                                                SKS_SHAKEN_CP_V1_3_OID "," SKS_SHAKEN_CP_V1_4_OID};

    assert_opts_break_only(&other, SKS_RULE_POLICY,
                           "certificate policy 1.2.3.4 is not a SHAKEN CP (" SKS_SHAKEN_CP_V1_3_OID
                           " or " SKS_SHAKEN_CP_V1_4_OID ")");
    assert_opts_break_only(&two, SKS_RULE_POLICY,
                           "certificatePolicies lists 2 policy OIDs; exactly one");
}
END_TEST

START_TEST(profile_rejects_cert_without_crl_dp)
{
    const struct sks_testpki_ee_opts opts = {.flags = SKS_TESTPKI_EE_NO_CRL_DP};

    assert_opts_break_only(&opts, SKS_RULE_CRL_DP, "cRLDistributionPoints extension is absent");
}
END_TEST

START_TEST(profile_rejects_expired_cert)
{
    const struct sks_testpki_ee_opts opts = {.not_before = NOW - 30 * DAY, .not_after = NOW - DAY};

    assert_opts_break_only(&opts, SKS_RULE_VALIDITY,
                           "expired at 2025-06-14T16:26:40Z (checked at 2025-06-15T16:26:40Z)");
}
END_TEST

START_TEST(profile_rejects_not_yet_valid_cert)
{
    const struct sks_testpki_ee_opts opts = {.not_before = NOW + DAY, .not_after = NOW + 30 * DAY};

    assert_opts_break_only(&opts, SKS_RULE_VALIDITY, "not valid before 2025-06-16T16:26:40Z");
}
END_TEST

START_TEST(profile_rejects_chain_to_unknown_root)
{
    struct sks_testpki other;
    STACK_OF(X509) *other_chain = sk_X509_new_null();
    EVP_PKEY *key = p256_key();
    X509 *ee = NULL;

    ck_assert_int_eq(sks_testpki_create(&other, NOW, DAYS, NULL), SKS_OK);
    ck_assert_int_eq(sks_testpki_issue(&other, key, "1234", NULL, &ee, NULL), SKS_OK);
    ck_assert(sk_X509_push(other_chain, other.ca));
    assert_only_rule(ee, other_chain, SKS_RULE_CHAIN, "unable to get local issuer certificate");
    X509_free(ee);
    EVP_PKEY_free(key);
    sk_X509_free(other_chain);
    sks_testpki_cleanup(&other);
}
END_TEST

START_TEST(profile_rejects_chain_without_intermediate)
{
    X509 *ee = issue(NULL, "1234", NULL);

    assert_only_rule(ee, NULL, SKS_RULE_CHAIN, "unable to get local issuer certificate");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_expired_intermediate)
{
    STACK_OF(X509) *old_chain = sk_X509_new_null();
    EVP_PKEY *old_ca_key = p256_key(), *key = p256_key();
    X509 *old_ca = NULL, *ee = NULL;

    /* Valid for 10 days from 20 days ago; the end entity itself is current. */
    ck_assert_int_eq(sks_testpki_make_intermediate(pki.root, pki.root_key, old_ca_key,
                                                   NOW - 20 * DAY, 10, NULL, &old_ca, NULL),
                     SKS_OK);
    ck_assert_int_eq(
        sks_testpki_issue_ee(old_ca, old_ca_key, key, "1234", NOW, 30, NULL, &ee, NULL), SKS_OK);
    ck_assert(sk_X509_push(old_chain, old_ca));
    assert_only_rule(ee, old_chain, SKS_RULE_CHAIN, "certificate has expired (depth 1");
    X509_free(ee);
    X509_free(old_ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(old_ca_key);
    sk_X509_free(old_chain);
}
END_TEST

START_TEST(profile_reports_every_broken_rule)
{
    const struct sks_testpki_ee_opts opts = {
        .flags = SKS_TESTPKI_EE_NO_POLICY | SKS_TESTPKI_EE_NO_CRL_DP,
        .digest = "SHA512",
        .cn = "wrong",
    };
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    struct sks_profile_result res;
    struct sks_error err;
    X509 *ee = issue(key, "1234", &opts);

    sks_error_clear(&err);
    ck_assert_int_eq(sks_profile_check(ee, NULL, roots, NOW, &res, &err), SKS_ERR_POLICY);
    ck_assert_uint_eq(res.broken, SKS_RULE_KEY_P256 | SKS_RULE_SIG_ALG | SKS_RULE_SUBJECT_CN |
                                      SKS_RULE_POLICY | SKS_RULE_CRL_DP | SKS_RULE_CHAIN);
    ck_assert_ptr_nonnull(strstr(res.detail, "key-p256: "));
    ck_assert_ptr_nonnull(strstr(res.detail, "\nsig-alg: signed with ecdsa-with-SHA512"));
    ck_assert_ptr_nonnull(strstr(res.detail, "\nsubject-cn: CN is \"wrong\""));
    ck_assert_ptr_nonnull(strstr(res.detail, "\npolicy: "));
    ck_assert_ptr_nonnull(strstr(res.detail, "\ncrl-dp: "));
    ck_assert_ptr_nonnull(strstr(res.detail, "\nchain: "));
    /* The SPC is still read from the intact TNAuthList. */
    ck_assert_str_eq(res.spc, "1234");
    ck_assert_ptr_nonnull(strstr(err.msg, "certificate breaks the SHAKEN profile: key-p256: "));
    X509_free(ee);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(profile_without_roots_skips_only_the_chain)
{
    struct sks_profile_result res;
    X509 *ee = issue(NULL, "1234", NULL);

    ck_assert_int_eq(sks_profile_check(ee, NULL, NULL, NOW, &res, NULL), SKS_OK);
    ck_assert_str_eq(res.spc, "1234");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_null_certificate)
{
    struct sks_profile_result res;
    struct sks_error err;

    ck_assert_int_eq(sks_profile_check(NULL, NULL, roots, NOW, &res, &err), SKS_ERR_INPUT);
    ck_assert_str_eq(err.msg, "no certificate to check");
}
END_TEST

/* Replaces the TNAuthList value of |ee| with |der| and re-signs. */
static void set_tnauthlist_value(X509 *ee, const unsigned char *der, size_t len)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    int idx = X509_get_ext_by_OBJ(ee, oid, -1);
    ASN1_OCTET_STRING *value;

    ck_assert_int_ge(idx, 0);
    value = X509_EXTENSION_get_data(X509_get_ext(ee, idx));
    ck_assert(ASN1_OCTET_STRING_set(value, der, (int)len));
    ck_assert_int_gt(X509_sign(ee, pki.ca_key, EVP_sha256()), 0);
    ASN1_OBJECT_free(oid);
}

START_TEST(profile_rejects_empty_tnauthlist_value)
{
    static const unsigned char empty[] = {0x30, 0x00};
    X509 *ee = issue(NULL, "1234", NULL);

    set_tnauthlist_value(ee, empty, sizeof(empty));
    assert_only_rule(ee, chain, SKS_RULE_TNAUTHLIST, "tnauthlist: is an empty list");
    X509_free(ee);
}
END_TEST

START_TEST(profile_rejects_garbage_tnauthlist_value)
{
    static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0x01};
    X509 *ee = issue(NULL, "1234", NULL);

    set_tnauthlist_value(ee, garbage, sizeof(garbage));
    assert_only_rule(ee, chain, SKS_RULE_TNAUTHLIST, "tnauthlist: does not decode");
    X509_free(ee);
}
END_TEST

START_TEST(testpki_csr_pubkey_rejects_bad_signature)
{
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *key = p256_key(), *other = p256_key(), *pub = NULL;
    struct sks_error err;

    ck_assert_ptr_nonnull(req);
    ck_assert(X509_REQ_set_pubkey(req, key));
    /* Signed by a different key than the one it carries. */
    ck_assert_int_gt(X509_REQ_sign(req, other, EVP_sha256()), 0);
    sks_error_clear(&err);
    ck_assert_int_eq(sks_testpki_csr_pubkey(req, &pub, &err), SKS_ERR_VERIFY);
    ck_assert_ptr_null(pub);
    ck_assert_ptr_nonnull(strstr(err.msg, "signature does not verify"));
    ck_assert_int_gt(X509_REQ_sign(req, key, EVP_sha256()), 0);
    ck_assert_int_eq(sks_testpki_csr_pubkey(req, &pub, &err), SKS_OK);
    ck_assert_int_eq(EVP_PKEY_eq(pub, key), 1);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(other);
    EVP_PKEY_free(key);
    X509_REQ_free(req);
}
END_TEST

START_TEST(testpki_csr_pubkey_rejects_p384)
{
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), *pub = NULL;
    struct sks_error err;

    ck_assert(X509_REQ_set_pubkey(req, key));
    ck_assert_int_gt(X509_REQ_sign(req, key, EVP_sha256()), 0);
    sks_error_clear(&err);
    ck_assert_int_eq(sks_testpki_csr_pubkey(req, &pub, &err), SKS_ERR_POLICY);
    ck_assert_ptr_nonnull(strstr(err.msg, "CSR: EC key is on curve secp384r1"));
    EVP_PKEY_free(key);
    X509_REQ_free(req);
}
END_TEST

START_TEST(testpki_crl_is_empty_and_signed_by_the_ca)
{
    STACK_OF(X509_REVOKED) * revoked;

    ck_assert_ptr_nonnull(pki.crl);
    ck_assert_int_eq(X509_CRL_verify(pki.crl, X509_get0_pubkey(pki.ca)), 1);
    revoked = X509_CRL_get_REVOKED(pki.crl);
    ck_assert(revoked == NULL || sk_X509_REVOKED_num(revoked) == 0);
    ck_assert_int_eq(X509_NAME_cmp(X509_CRL_get_issuer(pki.crl), X509_get_subject_name(pki.ca)), 0);
}
END_TEST

/* ---- CRLs ------------------------------------------------------------------------ */

/*
 * |ee| of the chain |untrusted| to |trust| against the |n| CRLs |crls| at
 * |when|: SKS_OK, or |message| in the chain line.
 */
static void assert_crls_in(X509_STORE *trust, STACK_OF(X509) * untrusted, X509 *ee,
                           X509_CRL *const *crls, size_t n, time_t when, const char *message)
{
    STACK_OF(X509_CRL) *stack = sk_X509_CRL_new_null();
    struct sks_profile_result res;
    struct sks_error err;
    sks_status st;
    size_t i;

    ck_assert_ptr_nonnull(stack);
    for (i = 0; i < n; i++)
        ck_assert_int_ne(sk_X509_CRL_push(stack, crls[i]), 0);
    sks_error_clear(&err);
    st = sks_profile_check_crls(ee, untrusted, trust, stack, when, &res, &err);
    sk_X509_CRL_free(stack);
    if (message == NULL) {
        ck_assert_msg(st == SKS_OK, "%s", res.detail);
        return;
    }
    ck_assert_int_eq(st, SKS_ERR_POLICY);
    ck_assert_uint_eq(res.broken, SKS_RULE_CHAIN);
    ck_assert_msg(strstr(res.detail, message) != NULL, "want \"%s\" in: %s", message, res.detail);
}

/* |ee| of the fixture's PKI against |crl| (NULL: an empty stack). */
static void assert_crl(X509 *ee, X509_CRL *crl, time_t when, const char *message)
{
    assert_crls_in(roots, chain, ee, &crl, crl != NULL ? 1 : 0, when, message);
}

/* A CRL of |issuer| issued at |when| for |days|, signed with |key|, listing |cert| unless NULL. */
static X509_CRL *crl_issued(X509 *issuer, EVP_PKEY *key, time_t when, int days, X509 *cert)
{
    X509_CRL *crl = NULL;
    X509_REVOKED *entry;
    ASN1_TIME *at;

    ck_assert_int_eq(sks_testpki_make_crl(issuer, key, when, days, &crl, NULL), SKS_OK);
    if (cert == NULL)
        return crl;
    entry = X509_REVOKED_new();
    at = ASN1_TIME_set(NULL, when);
    ck_assert(entry != NULL && at != NULL &&
              X509_REVOKED_set_serialNumber(entry, X509_get_serialNumber(cert)) == 1 &&
              X509_REVOKED_set_revocationDate(entry, at) == 1 &&
              X509_CRL_add0_revoked(crl, entry) == 1 && X509_CRL_sort(crl) == 1 &&
              X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    ASN1_TIME_free(at);
    return crl;
}

static X509_CRL *crl_listing(X509 *issuer, EVP_PKEY *key, int days, X509 *cert)
{
    return crl_issued(issuer, key, NOW, days, cert);
}

START_TEST(profile_holds_the_certificate_to_its_issuers_crl)
{
    X509 *ee = issue(NULL, "1234", NULL), *other = issue(NULL, "1234", NULL);
    X509_CRL *revoked = crl_listing(pki.ca, pki.ca_key, DAYS, ee);
    X509_CRL *short_lived = crl_listing(pki.ca, pki.ca_key, 1, NULL);
    X509_CRL *forged = crl_listing(pki.ca, pki.root_key, DAYS, NULL);

    assert_crl(ee, pki.crl, NOW, NULL);
    assert_crl(ee, revoked, NOW, "is revoked: its issuer's CRL lists it (depth 0");
    assert_crl(other, revoked, NOW, NULL);
    assert_crl(ee, NULL, NOW, "unable to get certificate CRL");
    assert_crl(ee, short_lived, NOW + 2 * DAY, "CRL has expired");
    assert_crl(ee, forged, NOW, "CRL signature failure");
    X509_CRL_free(revoked);
    X509_CRL_free(short_lived);
    X509_CRL_free(forged);
    X509_free(ee);
    X509_free(other);
}
END_TEST

/*
 * A call judged at a time just before its issuer published the CRL at hand
 * (a request's time, a CRL fetched a moment later) is held to that CRL:
 * passed when the CRL does not list the certificate, revoked when it does.
 */
START_TEST(profile_holds_a_call_to_a_crl_issued_after_it)
{
    X509 *ee = issue(NULL, "1234", NULL);
    X509_CRL *later = crl_issued(pki.ca, pki.ca_key, NOW + 3600, DAYS, NULL);
    X509_CRL *revoked_later = crl_issued(pki.ca, pki.ca_key, NOW + 3600, DAYS, ee);

    assert_crl(ee, later, NOW + 60, NULL);
    assert_crl(ee, revoked_later, NOW + 60, "is revoked: its issuer's CRL lists it (depth 0");
    X509_CRL_free(later);
    X509_CRL_free(revoked_later);
    X509_free(ee);
}
END_TEST

/* ATIS-1000080: the STI-CA names the STI-PA's CRL, which lists revoked STI-CAs. */
START_TEST(profile_holds_the_sti_ca_to_the_sti_pa_crl)
{
    const struct sks_testpki_opts with_dp = {.ca_crl_url = "https://sti-pa.test/root-crl.pem"};
    struct sks_testpki pa;
    X509_STORE *pa_roots = NULL;
    STACK_OF(X509) *pa_chain = NULL;
    EVP_PKEY *key = p256_key();
    X509 *ee = NULL;
    X509_CRL *revoking, *forged, *short_lived, *crls[2];

    ck_assert_int_eq(sks_testpki_create_opts(&pa, NOW, DAYS, &with_dp, NULL), SKS_OK);
    ck_assert_int_eq(sks_testpki_trust(&pa, &pa_roots, &pa_chain, NULL), SKS_OK);
    ck_assert_int_eq(sks_testpki_issue(&pa, key, "1234", NULL, &ee, NULL), SKS_OK);
    revoking = crl_listing(pa.root, pa.root_key, DAYS, pa.ca);
    forged = crl_listing(pa.root, pa.ca_key, DAYS, NULL);
    short_lived = crl_listing(pa.root, pa.root_key, 1, NULL);
    crls[0] = pa.crl;

    crls[1] = pa.root_crl;
    assert_crls_in(pa_roots, pa_chain, ee, crls, 2, NOW, NULL);
    crls[1] = revoking;
    assert_crls_in(pa_roots, pa_chain, ee, crls, 2, NOW,
                   "is revoked: its issuer's CRL lists the intermediate (STI-CA) certificate at "
                   "depth 1, /C=US/O=SKS Test STI-CA/CN=SKS Test STI-CA");
    crls[1] = forged;
    assert_crls_in(pa_roots, pa_chain, ee, crls, 2, NOW, "CRL signature failure (depth 1");
    crls[1] = short_lived;
    assert_crls_in(pa_roots, pa_chain, ee, crls, 2, NOW + 2 * DAY, "CRL has expired (depth 1");
    assert_crls_in(pa_roots, pa_chain, ee, crls, 1, NOW,
                   "unable to get certificate CRL: no CRL of its issuer is at hand for the "
                   "distribution point it names (depth 1");
    /* The signer's own CRL is still required. */
    crls[0] = pa.root_crl;
    assert_crls_in(pa_roots, pa_chain, ee, crls, 1, NOW, "unable to get certificate CRL");
    X509_CRL_free(revoking);
    X509_CRL_free(forged);
    X509_CRL_free(short_lived);
    X509_free(ee);
    EVP_PKEY_free(key);
    sk_X509_pop_free(pa_chain, X509_free);
    X509_STORE_free(pa_roots);
    sks_testpki_cleanup(&pa);
}
END_TEST

static Suite *profile_suite(void)
{
    Suite *s = suite_create("profile");
    TCase *asn1 = tcase_create("tnauthlist");
    TCase *rules = tcase_create("rules");

    tcase_add_test(asn1, tnauthlist_encodes_spc_1234_as_rfc8226_bytes);
    tcase_add_test(asn1, tnauthlist_decodes_spc_tn_and_range);
    tcase_add_test(asn1, tnauthlist_rejects_trailing_data);
    tcase_add_test(asn1, tnauthlist_rejects_implicit_tag);
    tcase_add_test(asn1, tnauthlist_rejects_unknown_choice_tag);
    tcase_add_test(asn1, tnauthlist_rejects_utf8_spc);
    tcase_add_test(asn1, tnauthlist_rejects_empty_list);
    tcase_add_test(asn1, tnauthlist_rejects_ber_indefinite_length);
    tcase_add_test(asn1, tnauthlist_rejects_malformed_telephone_number);
    tcase_add_test(asn1, tnauthlist_rejects_truncated_input);
    suite_add_tcase(s, asn1);

    tcase_add_unchecked_fixture(rules, pki_setup, pki_teardown);
    tcase_add_test(rules, profile_accepts_compliant_chain_and_returns_spc);
    tcase_add_test(rules, profile_accepts_critical_tnauthlist);
    tcase_add_test(rules, profile_holds_the_certificate_to_its_issuers_crl);
    tcase_add_test(rules, profile_holds_a_call_to_a_crl_issued_after_it);
    tcase_add_test(rules, profile_holds_the_sti_ca_to_the_sti_pa_crl);
    tcase_add_test(rules, cert_spc_returns_the_spc);
    tcase_add_test(rules, cert_spc_names_the_tnauthlist_in_its_error);
    tcase_add_test(rules, profile_rejects_p384_key);
    tcase_add_test(rules, profile_rejects_rsa_key);
    tcase_add_test(rules, profile_rejects_sha384_signature);
    tcase_add_test(rules, profile_rejects_noncritical_key_usage);
    tcase_add_test(rules, profile_rejects_key_encipherment_usage);
    tcase_add_test(rules, profile_rejects_ca_true);
    tcase_add_test(rules, profile_rejects_cert_without_tnauthlist);
    tcase_add_test(rules, profile_rejects_two_spcs);
    tcase_add_test(rules, profile_rejects_tn_instead_of_spc);
    tcase_add_test(rules, profile_rejects_tn_beside_the_spc);
    tcase_add_test(rules, profile_rejects_lowercase_spc);
    tcase_add_test(rules, profile_rejects_wrong_cn);
    tcase_add_test(rules, profile_rejects_cn_without_shaken_prefix);
    tcase_add_test(rules, profile_rejects_cert_without_policy);
    tcase_add_test(rules, profile_takes_current_shaken_cp_oids_without_warning);
    tcase_add_test(rules, profile_warns_of_a_superseded_shaken_cp_oid);
    tcase_add_test(rules, profile_rejects_a_policy_oid_that_is_no_shaken_cp);
    tcase_add_test(rules, profile_rejects_cert_without_crl_dp);
    tcase_add_test(rules, profile_rejects_expired_cert);
    tcase_add_test(rules, profile_rejects_not_yet_valid_cert);
    tcase_add_test(rules, profile_rejects_chain_to_unknown_root);
    tcase_add_test(rules, profile_rejects_chain_without_intermediate);
    tcase_add_test(rules, profile_rejects_expired_intermediate);
    tcase_add_test(rules, profile_reports_every_broken_rule);
    tcase_add_test(rules, profile_without_roots_skips_only_the_chain);
    tcase_add_test(rules, profile_rejects_null_certificate);
    tcase_add_test(rules, profile_rejects_empty_tnauthlist_value);
    tcase_add_test(rules, profile_rejects_garbage_tnauthlist_value);
    tcase_add_test(rules, testpki_csr_pubkey_rejects_bad_signature);
    tcase_add_test(rules, testpki_csr_pubkey_rejects_p384);
    tcase_add_test(rules, testpki_crl_is_empty_and_signed_by_the_ca);
    suite_add_tcase(s, rules);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(profile_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
