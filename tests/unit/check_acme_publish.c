/*
 * The [publish] section read from a real configuration file: a file without
 * it has no publisher; the x5u template gives each version its own URL and
 * must name {version}; a directory publisher's x5u must stay below its
 * directory; a misspelt key, an unknown method and a method without what it
 * needs are refused naming the file and the key.  (acme-publish.sh
 * publishes against a real STI-CR.)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "acme/publish.h"

/* A configuration file holding |text|, loaded: *p the publisher (or NULL), the status returned. */
static sks_status load(const char *text, struct acme_publisher **p, struct sks_error *err)
{
    char path[] = "/tmp/check_acme_publish.XXXXXX";
    struct sks_config cfg;
    int fd = mkstemp(path);
    sks_status st;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    st = sks_config_load(path, &cfg, err);
    ck_assert_int_eq(st, SKS_OK);
    st = acme_publisher_from_config(&cfg, p, err);
    sks_config_free(&cfg);
    unlink(path);
    return st;
}

#define DIRECTORY                                                                                  \
    "[publish]\nmethod = directory\ndirectory = /srv/cr\nurl_prefix = https://cr.test/sti/\n"

START_TEST(a_file_without_the_section_has_no_publisher)
{
    struct acme_publisher *p = (struct acme_publisher *)1;
    struct sks_error err;

    ck_assert_int_eq(load("[sks]\ngrace_period = 60\n", &p, &err), SKS_OK);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(x5u_template_gives_each_version_its_url)
{
    struct acme_publisher *p = NULL;
    struct sks_error err;
    char url[64];

    ck_assert_int_eq(
        load(DIRECTORY "x5u = https://cr.test/sti/{identity}-{version}.pem\n", &p, &err), SKS_OK);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(acme_publisher_x5u(p, "sp-main", 12, url, sizeof(url), &err), SKS_OK);
    ck_assert_str_eq(url, "https://cr.test/sti/sp-main-12.pem");
    /* A name that is not an identity's never reaches a URL or a file name. */
    ck_assert_int_ne(acme_publisher_x5u(p, "../etc", 1, url, sizeof(url), &err), SKS_OK);
    ck_assert_int_ne(acme_publisher_x5u(p, "sp-main", 1, url, 20, &err), SKS_OK);
    acme_publisher_free(p);
}
END_TEST

/* |text| is refused with the code publish-config (or |code|) and a message holding |want|. */
static void refused(const char *text, const char *code, const char *want)
{
    struct acme_publisher *p = NULL;
    struct sks_error err;

    ck_assert_int_ne(load(text, &p, &err), SKS_OK);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(sks_error_code(&err), code);
    ck_assert_msg(strstr(err.msg, want) != NULL, "\"%s\" does not say \"%s\"", err.msg, want);
}

START_TEST(bad_sections_are_refused_naming_the_key)
{
    refused(DIRECTORY "x5u = https://cr.test/sti/{identity}.pem\n", "publish-config",
            "names no {version}");
    refused(DIRECTORY "x5u = http://cr.test/sti/{version}.pem\n", "publish-config",
            "is not an https URL");
    refused(DIRECTORY "x5u = https://cr.test/sti/{name}-{version}.pem\n", "publish-config",
            "only {identity} and {version}");
    refused(DIRECTORY "x5u = https://cr.test/sti/../{version}.pem\n", "publish-path",
            "escapes the directory");
    refused(DIRECTORY "x5u = https://cr.test/other/{version}.pem\n", "publish-path",
            "is not below url_prefix");
    refused(DIRECTORY "x5u = https://cr.test/sti/%2e%2e/{version}.pem\n", "publish-path",
            "no plain file path");
    refused("[publish]\nmethod = ftp\nx5u = https://cr.test/{version}\n", "publish-config",
            "method = ftp");
    refused("[publish]\nx5u = https://cr.test/{version}\n", "publish-config", "method is missing");
    refused("[publish]\nmethod = put\nx5u = https://cr.test/{version}\n", "publish-config",
            "needs credentials_file");
    refused("[publish]\nmethod = command\nx5u = https://cr.test/{version}\n", "publish-config",
            "needs command");
    refused("[publish]\nmethod = command\ncommand = /bin/true\nx5u = https://cr.test/{version}\n"
            "verify_wiat = 3\n",
            "publish-config", "verify_wiat is not a setting");
    refused("[publish]\nmethod = command\ncommand = /bin/true\nx5u = https://cr.test/{version}\n"
            "verify_wait = -1\n",
            "publish-config", "verify_wait takes a whole number");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("acme_publish");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, a_file_without_the_section_has_no_publisher);
    tcase_add_test(tc, x5u_template_gives_each_version_its_url);
    tcase_add_test(tc, bad_sections_are_refused_naming_the_key);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
