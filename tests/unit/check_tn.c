/* TN canonicalization (RFC 8224 section 8.3). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "shaken/tn.h"

static void assert_canonical(const char *in, const char *want)
{
    struct sks_error err = {0};
    char out[SKS_TN_MAX + 1];

    ck_assert_msg(sks_tn_canonicalize(in, out, &err) == SKS_OK, "%s: %s", in, err.msg);
    ck_assert_str_eq(out, want);
}

static void assert_rejected(const char *in, const char *named, const char *problem)
{
    struct sks_error err = {0};
    char out[SKS_TN_MAX + 1];

    ck_assert_int_eq(sks_tn_canonicalize(in, out, &err), SKS_ERR_INPUT);
    ck_assert_int_eq(err.status, SKS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, named) != NULL, "message does not name the TN: %s", err.msg);
    ck_assert_msg(strstr(err.msg, problem) != NULL, "message does not say \"%s\": %s", problem,
                  err.msg);
    ck_assert_str_eq(out, "");
}

START_TEST(tn_strips_visual_separators_and_plus)
{
    assert_canonical("+1 (215) 555-0131", "12155550131");
    assert_canonical("1.215.555.0131", "12155550131");
    assert_canonical("12155550131", "12155550131");
    assert_canonical("*67#", "*67#");
    assert_canonical(" +44 20 7946 0000 ", "442079460000");
    assert_canonical("123456789012345", "123456789012345");
}
END_TEST

START_TEST(tn_rejects_empty)
{
    assert_rejected("", "TN \"\"", "is empty");
    assert_rejected("+", "TN \"+\"", "is empty");
    assert_rejected("(--)", "TN \"(--)\"", "is empty");
}
END_TEST

START_TEST(tn_rejects_sixteen_digits)
{
    assert_rejected("1234567890123456", "TN \"1234567890123456\"", "has 16 digits");
    assert_rejected("+1 234 567 890 123 456", "TN \"+1 234 567 890 123 456\"", "has 16 digits");
}
END_TEST

START_TEST(tn_rejects_letters_and_misplaced_plus)
{
    assert_rejected("1800FLOWERS", "TN \"1800FLOWERS\"", "'F' at position 5");
    assert_rejected("sip:12155550131", "TN \"sip:12155550131\"", "'s' at position 1");
    assert_rejected("1215+5550131", "TN \"1215+5550131\"", "'+' at position 5");
    assert_rejected("++12155550131", "TN \"++12155550131\"", "'+' at position 2");
    assert_rejected("1215\n555", "TN \"1215?555\"", "0x0a at position 5");
}
END_TEST

START_TEST(tn_message_bounds_hostile_input)
{
    char big[4096];
    struct sks_error err = {0};
    char out[SKS_TN_MAX + 1];

    memset(big, '7', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(sks_tn_canonicalize(big, out, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "...\" has 4095 digits"));
}
END_TEST

START_TEST(tn_check_canonical_accepts_only_canonical)
{
    struct sks_error err = {0};

    ck_assert_int_eq(sks_tn_check_canonical("12155550131", &err), SKS_OK);
    ck_assert_int_eq(sks_tn_check_canonical("+12155550131", &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "that would be \"12155550131\""));
    ck_assert_int_eq(sks_tn_check_canonical("1-215", &err), SKS_ERR_INPUT);
    ck_assert_int_eq(sks_tn_check_canonical("", &err), SKS_ERR_INPUT);
    ck_assert_int_eq(sks_tn_check_canonical("abc", &err), SKS_ERR_INPUT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tn");
    TCase *tc = tcase_create("canonical");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, tn_strips_visual_separators_and_plus);
    tcase_add_test(tc, tn_rejects_empty);
    tcase_add_test(tc, tn_rejects_sixteen_digits);
    tcase_add_test(tc, tn_rejects_letters_and_misplaced_plus);
    tcase_add_test(tc, tn_message_bounds_hostile_input);
    tcase_add_test(tc, tn_check_canonical_accepts_only_canonical);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
