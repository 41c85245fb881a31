/*
 * The fetcher's address guard: every kind of non-public address is refused
 * by name, IPv4-mapped IPv6 included, and the public neighbours of each
 * range pass.  (verify-fetch.sh fetches through the guard for real.)
 *
 * The general request (sks_fetch_request) against the loopback HTTPS
 * server tests/integration/https-server.py, with a TLS certificate the
 * fixture makes with the openssl CLI: methods, bodies and headers sent;
 * status, Location, Replay-Nonce and Retry-After read; a POST never
 * follows a redirect; the guards hold as for sks_fetch().
 */
#include "config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the general request, against a loopback HTTPS server ------------------- */

static char work[] = "/tmp/check_fetch.XXXXXX";
static char base[64];
static char ca_file[128];
static pid_t server_pid = -1;

static void run(const char *cmd)
{
    ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void server_start(void)
{
    const char *srcdir = getenv("top_srcdir");
    char cmd[1024], script[512], dir[160], cert[160], key[160], portfile[160];
    FILE *f;
    int port = 0;

    ck_assert_ptr_nonnull(mkdtemp(work));
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir www && echo chain > www/chain.pem && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             "-keyout tls.key -out tls.pem 2>/dev/null",
             work);
    run(cmd);
    snprintf(ca_file, sizeof(ca_file), "%s/tls.pem", work);
    snprintf(script, sizeof(script), "%s/tests/integration/https-server.py",
             srcdir != NULL ? srcdir : ".");
    snprintf(dir, sizeof(dir), "%s/www", work);
    snprintf(cert, sizeof(cert), "%s/tls.pem", work);
    snprintf(key, sizeof(key), "%s/tls.key", work);
    snprintf(portfile, sizeof(portfile), "%s/port", work);
    if ((server_pid = fork()) == 0) {
        unsetenv("LD_PRELOAD");
        freopen("/dev/null", "w", stderr);
        execlp("python3", "python3", script, dir, cert, key, portfile, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(server_pid, 0);
    for (int i = 0; i < 200 && port == 0; i++) {
        if ((f = fopen(portfile, "r")) != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0)
            usleep(50 * 1000);
    }
    ck_assert_msg(port > 0, "https-server.py did not start");
    snprintf(base, sizeof(base), "https://localhost:%d", port);
}

static void server_stop(void)
{
    char cmd[160];

    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static void loopback_opts(struct sks_fetch_opts *o)
{
    sks_fetch_opts_init(o);
    o->ca_file = ca_file;
    o->allow_private = true;
}

/* |req| to PATH on the server; SKS_OK expected. */
static void request_ok(const char *path, const struct sks_fetch_request *req,
                       struct sks_fetched *out)
{
    struct sks_fetch_opts o;
    struct sks_error err = {0};
    char url[160];

    loopback_opts(&o);
    snprintf(url, sizeof(url), "%s%s", base, path);
    ck_assert_msg(sks_fetch_request(&o, url, req, out, &err) == SKS_OK, "%s: %s", url, err.msg);
}

START_TEST(post_sends_body_headers_and_reads_201_location_and_nonce)
{
    struct sks_fetch_request req = {.method = "POST",
                                    .content_type = "application/jose+json",
                                    .body = "{\"a\":1}",
                                    .body_len = 7,
                                    .authorization = "Bearer s3cret"};
    struct sks_fetched f;

    request_ok("/echo", &req, &f);
    ck_assert_int_eq(f.status, 201);
    ck_assert_str_eq(f.location, "/made/1");
    ck_assert_str_eq(f.replay_nonce, "nonce-1");
    ck_assert_str_eq(f.content_type, "application/json");
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"method\": \"POST\""));
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"content_type\": \"application/jose+json\""));
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"authorization\": \"Bearer s3cret\""));
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"body\": \"{\\\"a\\\":1}\""));
    ck_assert_int_eq(f.retry_after, -1);
    sks_fetched_clear(&f);
    ck_assert_ptr_null(f.location);
}
END_TEST

START_TEST(put_is_sent_as_put)
{
    struct sks_fetch_request req = {.method = "PUT", .body = "x", .body_len = 1};
    struct sks_fetched f;

    request_ok("/echo", &req, &f);
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"method\": \"PUT\""));
    ck_assert_ptr_nonnull(strstr((char *)f.data, "\"authorization\": null"));
    sks_fetched_clear(&f);
}
END_TEST

START_TEST(head_reads_the_replay_nonce_without_a_body)
{
    struct sks_fetch_request req = {.method = "HEAD"};
    struct sks_fetched f;

    request_ok("/nonce", &req, &f);
    ck_assert_int_eq(f.status, 200);
    ck_assert_str_eq(f.replay_nonce, "nonce-2");
    ck_assert_uint_eq(f.len, 0);
    sks_fetched_clear(&f);
}
END_TEST

START_TEST(an_error_status_fails_unless_any_status)
{
    struct sks_fetch_request req = {.method = "POST", .body = "{}", .body_len = 2};
    struct sks_fetch_opts o;
    struct sks_error err = {0};
    struct sks_fetched f;
    char url[160];

    loopback_opts(&o);
    snprintf(url, sizeof(url), "%s/problem", base);
    ck_assert_int_ne(sks_fetch_request(&o, url, &req, &f, &err), SKS_OK);
    ck_assert_str_eq(sks_error_code(&err), "fetch-http");
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTP status 400"));
    ck_assert_int_eq(f.status, 400);
    ck_assert_ptr_null(f.data);

    req.any_status = true;
    request_ok("/problem", &req, &f);
    ck_assert_int_eq(f.status, 400);
    ck_assert_str_eq(f.content_type, "application/problem+json");
    ck_assert_str_eq(f.replay_nonce, "nonce-3");
    ck_assert_ptr_nonnull(strstr((char *)f.data, "urn:ietf:params:acme:error:malformed"));
    sks_fetched_clear(&f);
}
END_TEST

START_TEST(a_post_never_follows_a_redirect)
{
    struct sks_fetch_request post = {.method = "POST", .any_status = true};
    struct sks_fetch_request get = {.method = "GET"};
    struct sks_fetched f;

    request_ok("/redirect-ok", &post, &f);
    ck_assert_int_eq(f.status, 302);
    ck_assert_str_eq(f.location, "/chain.pem");
    sks_fetched_clear(&f);
    /* A GET does, as sks_fetch() does; the Location read is the last response's. */
    request_ok("/redirect-ok", &get, &f);
    ck_assert_int_eq(f.status, 200);
    ck_assert_ptr_null(f.location);
    ck_assert_str_eq((char *)f.data, "chain\n");
    sks_fetched_clear(&f);
}
END_TEST

START_TEST(retry_after_is_read_as_seconds_or_a_date)
{
    struct sks_fetch_request req = {.any_status = true};
    struct sks_fetched f;

    request_ok("/retry/7", &req, &f);
    ck_assert_int_eq(f.status, 503);
    ck_assert_int_eq(f.retry_after, 7);
    sks_fetched_clear(&f);
    request_ok("/retry-in/120", &req, &f);
    ck_assert_msg(f.retry_after >= 115 && f.retry_after <= 120, "retry_after %ld", f.retry_after);
    sks_fetched_clear(&f);
    request_ok("/retry/soon", &req, &f);
    ck_assert_int_eq(f.retry_after, -1);
    sks_fetched_clear(&f);
}
END_TEST

START_TEST(the_guards_hold_for_requests)
{
    struct sks_fetch_request req = {.method = "POST", .any_status = true};
    struct sks_fetch_opts o;
    struct sks_error err = {0};
    struct sks_fetched f;
    char url[160];

    loopback_opts(&o);
    ck_assert_int_ne(sks_fetch_request(&o, "http://localhost/echo", &req, &f, &err), SKS_OK);
    ck_assert_str_eq(sks_error_code(&err), "fetch-refused");
    ck_assert_ptr_nonnull(strstr(err.msg, "only https URLs"));

    o.allow_private = false;
    snprintf(url, sizeof(url), "%s/echo", base);
    ck_assert_int_ne(sks_fetch_request(&o, url, &req, &f, &err), SKS_OK);
    ck_assert_str_eq(sks_error_code(&err), "fetch-refused");
    ck_assert_ptr_nonnull(strstr(err.msg, "a loopback address"));

    o.allow_private = true;
    o.ca_file = NULL; /* the system's trust store does not know the test certificate */
    ck_assert_int_ne(sks_fetch_request(&o, url, &req, &f, &err), SKS_OK);
    ck_assert_str_eq(sks_error_code(&err), "fetch-tls");

    loopback_opts(&o);
    o.max_bytes = 16;
    ck_assert_int_ne(sks_fetch_request(&o, url, &req, &f, &err), SKS_OK);
    ck_assert_str_eq(sks_error_code(&err), "fetch-too-large");

    loopback_opts(&o);
    req.method = "DELETE";
    ck_assert_int_ne(sks_fetch_request(&o, url, &req, &f, &err), SKS_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "method DELETE"));
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
    tc = tcase_create("request");
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, post_sends_body_headers_and_reads_201_location_and_nonce);
    tcase_add_test(tc, put_is_sent_as_put);
    tcase_add_test(tc, head_reads_the_replay_nonce_without_a_body);
    tcase_add_test(tc, an_error_status_fails_unless_any_status);
    tcase_add_test(tc, a_post_never_follows_a_redirect);
    tcase_add_test(tc, retry_after_is_read_as_seconds_or_a_date);
    tcase_add_test(tc, the_guards_hold_for_requests);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
