/*
 * The fetcher's address guard: every kind of non-public address is refused
 * by name, IPv4-mapped IPv6 included, and the public neighbours of each
 * range pass.  (verify-fetch.sh fetches through the guard for real.)
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>

#include "fetch/fetch.h"

/* The guard's verdict on the textual address |ip|. */
static const char *kind_of(const char *ip)
{
    unsigned char addr[16];
    int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;

    ck_assert_int_eq(inet_pton(family, ip, addr), 1);
    return sks_fetch_address_kind(family, addr);
}

static void assert_kind(const char *ip, const char *want)
{
    const char *got = kind_of(ip);

    ck_assert_msg(got != NULL, "%s passes the guard; it is %s", ip, want);
    ck_assert_msg(strcmp(got, want) == 0, "%s is %s, not %s", ip, got, want);
}

static void assert_public(const char *ip)
{
    const char *got = kind_of(ip);

    ck_assert_msg(got == NULL, "%s is refused as %s", ip, got != NULL ? got : "");
}

START_TEST(guard_refuses_every_non_public_ipv4_range)
{
    assert_kind("0.0.0.0", "an unspecified");
    assert_kind("0.1.2.3", "an unspecified");
    assert_kind("127.0.0.1", "a loopback");
    assert_kind("127.255.255.254", "a loopback");
    assert_kind("10.0.0.1", "a private");
    assert_kind("172.16.0.1", "a private");
    assert_kind("172.31.255.255", "a private");
    assert_kind("192.168.1.1", "a private");
    assert_kind("100.64.0.1", "a shared (RFC 6598)");
    assert_kind("100.127.255.255", "a shared (RFC 6598)");
    assert_kind("169.254.169.254", "a link-local");
    assert_kind("224.0.0.1", "a multicast");
    assert_kind("239.255.255.255", "a multicast");
    assert_kind("240.0.0.1", "a reserved");
    assert_kind("255.255.255.255", "a reserved");
}
END_TEST

START_TEST(guard_lets_the_public_neighbours_of_each_range_pass)
{
    assert_public("1.0.0.1");
    assert_public("11.0.0.1");
    assert_public("126.255.255.255");
    assert_public("128.0.0.1");
    assert_public("172.15.255.255");
    assert_public("172.32.0.1");
    assert_public("192.167.1.1");
    assert_public("192.169.1.1");
    assert_public("100.63.255.255");
    assert_public("100.128.0.1");
    assert_public("169.253.1.1");
    assert_public("223.255.255.255");
    assert_public("2600:1f18::1");
}
END_TEST

START_TEST(guard_refuses_every_non_public_ipv6_range)
{
    assert_kind("::", "an unspecified");
    assert_kind("::1", "a loopback");
    assert_kind("::2", "a reserved");
    assert_kind("fc00::1", "a private (unique local)");
    assert_kind("fdff:ffff::1", "a private (unique local)");
    assert_kind("fe80::1", "a link-local");
    assert_kind("febf::1", "a link-local");
    assert_kind("fec0::1", "a site-local");
    assert_kind("ff02::1", "a multicast");
}
END_TEST

START_TEST(guard_judges_ipv4_mapped_ipv6_as_ipv4)
{
    assert_kind("::ffff:127.0.0.1", "a loopback");
    assert_kind("::ffff:10.1.2.3", "a private");
    assert_kind("::ffff:169.254.169.254", "a link-local");
    assert_public("::ffff:8.8.8.8");
}
END_TEST

START_TEST(guard_refuses_other_families)
{
    ck_assert_str_eq(sks_fetch_address_kind(AF_UNIX, NULL), "a non-IP");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc = tcase_create("address guard");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, guard_refuses_every_non_public_ipv4_range);
    tcase_add_test(tc, guard_lets_the_public_neighbours_of_each_range_pass);
    tcase_add_test(tc, guard_refuses_every_non_public_ipv6_range);
    tcase_add_test(tc, guard_judges_ipv4_mapped_ipv6_as_ipv4);
    tcase_add_test(tc, guard_refuses_other_families);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
