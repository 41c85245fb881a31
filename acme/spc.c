/*
 * The TNAuthList identifier, the SPC token's check and the tkauth-01
 * answer (RFC 9447, RFC 9448, ATIS-1000080 6.3.5).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "acme/acme.h"
#include "acme/internal.h"
#include "acme/spc.h"
#include "common/file.h"
#include "common/p256.h"
#include "profile/tnauthlist.h"
#include "shaken/b64url.h"
#include "shaken/rules.h"

#define BAD "invalid-spc-token"
#define MISMATCH "spc-token-mismatch"
#define EXPIRED "spc-token-expired"

sks_status sks_acme_jwk_thumbprint(EVP_PKEY *key, unsigned char sha256[32], struct sks_error *err)
{
    unsigned char point[SKS_P256_POINT_LEN];
    char curve[32] = "", *jwk = NULL;
    size_t len = 0;
    sks_status st;

    if (key == NULL || !EVP_PKEY_is_a(key, "EC") ||
        !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                        NULL) ||
        strcmp(curve, "prime256v1") != 0)
        return sks_fail(err, SKS_ERR_INPUT, "the ACME account key is not an EC P-256 key");
    if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         sizeof(point), &len) ||
        (st = acme_p256_jwk_json(point, len, &jwk, err)) != SKS_OK)
        return sks_fail(err, SKS_ERR_INPUT,
                        "cannot read the ACME account key's public point (uncompressed P-256)");
    if (!EVP_Digest(jwk, strlen(jwk), sha256, NULL, EVP_sha256(), NULL))
        st = sks_fail(err, SKS_ERR_INTERNAL, "cannot hash the account key's JWK");
    free(jwk);
    return st;
}

sks_status sks_acme_p256_from_point(const unsigned char *point, size_t len, EVP_PKEY **key,
                                    struct sks_error *err)
{
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM params[3];
    sks_status st = SKS_OK;

    *key = NULL;
    if (point == NULL || len != SKS_P256_POINT_LEN || point[0] != 0x04)
        return sks_fail(err, SKS_ERR_INPUT,
                        "the ACME account key is not an uncompressed P-256 point (%zu bytes)", len);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        st = sks_fail(err, SKS_ERR_INPUT, "the ACME account key's point is not on P-256");
        sks_error_add_openssl(err);
    }
    EVP_PKEY_CTX_free(ctx);
    return st;
}

sks_status sks_acme_fingerprint(EVP_PKEY *key, char out[SKS_ACME_FINGERPRINT_SIZE],
                                struct sks_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char d[32];
    sks_status st;
    char *p = out;
    int i;

    if ((st = sks_acme_jwk_thumbprint(key, d, err)) != SKS_OK)
        return st;
    memcpy(p, "SHA256 ", 7);
    p += 7;
    for (i = 0; i < 32; i++) {
        if (i > 0)
            *p++ = ':';
        *p++ = hex[d[i] >> 4];
        *p++ = hex[d[i] & 15];
    }
    *p = '\0';
    return SKS_OK;
}

/* ---- the token ------------------------------------------------------------------------------- */

/* Decodes one base64url part of the JWS as a JSON object. */
static sks_status part_json(const char *s, size_t n, const char *what, json_t **out,
                            struct sks_error *err)
{
    unsigned char *raw = malloc(n * 3 / 4 + 1);
    json_error_t jerr;
    size_t len = 0;

    *out = NULL;
    if (raw == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory decoding the SPC token");
    if (b64url_decode(s, n, raw, &len) != 0) {
        free(raw);
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, what,
                              "the SPC token's %s is not unpadded base64url", what);
    }
    *out = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, what,
                              "the SPC token's %s is not a JSON object without duplicate keys",
                              what);
    }
    return SKS_OK;
}

static sks_status check_header(json_t *h, struct sks_acme_atc_info *info, struct sks_error *err)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *x5u = json_string_value(json_object_get(h, "x5u"));
    json_t *typ = json_object_get(h, "typ");

    if (alg == NULL || strcmp(alg, "ES256") != 0)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "alg",
                              "the SPC token's header has alg \"%.20s\"; an STI-PA signs ES256",
                              alg != NULL ? alg : "(none)");
    if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "typ",
                              "the SPC token's header typ is not \"JWT\"");
    /* ATIS-1000080: the STI-CA finds the STI-PA's certificate through x5u. */
    if (x5u == NULL || strncmp(x5u, "https://", 8) != 0 || strlen(x5u) >= sizeof(info->x5u))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "x5u",
                              "the SPC token's header has no https x5u (of at most %zu "
                              "characters) naming the STI-PA certificate",
                              sizeof(info->x5u) - 1);
    snprintf(info->x5u, sizeof(info->x5u), "%s", x5u);
    return SKS_OK;
}

/* RFC 4572 5 in RFC 9447's spelling: a hash name, a space, colon-separated hex pairs. */
static bool fingerprint_equal(const char *got, const char *want)
{
    const char *sp = strchr(got, ' ');

    if (sp == NULL || strlen(got) != strlen(want))
        return false;
    if ((size_t)(sp - got) != 6 || strncasecmp(got, "SHA256", 6) != 0)
        return false;
    return strcasecmp(sp, want + 6) == 0;
}

/*
 * Decodes |s| as base64url or as standard base64 with its padding (what a
 * deployed STI-PA writes in tkvalue, RFC 9448 notwithstanding) into |out|
 * of |size| bytes.  Returns 0 and sets *len, or -1.
 */
static int b64_any_decode(const char *s, unsigned char *out, size_t size, size_t *len)
{
    char url[SKS_ACME_TKVALUE_MAX + 1];
    size_t n = strlen(s), i, pad = 0;

    if (n == 0 || n > SKS_ACME_TKVALUE_MAX || (n * 3) / 4 > size)
        return -1;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    if (pad > 0 && n % 4 != 0)
        return -1;
    for (i = 0; i < n - pad; i++)
        url[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    return b64url_decode(url, n - pad, out, len);
}

static sks_status check_atc(json_t *atc, const struct sks_acme_atc_expect *e, const char *tkvalue,
                            struct sks_acme_atc_info *info, struct sks_error *err)
{
    const char *tktype = json_string_value(json_object_get(atc, "tktype"));
    const char *value = json_string_value(json_object_get(atc, "tkvalue"));
    const char *fp = json_string_value(json_object_get(atc, "fingerprint"));
    json_t *ca = json_object_get(atc, "ca");
    char want_fp[SKS_ACME_FINGERPRINT_SIZE];
    sks_status st;

    if (tktype == NULL || strcmp(tktype, SKS_ACME_ID_TNAUTHLIST) != 0)
        return sks_fail_field(err, SKS_ERR_POLICY, MISMATCH, "atc.tktype",
                              "the SPC token's atc.tktype is \"%.40s\", not \"TNAuthList\" "
                              "(RFC 9448)",
                              tktype != NULL ? tktype : "(none)");
    if (value == NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc.tkvalue",
                              "the SPC token has no atc.tkvalue");
    if (strlen(value) > SKS_ACME_TKVALUE_MAX)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc.tkvalue",
                              "the SPC token's atc.tkvalue is over %d characters",
                              SKS_ACME_TKVALUE_MAX);
    if (strcmp(value, tkvalue) != 0) {
        struct sks_tnauthlist_summary sum;
        unsigned char der[SKS_TNAUTHLIST_DER_MAX], want[SKS_TNAUTHLIST_DER_MAX];
        size_t len = 0, wlen = 0;
        struct sks_error ignored;
        bool decoded = b64_any_decode(value, der, sizeof(der), &len) == 0;

        /* The same DER in the other alphabet: the token is for this SPC. */
        if (decoded && b64url_decode(tkvalue, strlen(tkvalue), want, &wlen) == 0 && len == wlen &&
            memcmp(der, want, len) == 0)
            goto same;
        /* Say which SPC the token is for when it decodes. */
        if (decoded && sks_tnauthlist_decode(der, len, &sum, &ignored) == SKS_OK &&
            sum.first_spc != NULL)
            return sks_fail_field(
                err, SKS_ERR_POLICY, MISMATCH, "atc.tkvalue",
                "the SPC token's atc.tkvalue is for SPC \"%s\"%s, not the identity's SPC "
                "\"%s\"",
                sum.spc_buf, sum.spcs + sum.ranges + sum.ones > 1 ? " and more" : "", e->spc);
        return sks_fail_field(err, SKS_ERR_POLICY, MISMATCH, "atc.tkvalue",
                              "the SPC token's atc.tkvalue is not the base64url DER TNAuthList "
                              "of the identity's SPC \"%s\"",
                              e->spc);
    }
same:
    snprintf(info->tkvalue, sizeof(info->tkvalue), "%s", value);
    if (fp == NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc.fingerprint",
                              "the SPC token has no atc.fingerprint");
    if ((st = sks_acme_fingerprint(e->account, want_fp, err)) != SKS_OK)
        return st;
    if (!fingerprint_equal(fp, want_fp))
        return sks_fail_field(err, SKS_ERR_POLICY, MISMATCH, "atc.fingerprint",
                              "the SPC token's atc.fingerprint \"%.110s\" is not the ACME account "
                              "key's (%s): the token was issued for another account",
                              fp, want_fp);
    if (ca != NULL && !json_is_boolean(ca))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc.ca",
                              "the SPC token's atc.ca is not a boolean");
    if ((ca != NULL && json_is_true(ca)) != e->ca)
        return sks_fail_field(err, SKS_ERR_POLICY, MISMATCH, "atc.ca",
                              e->ca ? "the SPC token does not allow a CA certificate (atc.ca)"
                                    : "the SPC token is for a CA certificate (atc.ca true); an "
                                      "end-entity certificate is wanted");
    return SKS_OK;
}

static sks_status check_claims(json_t *c, const struct sks_acme_atc_expect *e,
                               struct sks_acme_atc_info *info, struct sks_error *err)
{
    json_t *exp = json_object_get(c, "exp");
    const char *jti = json_string_value(json_object_get(c, "jti"));
    json_t *atc = json_object_get(c, "atc");
    long long now = e->now != 0 ? e->now : (long long)time(NULL);
    char *tkvalue = NULL;
    sks_status st;

    if (!json_is_integer(exp))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "exp",
                              "the SPC token has no integer exp (RFC 9448 requires one)");
    if (jti == NULL || jti[0] == '\0' || strlen(jti) >= sizeof(info->jti))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "jti",
                              "the SPC token has no jti of 1 to %zu characters",
                              sizeof(info->jti) - 1);
    if (!json_is_object(atc))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc",
                              "the SPC token has no atc object (RFC 9447)");
    info->exp = json_integer_value(exp);
    snprintf(info->jti, sizeof(info->jti), "%s", jti);
    if ((st = acme_tnauthlist_value(e->spc, &tkvalue, err)) != SKS_OK)
        return st;
    st = check_atc(atc, e, tkvalue, info, err);
    free(tkvalue);
    if (st != SKS_OK)
        return st;
    if (info->exp <= now)
        return sks_fail_field(err, SKS_ERR_POLICY, EXPIRED, "exp",
                              "the SPC token expired %lld s ago (exp %lld); get a new one from "
                              "the STI-PA",
                              now - info->exp, info->exp);
    return SKS_OK;
}

sks_status sks_acme_atc_check(const char *token, size_t len, const struct sks_acme_atc_expect *e,
                              struct sks_acme_atc_info *info, struct sks_error *err)
{
    struct sks_acme_atc_info scratch;
    const char *dot1, *dot2, *end = token + len;
    unsigned char sig[SKS_ACME_ATC_MAX];
    json_t *header = NULL, *claims = NULL;
    size_t siglen = 0;
    sks_status st;

    if (info == NULL)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (len == 0 || len > SKS_ACME_ATC_MAX)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc",
                              "the SPC token is %zu bytes; it must be 1 to %d", len,
                              SKS_ACME_ATC_MAX);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc",
                              "the SPC token is not a compact JWS (three base64url parts "
                              "separated by dots)");
    if (b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), sig, &siglen) != 0 || siglen != 64)
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "signature",
                              "the SPC token's signature is not 64 bytes of base64url (ES256)");
    if ((st = part_json(token, (size_t)(dot1 - token), "header", &header, err)) != SKS_OK ||
        (st = check_header(header, info, err)) != SKS_OK ||
        (st = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "claims", &claims, err)) != SKS_OK)
        goto done;
    st = check_claims(claims, e, info, err);
done:
    json_decref(header);
    json_decref(claims);
    return st;
}

/* The characters of a compact JWS. */
static bool token_chars(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

sks_status sks_acme_atc_answer(const char *token, char **json, struct sks_error *err)
{
    size_t n = strlen(token);

    *json = NULL;
    if (n > SKS_ACME_ATC_MAX || !token_chars(token, n))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc",
                              "the SPC token is not a compact JWS of at most %d characters",
                              SKS_ACME_ATC_MAX);
    /* The token's characters need no JSON escaping. */
    *json = malloc(n + 11);
    if (*json == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory for the tkauth-01 answer");
    snprintf(*json, n + 11, "{\"atc\":\"%s\"}", token);
    return SKS_OK;
}

sks_status sks_acme_tkauth_answer(void *arg, const json_t *authz, const json_t *challenge,
                                  char **payload, struct sks_error *err)
{
    const struct sks_acme_tkauth *t = arg;
    const json_t *id = json_object_get(authz, "identifier");
    const char *id_type = json_string_value(json_object_get(id, "type"));
    const char *id_value = json_string_value(json_object_get(id, "value"));
    const char *type = json_string_value(json_object_get(challenge, "type"));
    const char *tktype = json_string_value(json_object_get(challenge, "tkauth-type"));

    *payload = NULL;
    if (id_type == NULL || strcmp(id_type, SKS_ACME_ID_TNAUTHLIST) != 0 || id_value == NULL ||
        strcmp(id_value, t->tkvalue) != 0)
        return sks_fail_field(err, SKS_ERR_INPUT, "acme-protocol", "acme",
                              "the ACME server's authorization is not for the TNAuthList "
                              "ordered (identifier type \"%.40s\"); no SPC token sent",
                              id_type != NULL ? id_type : "(none)");
    if (type == NULL || strcmp(type, SKS_ACME_TKAUTH_01) != 0 || tktype == NULL ||
        strcmp(tktype, SKS_ACME_TKAUTH_TYPE) != 0)
        return sks_fail_field(err, SKS_ERR_INPUT, "acme-protocol", "acme",
                              "the ACME server asks a \"%.40s\" challenge of tkauth-type "
                              "\"%.40s\", not tkauth-01 with atc (RFC 9447); no SPC token sent",
                              type != NULL ? type : "(none)", tktype != NULL ? tktype : "(none)");
    return sks_acme_atc_answer(t->token, payload, err);
}

/* Keeps the token in |data| (white space around it dropped) as a malloc'd string. */
static sks_status token_take(const unsigned char *data, size_t len, const char *from, char **token,
                             struct sks_error *err)
{
    const char *s = (const char *)data, *e = s + len;

    while (s < e && strchr(" \t\r\n", *s) != NULL)
        s++;
    while (e > s && strchr(" \t\r\n", e[-1]) != NULL)
        e--;
    if (!token_chars(s, (size_t)(e - s)))
        return sks_fail_field(err, SKS_ERR_INPUT, BAD, "atc",
                              "%s does not hold an SPC token (one compact JWS: base64url parts "
                              "and dots)",
                              from);
    *token = strndup(s, (size_t)(e - s));
    if (*token == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory for the SPC token");
    return SKS_OK;
}

sks_status sks_acme_atc_from_file(const char *path, char **token, struct sks_error *err)
{
    unsigned char *data = NULL;
    char from[160];
    size_t len = 0;
    sks_status st;

    *token = NULL;
    /* Room for a trailing newline or two around the largest token. */
    if ((st = sks_file_read(path, SKS_ACME_ATC_MAX + 64, &data, &len, err)) != SKS_OK) {
        sks_error_prefix(err, "SPC token file");
        return st;
    }
    snprintf(from, sizeof(from), "SPC token file %.120s", path);
    st = token_take(data, len, from, token, err);
    OPENSSL_clear_free(data, len);
    return st;
}

/* Reads the child's output until EOF, the limit or the deadline. */
static sks_status read_child(int fd, long timeout_ms, unsigned char *buf, size_t size, size_t *len,
                             struct sks_error *err)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    *len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        long left;
        ssize_t n;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left = timeout_ms -
               ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0)
            return sks_fail_field(err, SKS_ERR_UNAVAILABLE, "spc-token-command", "command",
                                  "the SPC token command did not finish within %ld ms", timeout_ms);
        if (poll(&p, 1, (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return sks_fail(err, SKS_ERR_SYSTEM, "poll on the SPC token command: %s",
                            strerror(errno));
        }
        if (p.revents == 0)
            continue;
        if (*len == size)
            return sks_fail_field(err, SKS_ERR_INPUT, "spc-token-command", "command",
                                  "the SPC token command printed more than %zu bytes", size);
        n = read(fd, buf + *len, size - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sks_fail(err, SKS_ERR_SYSTEM, "read from the SPC token command: %s",
                            strerror(errno));
        if (n == 0)
            return SKS_OK;
        *len += (size_t)n;
    }
}

sks_status sks_acme_atc_from_command(const char *command, const char *spc, const char *tkvalue,
                                     const char *fingerprint, bool ca, long timeout_ms,
                                     char **token, struct sks_error *err)
{
    unsigned char out[SKS_ACME_ATC_MAX + 64];
    int fds[2], status = 0;
    size_t len = 0;
    sks_status st;
    pid_t pid;

    *token = NULL;
    if (command == NULL || command[0] == '\0')
        return sks_fail_field(err, SKS_ERR_INPUT, "spc-token-command", "command",
                              "no SPC token command given");
    if (pipe2(fds, O_CLOEXEC) != 0)
        return sks_fail(err, SKS_ERR_SYSTEM, "pipe for the SPC token command: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return sks_fail(err, SKS_ERR_SYSTEM, "fork for the SPC token command: %s", strerror(errno));
    }
    if (pid == 0) {
        if (dup2(fds[1], STDOUT_FILENO) < 0 || setenv("SKS_SPC", spc, 1) != 0 ||
            setenv("SKS_ACME_TKVALUE", tkvalue, 1) != 0 ||
            setenv("SKS_ACME_FINGERPRINT", fingerprint, 1) != 0 ||
            setenv("SKS_ACME_CA", ca ? "true" : "false", 1) != 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    st = read_child(fds[0], timeout_ms, out, sizeof(out), &len, err);
    close(fds[0]);
    if (st != SKS_OK)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (st == SKS_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        if (WIFEXITED(status))
            st = sks_fail_field(err, SKS_ERR_UNAVAILABLE, "spc-token-command", "command",
                                "the SPC token command exited with status %d", WEXITSTATUS(status));
        else
            st = sks_fail_field(err, SKS_ERR_UNAVAILABLE, "spc-token-command", "command",
                                "the SPC token command was killed by signal %d", WTERMSIG(status));
    }
    if (st == SKS_OK)
        st = token_take(out, len, "the SPC token command's output", token, err);
    OPENSSL_cleanse(out, sizeof(out));
    return st;
}
