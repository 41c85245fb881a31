/*
 * Identity header verification: the vectors verify; every kind of bad input
 * is refused with its reason and SIP response code, and nothing crashes.
 *
 * Bad PASSporTs are made by signing hand-written header and claims JSON
 * with a test key, so that each case breaks one thing and only that.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "shaken/b64url.h"
#include "shaken/passport.h"
#include "testpki/testpki.h"
#include "verify/verify.h"

#define X5U "https://cert.example.org/passport.cer"
#define INFO ";info=<" X5U ">;alg=ES256;ppt=shaken"
#define HDR "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}"
#define NOW 1700000000
#define CLAIMS_AT(iat)                                                                             \
    "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":" iat ",\"orig\":{\"tn\":"      \
    "\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-426655440000\"}"
#define CLAIMS CLAIMS_AT("1700000000")
#define V1_IAT 1443208345

static EVP_PKEY *key, *a1_pub;
static char *v1, *v3;

/* ---- fixtures and helpers --------------------------------------------------------- */

static char *slurp(const char *name)
{
    char path[1024], *buf;
    size_t len;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", getenv("SKS_VECTORS"), name);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    buf = calloc(1, 65536);
    len = fread(buf, 1, 65535, f);
    fclose(f);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    return buf;
}

static void setup(void)
{
    char *pem = slurp("rfc8225-a1-public.pem");
    BIO *bio = BIO_new_mem_buf(pem, -1);

    a1_pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(a1_pub);
    BIO_free(bio);
    free(pem);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(key);
    v1 = slurp("shaken-v1.identity");
    v3 = slurp("div-v3.identity");
}

static void teardown(void)
{
    EVP_PKEY_free(key);
    EVP_PKEY_free(a1_pub);
    free(v1);
    free(v3);
}

static void append_b64(char *out, const void *data, size_t len)
{
    b64url_encode(data, len, out + strlen(out));
}

/*
 * An Identity header from raw header and claims JSON, signed with |k| (or
 * carrying |sig| of |siglen| bytes when |sig| is not NULL), then |params|.
 */
static char *forge_sig(const char *hdr, const char *claims, const unsigned char *sig, size_t siglen,
                       const char *params)
{
    char *out = calloc(1, 3 * SKS_IDENTITY_MAX);
    unsigned char rs[SKS_ES256_SIG_LEN];
    struct sks_error err = {0};

    append_b64(out, hdr, strlen(hdr));
    strcat(out, ".");
    append_b64(out, claims, strlen(claims));
    if (sig == NULL) {
        ck_assert_int_eq(sks_es256_sign_evp(key, (unsigned char *)out, strlen(out), rs, &err),
                         SKS_OK);
        sig = rs;
        siglen = sizeof(rs);
    }
    strcat(out, ".");
    append_b64(out, sig, siglen);
    strcat(out, params);
    return out;
}

static char *forge(const char *hdr, const char *claims, const char *params)
{
    return forge_sig(hdr, claims, NULL, 0, params);
}

static struct sks_verify_opts opts_with(EVP_PKEY *pub, time_t now)
{
    struct sks_verify_opts o;

    sks_verify_opts_init(&o);
    o.pubkey = pub;
    o.now = now;
    return o;
}

/* Verifies |hdr| with |o| and checks the outcome. */
static void expect(const char *hdr, size_t len, const struct sks_verify_opts *o, int sip,
                   const char *words)
{
    struct sks_verify_result res;
    struct sks_error err = {0};
    sks_status st = sks_identity_verify(hdr, len, o, &res, &err);

    ck_assert_msg(res.sip_code == sip, "want SIP %d, got %d %s (%s)", sip, res.sip_code,
                  res.sip_reason, err.msg);
    ck_assert_str_eq(res.sip_reason, sks_sip_reason(sip));
    if (sip == SKS_SIP_OK) {
        ck_assert_int_eq(st, SKS_OK);
        return;
    }
    ck_assert_int_ne(st, SKS_OK);
    ck_assert_int_eq(err.status, st);
    ck_assert_msg(strstr(err.msg, words) != NULL, "want \"%s\" in: %s", words, err.msg);
    /* Nothing half-verified leaks out of a failure. */
    ck_assert_str_eq(res.passport.orig, "");
}

static void expect_ours(const char *hdr, int sip, const char *words)
{
    struct sks_verify_opts o = opts_with(key, NOW);

    expect(hdr, strlen(hdr), &o, sip, words);
}

static void expect_forged(char *hdr, int sip, const char *words)
{
    expect_ours(hdr, sip, words);
    free(hdr);
}

/* ---- what must verify -------------------------------------------------------------- */

START_TEST(verify_accepts_v1_vector_with_rfc8225_a1_key)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT + 30);
    struct sks_verify_result res;
    struct sks_error err = {0};

    ck_assert_msg(sks_identity_verify(v1, strlen(v1), &o, &res, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(res.sip_code, SKS_SIP_OK);
    ck_assert_int_eq(res.passport.ppt, SKS_PPT_SHAKEN);
    ck_assert_str_eq(res.passport.x5u, X5U);
    ck_assert_str_eq(res.passport.orig, "12155550121");
    ck_assert_uint_eq(res.passport.ndest, 1);
    ck_assert_str_eq(res.passport.dest[0], "12155550131");
    ck_assert_int_eq(res.passport.attest, 'A');
    ck_assert_str_eq(res.passport.origid, "123e4567-e89b-12d3-a456-426655440000");
    ck_assert_int_eq(res.passport.iat, V1_IAT);
    ck_assert(!res.chain_checked);
}
END_TEST

START_TEST(verify_accepts_div_vector)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);
    struct sks_verify_result res;
    struct sks_error err = {0};

    ck_assert_msg(sks_identity_verify(v3, strlen(v3), &o, &res, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(res.passport.ppt, SKS_PPT_DIV);
    ck_assert_str_eq(res.passport.div, "12155551213");
    ck_assert_str_eq(res.passport.dest[0], "12155551214");
}
END_TEST

START_TEST(verify_accepts_params_in_any_order_quoted_ppt_and_spaces)
{
    char *jws = strndup(v1, (size_t)(strchr(v1, ';') - v1));
    static const char *const tails[] = {
        ";ppt=\"shaken\";alg=ES256;info=<" X5U ">",
        " ; info = <" X5U "> ; ppt = shaken",
        ";INFO=<" X5U ">;Ppt=shaken;alg=ES256;foo=bar;flag",
        ";info=<" X5U ">;ppt=shaken\r\n",
        ";info=<" X5U ">;alg=es256;ppt=SHAKEN",
    };
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);
    char buf[4096];
    size_t i;

    for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", jws, tails[i]);
        expect(buf, strlen(buf), &o, SKS_SIP_OK, NULL);
    }
    free(jws);
}
END_TEST

START_TEST(verify_accepts_iat_at_the_window_edges)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT + 60);

    expect(v1, strlen(v1), &o, SKS_SIP_OK, NULL);
    o.now = V1_IAT - 60;
    expect(v1, strlen(v1), &o, SKS_SIP_OK, NULL);
    o.now = V1_IAT + 10;
    o.max_age = 10;
    expect(v1, strlen(v1), &o, SKS_SIP_OK, NULL);
}
END_TEST

START_TEST(verify_does_not_need_nul_terminated_input)
{
    size_t len = strlen(v1);
    char *copy = malloc(len);
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);

    memcpy(copy, v1, len);
    expect(copy, len, &o, SKS_SIP_OK, NULL);
    free(copy);
}
END_TEST

/* ---- 428, 436 --------------------------------------------------------------------- */

START_TEST(verify_rejects_missing_header_with_428)
{
    expect_ours("", SKS_SIP_USE_IDENTITY_HEADER, "no Identity header");
    expect_ours(" \r\n\t", SKS_SIP_USE_IDENTITY_HEADER, "no Identity header");
}
END_TEST

START_TEST(verify_rejects_missing_or_malformed_info_with_436)
{
    expect_forged(forge(HDR, CLAIMS, ";alg=ES256;ppt=shaken"), SKS_SIP_BAD_IDENTITY_INFO,
                  "no info parameter");
    expect_forged(forge(HDR, CLAIMS, ";info=" X5U ";ppt=shaken"), SKS_SIP_BAD_IDENTITY_INFO,
                  "is not in angle brackets");
    expect_forged(forge(HDR, CLAIMS, ";info=\"" X5U "\";ppt=shaken"), SKS_SIP_BAD_IDENTITY_INFO,
                  "is not in angle brackets");
    expect_forged(forge(HDR, CLAIMS, ";info=<>;ppt=shaken"), SKS_SIP_BAD_IDENTITY_INFO,
                  "info is empty");
    expect_forged(forge(HDR, CLAIMS, ";info=<https://a b>;ppt=shaken"), SKS_SIP_BAD_IDENTITY_INFO,
                  "byte 0x20 at position 10");
}
END_TEST

/* ---- 437 -------------------------------------------------------------------------- */

START_TEST(verify_rejects_alg_none_hs256_rs256_with_437)
{
    static const char *const algs[] = {"none", "HS256", "RS256", "ES384", "es256"};
    unsigned char hmac[32] = {1};
    char hdr[256];
    size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char want[64];
        snprintf(hdr, sizeof(hdr),
                 "{\"alg\":\"%s\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}",
                 algs[i]);
        snprintf(want, sizeof(want), "alg \"%s\" is not supported", algs[i]);
        /* alg none: the JWS has an empty signature, as RFC 7518 3.6 says. */
        expect_forged(forge_sig(hdr, CLAIMS, hmac, i == 0 ? 0 : sizeof(hmac), INFO),
                      SKS_SIP_UNSUPPORTED_CREDENTIAL, want);
    }
    expect_forged(forge(HDR, CLAIMS, ";info=<" X5U ">;alg=RS256;ppt=shaken"),
                  SKS_SIP_UNSUPPORTED_CREDENTIAL, "Identity header's alg \"RS256\"");
}
END_TEST

START_TEST(verify_rejects_non_p256_key_with_437)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    struct sks_verify_opts o = opts_with(p384, V1_IAT);

    expect(v1, strlen(v1), &o, SKS_SIP_UNSUPPORTED_CREDENTIAL, "ES256 needs P-256");
    EVP_PKEY_free(p384);
}
END_TEST

/* ---- 438 -------------------------------------------------------------------------- */

START_TEST(verify_rejects_truncated_jws_with_438)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);
    size_t jws_len = (size_t)(strchr(v1, ';') - v1), i;
    struct sks_verify_result res;
    struct sks_error err;

    /*
     * Every truncation fails, none crashes, each says why: inside the JWS as
     * a malformed header (438) or one without info (436); inside the
     * parameters also as a cut alg value (437).
     */
    for (i = 1; i < strlen(v1); i++) {
        err.msg[0] = '\0';
        ck_assert_int_ne(sks_identity_verify(v1, i, &o, &res, &err), SKS_OK);
        ck_assert_msg(res.sip_code == SKS_SIP_INVALID_IDENTITY_HEADER ||
                          res.sip_code == SKS_SIP_BAD_IDENTITY_INFO ||
                          (i > jws_len && res.sip_code == SKS_SIP_UNSUPPORTED_CREDENTIAL),
                      "cut at %zu: %d %s", i, res.sip_code, err.msg);
        ck_assert_msg(err.msg[0] != '\0', "cut at %zu: no message", i);
    }
    expect(v1, 20, &o, SKS_SIP_INVALID_IDENTITY_HEADER, "not a JWS of three parts");
    expect(v1, jws_len - 1, &o, SKS_SIP_BAD_IDENTITY_INFO, "no info parameter");
}
END_TEST

START_TEST(verify_rejects_bad_base64url_with_438)
{
    char *bad = strdup(v1);
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);

    bad[strchr(bad, '.') - bad + 5] = '+';
    expect(bad, strlen(bad), &o, SKS_SIP_INVALID_IDENTITY_HEADER, "claims is not valid base64url");
    strcpy(bad, v1);
    bad[3] = '=';
    expect(bad, strlen(bad), &o, SKS_SIP_INVALID_IDENTITY_HEADER, "header is not valid base64url");
    strcpy(bad, v1);
    bad[strchr(bad, ';') - bad - 3] = '/';
    expect(bad, strlen(bad), &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "signature is not valid base64url");
    free(bad);
}
END_TEST

START_TEST(verify_rejects_der_signature_with_438)
{
    /* What an OpenSSL signer returns: SEQUENCE { INTEGER r, INTEGER s }. */
    unsigned char der[72] = {0x30, 70, 0x02, 33, 0x00, 0x80};

    der[4 + 33] = 0x02;
    der[5 + 33] = 33;
    der[6 + 33] = 0x00;
    der[7 + 33] = 0x80;
    expect_forged(forge_sig(HDR, CLAIMS, der, sizeof(der), INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "72-byte DER ECDSA signature");
    expect_forged(forge_sig(HDR, CLAIMS, der + 8, 63, INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "signature is 63 bytes; ES256 is 64 bytes");
}
END_TEST

START_TEST(verify_rejects_unknown_ppt_with_438)
{
    static const char rcd_hdr[] =
        "{\"alg\":\"ES256\",\"ppt\":\"rcd\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}";

    expect_forged(forge(HDR, CLAIMS, ";info=<" X5U ">;alg=ES256;ppt=xyz"),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "ppt \"xyz\" is not supported");
    /* RFC 9795: a PASSporT of type rcd is nothing without its rcd claim. */
    expect_forged(forge(rcd_hdr, CLAIMS, ";info=<" X5U ">;alg=ES256;ppt=rcd"),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "rcd: is missing");
    expect_forged(forge(rcd_hdr, CLAIMS, INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "PASSporT ppt \"rcd\" differs from the Identity header's ppt=shaken");
    expect_forged(forge(HDR, CLAIMS, ";info=<" X5U ">;alg=ES256"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "no ppt parameter");
}
END_TEST

START_TEST(verify_rejects_x5u_different_from_info_with_438)
{
    expect_forged(forge(HDR, CLAIMS, ";info=<https://evil.example.net/c.cer>;ppt=shaken"),
                  SKS_SIP_INVALID_IDENTITY_HEADER,
                  "x5u \"" X5U "\" differs from the Identity header's info "
                  "<https://evil.example.net/c.cer>");
}
END_TEST

START_TEST(verify_rejects_iat_as_string_with_438)
{
    expect_forged(forge(HDR, CLAIMS_AT("\"1700000000\""), INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "claim iat is a string; it must be an integer");
}
END_TEST

START_TEST(verify_rejects_bad_header_fields_with_438)
{
    expect_forged(forge("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"JWT\",\"x5u\":\"" X5U
                        "\"}",
                        CLAIMS, INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "typ \"JWT\" is not \"passport\"");
    expect_forged(
        forge("{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\"}", CLAIMS, INFO),
        SKS_SIP_INVALID_IDENTITY_HEADER, "header has no x5u");
    expect_forged(forge("{\"alg\":\"ES256\",\"crit\":[\"foo\"],\"foo\":1,\"ppt\":\"shaken\","
                        "\"typ\":\"passport\",\"x5u\":\"" X5U "\"}",
                        CLAIMS, INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "critical extensions");
    expect_forged(forge("{\"alg\":\"ES256\",\"alg\":\"none\"}", CLAIMS, INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "duplicate object key");
    expect_forged(forge("[\"ES256\"]", CLAIMS, INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "header is not a JSON object");
}
END_TEST

START_TEST(verify_rejects_bad_claims_with_438)
{
    expect_forged(forge(HDR,
                        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"+12155550131\"]},\"iat\":1700000000,"
                        "\"orig\":{\"tn\":\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-"
                        "426655440000\"}",
                        INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "is not in canonical form");
    expect_forged(forge(HDR,
                        "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1700000000,"
                        "\"orig\":{\"tn\":\"12155550121\"}}",
                        INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "claim origid is missing");
    expect_forged(forge(HDR,
                        "{\"attest\":\"X\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1700000000,"
                        "\"orig\":{\"tn\":\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-"
                        "426655440000\"}",
                        INFO),
                  SKS_SIP_INVALID_IDENTITY_HEADER, "attest \"X\" is not A, B or C");
}
END_TEST

START_TEST(verify_rejects_malformed_params_with_438)
{
    expect_forged(forge(HDR, CLAIMS, INFO ";ppt=shaken"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "ppt parameter twice");
    expect_forged(forge(HDR, CLAIMS, ";info=<" X5U ";ppt=shaken"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "no closing '>'");
    expect_forged(forge(HDR, CLAIMS, INFO ";x=\"open"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "no closing '\"'");
    expect_forged(forge(HDR, CLAIMS, INFO ";;"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "empty parameter");
    expect_forged(forge(HDR, CLAIMS, INFO " junk"), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "unexpected text \"junk\"");
    expect_forged(forge(HDR, "", INFO), SKS_SIP_INVALID_IDENTITY_HEADER,
                  "empty claims (compact form)");
}
END_TEST

START_TEST(verify_rejects_bad_signature_with_438)
{
    struct sks_verify_opts o = opts_with(key, V1_IAT);
    char *bad = strdup(v1);
    char *sig = strchr(bad, ';') - 20;

    /* The right key for V1 is A.1; ours is not it. */
    expect(v1, strlen(v1), &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "signature does not verify with the public key given");
    o.pubkey = a1_pub;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    expect(bad, strlen(bad), &o, SKS_SIP_INVALID_IDENTITY_HEADER, "does not verify");
    free(bad);
}
END_TEST

START_TEST(verify_rejects_huge_header_before_parsing)
{
    size_t big = 1 << 20;
    char *huge = malloc(big);
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT);

    memset(huge, 'A', big);
    memcpy(huge, v1, strlen(v1));
    expect(huge, big, &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "the Identity header is 1048576 bytes; the limit is 16384");
    expect(huge, SKS_IDENTITY_MAX + 1, &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "is 16385 bytes; the limit is 16384");
    free(huge);
}
END_TEST

/* ---- 403 -------------------------------------------------------------------------- */

START_TEST(verify_rejects_old_iat_with_403)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT + 61);

    expect(v1, strlen(v1), &o, SKS_SIP_STALE_DATE, "iat 1443208345 is 61 seconds old");
    o.now = 0; /* now: the 2015 vector is years old */
    expect(v1, strlen(v1), &o, SKS_SIP_STALE_DATE, "seconds old");
}
END_TEST

START_TEST(verify_rejects_future_iat_with_403)
{
    struct sks_verify_opts o = opts_with(a1_pub, V1_IAT - 61);

    expect(v1, strlen(v1), &o, SKS_SIP_STALE_DATE, "is 61 seconds in the future");
    o.max_age = 5;
    o.now = V1_IAT - 6;
    expect(v1, strlen(v1), &o, SKS_SIP_STALE_DATE, "is 6 seconds in the future");
}
END_TEST

/* ---- the call's numbers ----------------------------------------------------------- */

START_TEST(verify_compares_orig_and_dest_with_the_call)
{
    static const char dests[][SKS_TN_MAX + 1] = {"12155550131"};
    static const char other_dest[][SKS_TN_MAX + 1] = {"12155550199"};
    struct sks_verify_opts o = opts_with(key, NOW);
    char *hdr = forge(HDR, CLAIMS, INFO);

    o.call_orig = "12155550121";
    o.call_dest = dests;
    o.ncall_dest = 1;
    expect(hdr, strlen(hdr), &o, SKS_SIP_OK, "");
    o.call_orig = "12155550122";
    expect(hdr, strlen(hdr), &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "the PASSporT orig 12155550121 is not the call's originating TN 12155550122");
    o.call_orig = NULL;
    o.call_dest = other_dest;
    expect(hdr, strlen(hdr), &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "the call's destination TN 12155550199 is not among the PASSporT's dest");
    free(hdr);
}
END_TEST

START_TEST(verstat_follows_the_sip_code)
{
    ck_assert_str_eq(sks_verstat(SKS_SIP_OK), "TN-Validation-Passed");
    ck_assert_str_eq(sks_verstat(SKS_SIP_STALE_DATE), "TN-Validation-Failed");
    ck_assert_str_eq(sks_verstat(SKS_SIP_UNSUPPORTED_CREDENTIAL), "TN-Validation-Failed");
    ck_assert_str_eq(sks_verstat(SKS_SIP_INVALID_IDENTITY_HEADER), "TN-Validation-Failed");
    ck_assert_str_eq(sks_verstat(SKS_SIP_USE_IDENTITY_HEADER), "No-TN-Validation");
    ck_assert_str_eq(sks_verstat(SKS_SIP_BAD_IDENTITY_INFO), "No-TN-Validation");
    ck_assert_str_eq(sks_verstat(SKS_SIP_SERVER_ERROR), "No-TN-Validation");
}
END_TEST

/* ---- credentials ------------------------------------------------------------------ */

/* A credential source over one key, counting what it was asked. */
struct counting_source {
    EVP_PKEY *key; /* NULL: every lookup fails with 436 */
    int lookups, releases;
    char x5u[256];
};

static sks_status counting_lookup(void *ctx, const char *x5u, time_t now,
                                  struct sks_verify_credential *cred, int *sip,
                                  struct sks_error *err)
{
    struct counting_source *cs = ctx;

    (void)now;
    cs->lookups++;
    snprintf(cs->x5u, sizeof(cs->x5u), "%s", x5u);
    if (cs->key == NULL) {
        *sip = SKS_SIP_BAD_IDENTITY_INFO;
        return sks_fail(err, SKS_ERR_UNAVAILABLE, "x5u %s: connection refused", x5u);
    }
    cred->key = cs->key;
    cred->chain_checked = true;
    strcpy(cred->spc, "1234");
    cred->ref = cs;
    return SKS_OK;
}

static void counting_release(void *ctx, struct sks_verify_credential *cred)
{
    struct counting_source *cs = ctx;

    ck_assert_ptr_eq(cred->ref, cs);
    cs->releases++;
}

START_TEST(verify_asks_the_source_only_for_well_formed_fresh_passports)
{
    struct counting_source cs = {.key = key};
    struct sks_verify_source src = {counting_lookup, counting_release, &cs};
    struct sks_verify_opts o = opts_with(NULL, NOW);
    struct sks_verify_result res;
    struct sks_error err = {0};
    char *hdr = forge(HDR, CLAIMS, INFO);
    char *stale = forge(HDR, CLAIMS_AT("1600000000"), INFO);

    o.source = &src;
    ck_assert_msg(sks_identity_verify(hdr, strlen(hdr), &o, &res, &err) == SKS_OK, "%s", err.msg);
    ck_assert_str_eq(cs.x5u, X5U);
    ck_assert(res.chain_checked);
    ck_assert_str_eq(res.spc, "1234");
    ck_assert_int_eq(cs.lookups, 1);
    ck_assert_int_eq(cs.releases, 1);
    /* Stale or malformed input costs no lookup. */
    expect(stale, strlen(stale), &o, SKS_SIP_STALE_DATE, "seconds old");
    expect(hdr, strlen(hdr) - 3, &o, SKS_SIP_INVALID_IDENTITY_HEADER, "");
    ck_assert_int_eq(cs.lookups, 1);
    /* A credential for another key: looked up, released, and refused. */
    cs.key = a1_pub;
    expect(hdr, strlen(hdr), &o, SKS_SIP_INVALID_IDENTITY_HEADER, "does not verify");
    ck_assert_int_eq(cs.releases, 2);
    /* No credential to be had: the source's 436 and reason. */
    cs.key = NULL;
    expect(hdr, strlen(hdr), &o, SKS_SIP_BAD_IDENTITY_INFO, "x5u " X5U ": connection refused");
    ck_assert_int_eq(cs.lookups, 3);
    ck_assert_int_eq(cs.releases, 2);
    free(hdr);
    free(stale);
}
END_TEST

START_TEST(verify_without_credential_is_a_caller_error)
{
    struct sks_verify_opts o = opts_with(NULL, V1_IAT);

    expect(v1, strlen(v1), &o, SKS_SIP_SERVER_ERROR, "no certificate or public key");
}
END_TEST

/* A test PKI issues the certificate for |key|, the key that signs the PASSporTs. */
START_TEST(verify_with_certificate_chain_checks_profile_and_reports_spc)
{
    struct sks_testpki_ee_opts no_tnauthlist = {.flags = SKS_TESTPKI_EE_NO_TNAUTHLIST};
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_STORE *roots = X509_STORE_new();
    X509 *ee = NULL, *ee_bad = NULL, *ee_other = NULL;
    struct sks_verify_result res;
    struct sks_error err = {0};
    struct sks_verify_opts o;
    struct sks_testpki pki;
    char *hdr = forge(HDR, CLAIMS, INFO);

    ck_assert_msg(sks_testpki_create(&pki, NOW, 365, &err) == SKS_OK, "%s", err.msg);
    ck_assert_msg(sks_testpki_issue(&pki, key, "1234", NULL, &ee, &err) == SKS_OK, "%s", err.msg);
    ck_assert(sks_testpki_issue(&pki, key, "1234", &no_tnauthlist, &ee_bad, &err) == SKS_OK);
    ck_assert(sks_testpki_issue(&pki, other, "5678", NULL, &ee_other, &err) == SKS_OK);
    ck_assert_int_eq(sk_X509_push(chain, pki.ca), 1);
    ck_assert_int_eq(X509_STORE_add_cert(roots, pki.root), 1);

    sks_verify_opts_init(&o);
    o.cert = ee;
    o.chain = chain;
    o.roots = roots;
    o.now = NOW;
    ck_assert_msg(sks_identity_verify(hdr, strlen(hdr), &o, &res, &err) == SKS_OK, "%s", err.msg);
    ck_assert(res.chain_checked);
    ck_assert_str_eq(res.spc, "1234");

    /* Without the STI-CA the chain does not reach the STI-PA root. */
    o.chain = NULL;
    expect(hdr, strlen(hdr), &o, SKS_SIP_UNSUPPORTED_CREDENTIAL, "certificate is not acceptable");
    o.chain = chain;
    o.cert = ee_bad;
    expect(hdr, strlen(hdr), &o, SKS_SIP_UNSUPPORTED_CREDENTIAL, "certificate is not acceptable");
    /* A good certificate for another key: the signature is what fails. */
    o.cert = ee_other;
    expect(hdr, strlen(hdr), &o, SKS_SIP_INVALID_IDENTITY_HEADER,
           "does not verify with the certificate's public key");
    /* Without roots the certificate's key verifies, and no chain is claimed. */
    o.cert = ee;
    o.roots = NULL;
    ck_assert_int_eq(sks_identity_verify(hdr, strlen(hdr), &o, &res, &err), SKS_OK);
    ck_assert(!res.chain_checked);
    ck_assert_str_eq(res.spc, "");

    free(hdr);
    X509_free(ee);
    X509_free(ee_bad);
    X509_free(ee_other);
    EVP_PKEY_free(other);
    sk_X509_free(chain);
    X509_STORE_free(roots);
    sks_testpki_cleanup(&pki);
}
END_TEST

/* ---- a diverted call: the shaken PASSporT and its div PASSporTs (RFC 8946) ------------ */

#define DIV_X5U "https://cert.example.org/div.cer"
#define DIV_INFO ";info=<" DIV_X5U ">;alg=ES256;ppt=div"
#define DIV_HDR "{\"alg\":\"ES256\",\"ppt\":\"div\",\"typ\":\"passport\",\"x5u\":\"" DIV_X5U "\"}"
/* The call 12155550121 -> 12155550131 as the shaken PASSporT CLAIMS says, then diverted. */
#define DIV_CLAIMS(orig, from, to)                                                                 \
    "{\"dest\":{\"tn\":[\"" to "\"]},\"div\":{\"tn\":\"" from "\"},\"iat\":1700000000,"            \
    "\"orig\":{\"tn\":\"" orig "\"}}"

/*
 * The originating provider's key signs the shaken PASSporT (SPC 1234), the
 * diverting provider's (|div_key|, SPC 5678) the div PASSporTs: each found
 * by its x5u, as a verifier finds them.
 */
struct two_sources {
    EVP_PKEY *div_key;
    int lookups;
};

static sks_status two_lookup(void *ctx, const char *x5u, time_t now,
                             struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    struct two_sources *ts = ctx;
    bool div = strcmp(x5u, DIV_X5U) == 0;

    (void)now, (void)sip, (void)err;
    ts->lookups++;
    cred->key = div ? ts->div_key : key;
    cred->chain_checked = true;
    strcpy(cred->spc, div ? "5678" : "1234");
    return SKS_OK;
}

static void two_release(void *ctx, struct sks_verify_credential *cred)
{
    (void)ctx, (void)cred;
}

/* A div PASSporT signed by |k|. */
static char *forge_div(EVP_PKEY *k, const char *claims)
{
    EVP_PKEY *saved = key;
    char *out;

    key = k;
    out = forge(DIV_HDR, claims, DIV_INFO);
    key = saved;
    return out;
}

struct div_fixture {
    EVP_PKEY *div_key;
    struct two_sources ts;
    struct sks_verify_source src;
    struct sks_verify_opts o;
    char call_dest[1][SKS_TN_MAX + 1];
    char *shaken;
    struct sks_identity_value v[SKS_VERIFY_IDENTITIES_MAX + 1];
    char *owned[SKS_VERIFY_IDENTITIES_MAX + 1];
    size_t n;
};

/* The call from 12155550121, arriving for |to|, with no values yet. */
static void div_setup(struct div_fixture *f, const char *to)
{
    memset(f, 0, sizeof(*f));
    f->div_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ck_assert_ptr_nonnull(f->div_key);
    f->ts.div_key = f->div_key;
    f->src = (struct sks_verify_source){two_lookup, two_release, &f->ts};
    f->o = opts_with(NULL, NOW);
    f->o.source = &f->src;
    f->o.call_orig = "12155550121";
    snprintf(f->call_dest[0], sizeof(f->call_dest[0]), "%s", to);
    f->o.call_dest = f->call_dest;
    f->o.ncall_dest = 1;
}

static void div_add(struct div_fixture *f, char *hdr)
{
    f->owned[f->n] = hdr;
    f->v[f->n].hdr = hdr;
    f->v[f->n].len = strlen(hdr);
    f->n++;
}

static void div_teardown(struct div_fixture *f)
{
    size_t i;

    for (i = 0; i < f->n; i++)
        free(f->owned[i]);
    EVP_PKEY_free(f->div_key);
}

/* The set of |f| gives |sip| with |code| ("": the value's own) about value |at| (1-based; 0: none).
 */
static void expect_set(struct div_fixture *f, int sip, const char *code, size_t at,
                       const char *words)
{
    struct sks_verify_set set;
    struct sks_error err = {0};
    sks_status st = sks_identities_verify(f->v, f->n, &f->o, &set, &err);

    ck_assert_msg(set.res.sip_code == sip, "want SIP %d, got %d (%s)", sip, set.res.sip_code,
                  err.msg);
    ck_assert_str_eq(set.res.sip_reason, sks_sip_reason(sip));
    if (sip == SKS_SIP_OK) {
        ck_assert_int_eq(st, SKS_OK);
        ck_assert(set.at_fault == SKS_VERIFY_NO_VALUE);
        return;
    }
    ck_assert_int_ne(st, SKS_OK);
    ck_assert_msg(strstr(err.msg, words) != NULL, "want \"%s\" in: %s", words, err.msg);
    if (code[0] != '\0')
        ck_assert_str_eq(sks_error_code(&err), code);
    ck_assert_msg(set.at_fault == (at == 0 ? SKS_VERIFY_NO_VALUE : at - 1), "at fault: %zu",
                  set.at_fault);
    ck_assert_uint_eq(set.nlinks, 0);
    ck_assert_str_eq(set.res.passport.orig, "");
}

START_TEST(verify_set_accepts_shaken_and_div_chain_in_any_order)
{
    struct div_fixture f;
    struct sks_verify_set set;
    struct sks_error err = {0};

    div_setup(&f, "12155550151");
    /* Diverted twice: 0131 -> 0141 -> 0151; the values come in any order. */
    div_add(&f, forge_div(f.div_key, DIV_CLAIMS("12155550121", "12155550141", "12155550151")));
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, forge_div(f.div_key, DIV_CLAIMS("12155550121", "12155550131", "12155550141")));
    ck_assert_msg(sks_identities_verify(f.v, f.n, &f.o, &set, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(set.res.sip_code, SKS_SIP_OK);
    ck_assert_str_eq(sks_verstat(set.res.sip_code), "TN-Validation-Passed");
    ck_assert_int_eq(set.res.passport.ppt, SKS_PPT_SHAKEN);
    ck_assert_int_eq(set.res.passport.attest, 'A');
    ck_assert_str_eq(set.res.spc, "1234");
    ck_assert_uint_eq(set.nlinks, 2);
    ck_assert_str_eq(set.links[0].div, "12155550131");
    ck_assert_str_eq(set.links[0].dest[0], "12155550141");
    ck_assert_str_eq(set.links[1].div, "12155550141");
    ck_assert_str_eq(set.links[1].dest[0], "12155550151");
    /* ATIS-1000085: the diverting provider signs with its own certificate, SPC and all. */
    ck_assert(set.links[1].chain_checked);
    ck_assert_str_eq(set.links[1].spc, "5678");
    ck_assert_int_eq(f.ts.lookups, 3);
    div_teardown(&f);
}
END_TEST

START_TEST(verify_set_of_one_shaken_passport_is_its_own_verification)
{
    struct div_fixture f;

    div_setup(&f, "12155550131");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    expect_set(&f, SKS_SIP_OK, "", 0, "");
    /* Undiverted, the call's To is the shaken PASSporT's dest. */
    strcpy(f.call_dest[0], "12155550141");
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "", 1, "12155550141 is not among");
    div_teardown(&f);
}
END_TEST

/*
 * Sets that are not one call, each a shaken PASSporT for 0121 -> 0131 and
 * div PASSporTs: refused before any credential is looked up, but for the
 * last dest, which is checked as the last value is verified.
 */
START_TEST(verify_set_refuses_sets_that_are_not_one_call)
{
    static const struct {
        const char *to, *div[2];
        const char *code;
        size_t at;
        const char *words;
    } cases[] = {
        /* Diverted to 0141, the call arrives for 0131: the diversion is not this call's. */
        {"12155550131",
         {DIV_CLAIMS("12155550121", "12155550131", "12155550141")},
         "",
         2,
         "Identity value 2 (ppt=div): the call's destination TN 12155550131"},
        /* A diversion from 0139, where the call never went. */
        {"12155550141",
         {DIV_CLAIMS("12155550121", "12155550139", "12155550141")},
         "div-unlinked",
         2,
         "diverts the call from 12155550139, which is not the dest"},
        /* Two diversions of the same leg. */
        {"12155550141",
         {DIV_CLAIMS("12155550121", "12155550131", "12155550141"),
          DIV_CLAIMS("12155550121", "12155550131", "12155550142")},
         "div-unlinked",
         3,
         "value 2 diverts the call from 12155550131 already"},
        /* A diversion of someone else's call. */
        {"12155550141",
         {DIV_CLAIMS("12155550999", "12155550131", "12155550141")},
         "div-orig",
         2,
         "orig 12155550999 is not the shaken PASSporT's orig 12155550121"},
    };
    struct div_fixture f;
    size_t i, k;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        div_setup(&f, cases[i].to);
        div_add(&f, forge(HDR, CLAIMS, INFO));
        for (k = 0; k < 2 && cases[i].div[k] != NULL; k++)
            div_add(&f, forge_div(f.div_key, cases[i].div[k]));
        expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, cases[i].code, cases[i].at, cases[i].words);
        ck_assert_int_eq(f.ts.lookups, cases[i].code[0] == '\0' ? 1 : 0);
        div_teardown(&f);
    }
    ck_assert_str_eq(sks_verstat(SKS_SIP_INVALID_IDENTITY_HEADER), "TN-Validation-Failed");
}
END_TEST

START_TEST(verify_set_refuses_div_without_shaken_with_428)
{
    struct div_fixture f;

    div_setup(&f, "12155550141");
    div_add(&f, forge_div(f.div_key, DIV_CLAIMS("12155550121", "12155550131", "12155550141")));
    expect_set(&f, SKS_SIP_USE_IDENTITY_HEADER, "div-without-shaken", 1, "no shaken PASSporT");
    ck_assert_str_eq(sks_verstat(SKS_SIP_USE_IDENTITY_HEADER), "No-TN-Validation");
    div_add(&f, forge_div(f.div_key, DIV_CLAIMS("12155550121", "12155550141", "12155550151")));
    expect_set(&f, SKS_SIP_USE_IDENTITY_HEADER, "div-without-shaken", 1, "no shaken PASSporT");
    ck_assert_int_eq(f.ts.lookups, 0);
    div_teardown(&f);
}
END_TEST

START_TEST(verify_set_refuses_two_shaken_passports)
{
    struct div_fixture f;

    div_setup(&f, "12155550131");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, forge(HDR, CLAIMS, INFO));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "shaken-several", 2,
               "value 1 is the call's shaken PASSporT already");
    div_teardown(&f);
}
END_TEST

START_TEST(verify_set_refuses_too_many_values_unread)
{
    struct div_fixture f;
    size_t i;

    div_setup(&f, "12155550131");
    for (i = 0; i <= SKS_VERIFY_IDENTITIES_MAX; i++)
        div_add(&f, strdup("not even a JWS"));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "identity-too-many", 9,
               "9 Identity values: at most 8");
    f.n = 0;
    expect_set(&f, SKS_SIP_USE_IDENTITY_HEADER, "", 0, "no Identity header");
    f.n = SKS_VERIFY_IDENTITIES_MAX + 1;
    div_teardown(&f);
}
END_TEST

START_TEST(verify_set_fails_with_the_failure_of_one_value)
{
    struct div_fixture f;
    EVP_PKEY *stranger = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    /* A div PASSporT that its x5u's key did not sign. */
    div_setup(&f, "12155550141");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, forge_div(stranger, DIV_CLAIMS("12155550121", "12155550131", "12155550141")));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "", 2,
               "Identity value 2 (ppt=div): the PASSporT signature does not verify");
    div_teardown(&f);
    /* A malformed value is named as itself. */
    div_setup(&f, "12155550141");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, strdup("abc;info=<" DIV_X5U ">;ppt=div"));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "", 2, "Identity value 2: ");
    div_teardown(&f);
    EVP_PKEY_free(stranger);
}
END_TEST

#define RCD_HDR "{\"alg\":\"ES256\",\"ppt\":\"rcd\",\"typ\":\"passport\",\"x5u\":\"" X5U "\"}"
#define RCD_INFO ";info=<" X5U ">;alg=ES256;ppt=rcd"
#define RCD_CLAIMS(orig)                                                                           \
    "{\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1700000000,\"orig\":{\"tn\":\"" orig "\"},"      \
    "\"rcd\":{\"nam\":\"Example Bank\"}}"

START_TEST(verify_set_takes_the_rich_call_data_of_an_rcd_passport)
{
    struct div_fixture f;
    struct sks_verify_set set;
    struct sks_error err = {0};

    /* RFC 9795: the shaken PASSporT and the call's Rich Call Data in a PASSporT of its own. */
    div_setup(&f, "12155550131");
    div_add(&f, forge(RCD_HDR, RCD_CLAIMS("12155550121"), RCD_INFO));
    div_add(&f, forge(HDR, CLAIMS, INFO));
    ck_assert_msg(sks_identities_verify(f.v, f.n, &f.o, &set, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(set.res.passport.ppt, SKS_PPT_SHAKEN);
    ck_assert_int_eq(set.res.passport.attest, 'A');
    ck_assert_str_eq(set.res.passport.rcd, "{\"nam\":\"Example Bank\"}");
    /* No content source here: the name is signed, its digests not checked. */
    ck_assert_int_eq(set.res.rcd, SKS_RCD_UNCHECKED);
    ck_assert_int_eq(f.ts.lookups, 2);
    div_teardown(&f);

    div_setup(&f, "12155550131");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, forge(RCD_HDR, RCD_CLAIMS("12155550999"), RCD_INFO));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "rcd-call", 2, "is another call's");
    div_teardown(&f);

    div_setup(&f, "12155550131");
    div_add(&f, forge(HDR, CLAIMS, INFO));
    div_add(&f, forge(RCD_HDR, RCD_CLAIMS("12155550121"), RCD_INFO));
    div_add(&f, forge(RCD_HDR, RCD_CLAIMS("12155550121"), RCD_INFO));
    expect_set(&f, SKS_SIP_INVALID_IDENTITY_HEADER, "identity-unsupported", 3,
               "one ppt=rcd PASSporT");
    div_teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("verify");
    TCase *ok = tcase_create("accepts");
    TCase *bad = tcase_create("rejects");
    TCase *cred = tcase_create("credentials");
    TCase *div = tcase_create("diversion");
    SRunner *sr;
    int failed;

    if (getenv("SKS_VECTORS") == NULL) {
        fprintf(stderr, "SKS_VECTORS is not set: run through make check\n");
        return 77;
    }
    tcase_add_checked_fixture(ok, setup, teardown);
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_add_checked_fixture(cred, setup, teardown);
    tcase_add_test(ok, verify_accepts_v1_vector_with_rfc8225_a1_key);
    tcase_add_test(ok, verify_accepts_div_vector);
    tcase_add_test(ok, verify_accepts_params_in_any_order_quoted_ppt_and_spaces);
    tcase_add_test(ok, verify_accepts_iat_at_the_window_edges);
    tcase_add_test(ok, verify_does_not_need_nul_terminated_input);
    suite_add_tcase(s, ok);
    tcase_add_test(bad, verify_rejects_missing_header_with_428);
    tcase_add_test(bad, verify_rejects_missing_or_malformed_info_with_436);
    tcase_add_test(bad, verify_rejects_alg_none_hs256_rs256_with_437);
    tcase_add_test(bad, verify_rejects_non_p256_key_with_437);
    tcase_add_test(bad, verify_rejects_truncated_jws_with_438);
    tcase_add_test(bad, verify_rejects_bad_base64url_with_438);
    tcase_add_test(bad, verify_rejects_der_signature_with_438);
    tcase_add_test(bad, verify_rejects_unknown_ppt_with_438);
    tcase_add_test(bad, verify_rejects_x5u_different_from_info_with_438);
    tcase_add_test(bad, verify_rejects_iat_as_string_with_438);
    tcase_add_test(bad, verify_rejects_bad_header_fields_with_438);
    tcase_add_test(bad, verify_rejects_bad_claims_with_438);
    tcase_add_test(bad, verify_rejects_malformed_params_with_438);
    tcase_add_test(bad, verify_rejects_bad_signature_with_438);
    tcase_add_test(bad, verify_rejects_huge_header_before_parsing);
    tcase_add_test(bad, verify_rejects_old_iat_with_403);
    tcase_add_test(bad, verify_rejects_future_iat_with_403);
    tcase_add_test(bad, verify_compares_orig_and_dest_with_the_call);
    tcase_add_test(bad, verstat_follows_the_sip_code);
    suite_add_tcase(s, bad);
    tcase_add_test(cred, verify_without_credential_is_a_caller_error);
    tcase_add_test(cred, verify_with_certificate_chain_checks_profile_and_reports_spc);
    tcase_add_test(cred, verify_asks_the_source_only_for_well_formed_fresh_passports);
    suite_add_tcase(s, cred);
    tcase_add_checked_fixture(div, setup, teardown);
    tcase_add_test(div, verify_set_accepts_shaken_and_div_chain_in_any_order);
    tcase_add_test(div, verify_set_of_one_shaken_passport_is_its_own_verification);
    tcase_add_test(div, verify_set_refuses_sets_that_are_not_one_call);
    tcase_add_test(div, verify_set_refuses_div_without_shaken_with_428);
    tcase_add_test(div, verify_set_refuses_two_shaken_passports);
    tcase_add_test(div, verify_set_refuses_too_many_values_unread);
    tcase_add_test(div, verify_set_fails_with_the_failure_of_one_value);
    tcase_add_test(div, verify_set_takes_the_rich_call_data_of_an_rcd_passport);
    suite_add_tcase(s, div);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
