/*
 * PASSporT encoding: the RFC 8225/8588/8946 vectors byte for byte, canonical
 * JSON, claim validation, ES256 signature conversion and a 10,000-PASSporT
 * sign/verify round trip.
 *
 * The round trip signs with a software P-256 key, or with the key that the
 * environment variable SKS_TEST_KEY names (a pkcs11: URI, a key-reference PEM
 * or a PEM file, loaded as sksctl loads keys), so that an integration test
 * can run it against a token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "shaken/b64url.h"
#include "shaken/passport.h"
#include "verify/verify.h"
#include "keystore/input.h"

#define V1_X5U "https://cert.example.org/passport.cer"
#define V1_HEADER                                                                                  \
    "{\"alg\":\"ES256\",\"ppt\":\"shaken\",\"typ\":\"passport\",\"x5u\":\"" V1_X5U "\"}"
#define V1_CLAIMS                                                                                  \
    "{\"attest\":\"A\",\"dest\":{\"tn\":[\"12155550131\"]},\"iat\":1443208345,\"orig\":{\"tn\":"   \
    "\"12155550121\"},\"origid\":\"123e4567-e89b-12d3-a456-426655440000\"}"
/* tests/vectors/README.md */
#define V1_SIGNING_INPUT_SHA256 "192e64b6b7e265344b4522d8121d82f1bfff8c2b71affd80df513242379e9b54"
#define ROUND_TRIPS 10000

/* ---- helpers ----------------------------------------------------------------- */

static char *read_vector(const char *name)
{
    struct sks_error err = {0};
    unsigned char *data = NULL;
    char path[1024];
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", getenv("SKS_VECTORS"), name);
    ck_assert_msg(sks_file_read(path, 65536, &data, &len, &err) == SKS_OK, "%s", err.msg);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    return (char *)data;
}

static EVP_PKEY *vector_key(const char *name, int private)
{
    char *pem = read_vector(name);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                            : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    ck_assert_ptr_nonnull(key);
    BIO_free(bio);
    OPENSSL_free(pem);
    return key;
}

/* The decoded part |n| (0 header, 1 claims, 2 signature) of the JWS in |identity|. */
static size_t jws_part(const char *identity, int n, unsigned char *out)
{
    const char *p = identity, *end;
    size_t len;
    int i;

    for (i = 0; i < n; i++)
        p = strchr(p, '.') + 1;
    end = p + strcspn(p, ".;");
    ck_assert_int_eq(b64url_decode(p, (size_t)(end - p), out, &len), 0);
    out[len] = '\0';
    return len;
}

/* The claims of a vector, read back as a signer would receive them. */
static void passport_from_vector(const char *identity, enum sks_ppt ppt, struct sks_passport *pp)
{
    struct sks_error err = {0};
    unsigned char claims[4096];
    size_t len = jws_part(identity, 1, claims);

    ck_assert_int_eq(sks_passport_init(pp, ppt, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(pp, V1_X5U, &err), SKS_OK);
    ck_assert_msg(
        sks_passport_claims_from_json(pp, (char *)claims, len, SKS_CLAIMS_TO_SIGN, &err) == SKS_OK,
        "%s", err.msg);
}

/* The dot before the signature: the info URL after the JWS has dots too. */
static size_t signing_input_len(const char *identity)
{
    return (size_t)((char *)memrchr(identity, '.', strcspn(identity, ";")) - identity);
}

static void sha256_hex(const char *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0, i;

    ck_assert_int_eq(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
    for (i = 0; i < mdlen; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Re-encodes a vector's claims: header, claims and signing input must match. */
static void assert_vector_reencodes(const char *file, enum sks_ppt ppt)
{
    char *identity = read_vector(file);
    unsigned char want_header[4096], want_claims[4096];
    char header[4096], claims[4096], input[8192];
    struct sks_error err = {0};
    struct sks_passport pp;
    size_t hlen, clen, ilen;

    jws_part(identity, 0, want_header);
    jws_part(identity, 1, want_claims);
    passport_from_vector(identity, ppt, &pp);
    ck_assert_int_eq(sks_passport_header_json(&pp, header, sizeof(header), &hlen, &err), SKS_OK);
    ck_assert_str_eq(header, (char *)want_header);
    ck_assert_int_eq(sks_passport_claims_json(&pp, claims, sizeof(claims), &clen, &err), SKS_OK);
    ck_assert_str_eq(claims, (char *)want_claims);
    ck_assert_int_eq(sks_passport_signing_input(&pp, input, sizeof(input), &ilen, &err), SKS_OK);
    ck_assert_uint_eq(ilen, signing_input_len(identity));
    ck_assert_int_eq(memcmp(input, identity, ilen), 0);
    OPENSSL_free(identity);
}

/* ---- vectors ------------------------------------------------------------------ */

START_TEST(v1_reencodes_byte_for_byte)
{
    char *identity = read_vector("shaken-v1.identity");
    unsigned char header[4096], claims[4096];

    jws_part(identity, 0, header);
    jws_part(identity, 1, claims);
    ck_assert_str_eq((char *)header, V1_HEADER);
    ck_assert_str_eq((char *)claims, V1_CLAIMS);
    assert_vector_reencodes("shaken-v1.identity", SKS_PPT_SHAKEN);
    OPENSSL_free(identity);
}
END_TEST

START_TEST(v1_signing_input_has_published_sha256)
{
    struct sks_error err = {0};
    struct sks_passport pp;
    char *identity = read_vector("shaken-v1.identity");
    char input[8192], hex[65];
    size_t len;

    passport_from_vector(identity, SKS_PPT_SHAKEN, &pp);
    ck_assert_int_eq(sks_passport_signing_input(&pp, input, sizeof(input), &len, &err), SKS_OK);
    sha256_hex(input, len, hex);
    ck_assert_str_eq(hex, V1_SIGNING_INPUT_SHA256);
    OPENSSL_free(identity);
}
END_TEST

START_TEST(v3_div_reencodes_byte_for_byte)
{
    char *identity = read_vector("div-v3.identity");
    struct sks_passport pp;

    passport_from_vector(identity, SKS_PPT_DIV, &pp);
    ck_assert_str_eq(pp.div, "12155551213");
    ck_assert_str_eq(pp.orig, "12155551212");
    assert_vector_reencodes("div-v3.identity", SKS_PPT_DIV);
    OPENSSL_free(identity);
}
END_TEST

static void assert_vector_signature_verifies(const char *file)
{
    EVP_PKEY *pub = vector_key("rfc8225-a1-public.pem", 0);
    char *identity = read_vector(file);
    unsigned char sig[256];
    struct sks_error err = {0};
    size_t input_len = signing_input_len(identity);

    ck_assert_uint_eq(jws_part(identity, 2, sig), SKS_ES256_SIG_LEN);
    ck_assert_msg(sks_es256_verify(pub, (unsigned char *)identity, input_len, sig, &err) == SKS_OK,
                  "%s: %s", file, err.msg);
    /* One flipped bit in the signed bytes must break it. */
    identity[10] ^= 1;
    ck_assert_int_eq(sks_es256_verify(pub, (unsigned char *)identity, input_len, sig, &err),
                     SKS_ERR_VERIFY);
    EVP_PKEY_free(pub);
    OPENSSL_free(identity);
}

START_TEST(vector_signatures_verify_with_rfc8225_a1_key)
{
    assert_vector_signature_verifies("shaken-v1.identity");
    assert_vector_signature_verifies("div-v3.identity");
}
END_TEST

/* Signing V1's claims again gives V1 but for the (randomised) signature. */
START_TEST(sign_produces_vector_identity_form)
{
    EVP_PKEY *key = vector_key("rfc8225-a1-private.pem", 1);
    char *identity = read_vector("shaken-v1.identity");
    const char *want_tail = strchr(identity, ';');
    struct sks_error err = {0};
    struct sks_passport pp;
    char out[SKS_IDENTITY_MAX];
    size_t len, input_len = signing_input_len(identity);

    passport_from_vector(identity, SKS_PPT_SHAKEN, &pp);
    ck_assert_msg(sks_passport_sign(&pp, sks_es256_sign_evp, key, out, sizeof(out), &len, &err) ==
                      SKS_OK,
                  "%s", err.msg);
    ck_assert_uint_eq(len, strlen(identity));
    ck_assert_int_eq(memcmp(out, identity, input_len + 1), 0);
    ck_assert_str_eq(strchr(out, ';'), want_tail);
    ck_assert_str_eq(want_tail, ";info=<" V1_X5U ">;alg=ES256;ppt=shaken");
    EVP_PKEY_free(key);
    OPENSSL_free(identity);
}
END_TEST

/* ---- canonical JSON ------------------------------------------------------------- */

START_TEST(claims_in_any_order_and_spacing_encode_identically)
{
    static const char *const inputs[] = {
        V1_CLAIMS,
        "{ \"origid\" : \"123e4567-e89b-12d3-a456-426655440000\",\n\t\"orig\": {\"tn\": "
        "\"12155550121\"},  \"iat\":1443208345, \"dest\" : { \"tn\" : [ \"12155550131\" ] },"
        "\"attest\":\"A\" }",
        "{\"iat\":1443208345,\"attest\":\"A\",\"orig\":{\"tn\":\"+1 215 555 0121\"},"
        "\"dest\":{\"tn\":[\"1-215-555-0131\"]},\"origid\":\"123e4567-e89b-12d3-a456-"
        "426655440000\",\"extra\":{\"ignored\":[1,2]}}",
    };
    struct sks_error err = {0};
    struct sks_passport pp;
    char out[1024];
    size_t i, len;

    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
        ck_assert_int_eq(sks_passport_set_x5u(&pp, V1_X5U, &err), SKS_OK);
        ck_assert_msg(sks_passport_claims_from_json(&pp, inputs[i], strlen(inputs[i]),
                                                    SKS_CLAIMS_TO_SIGN, &err) == SKS_OK,
                      "input %zu: %s", i, err.msg);
        ck_assert_int_eq(sks_passport_claims_json(&pp, out, sizeof(out), &len, &err), SKS_OK);
        ck_assert_str_eq(out, V1_CLAIMS);
    }
}
END_TEST

/* What jansson's canonical form says the header must be. */
static char *jansson_header(const char *x5u, const char *ppt)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "x5u", x5u, "typ", "passport", "ppt", ppt, "alg",
                          "ES256");
    char *s;

    ck_assert_ptr_nonnull(o);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

START_TEST(x5u_is_escaped_no_more_than_json_requires)
{
    static const char *const urls[] = {
        "https://cert.example.org/passport.cer",
        "https://cert.example.org:8443/a~b_c-d.e/%41/x&z=%26.cer",
        "https://[2001:db8::1]/p%C3%A4ssp%C3%B6rt/%E8%AD%89%E6%9B%B8.cer",
    };
    struct sks_error err = {0};
    struct sks_passport pp;
    char out[4096];
    size_t i, len;

    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char *want = jansson_header(urls[i], "shaken");

        ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
        ck_assert_msg(sks_passport_set_x5u(&pp, urls[i], &err) == SKS_OK, "%s", err.msg);
        ck_assert_int_eq(sks_passport_set_orig(&pp, "12155550121", &err), SKS_OK);
        ck_assert_int_eq(sks_passport_add_dest(&pp, "12155550131", &err), SKS_OK);
        ck_assert_int_eq(sks_passport_set_attest(&pp, "B", &err), SKS_OK);
        ck_assert_int_eq(sks_passport_header_json(&pp, out, sizeof(out), &len, &err), SKS_OK);
        ck_assert_str_eq(out, want);
        /* The URL appears verbatim: no "\/", no "\u" escapes, '&' as is. */
        ck_assert_ptr_nonnull(strstr(out, urls[i]));
        ck_assert_ptr_null(strchr(out, '\\'));
        free(want);
    }
}
END_TEST

START_TEST(claims_match_jansson_canonical_form)
{
    struct sks_error err = {0};
    struct sks_passport pp;
    json_t *o, *tns;
    char out[1024], *want;
    size_t len;
    int i;

    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(&pp, V1_X5U, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_orig(&pp, "*67#", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_attest(&pp, "C", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_iat(&pp, 1700000000, &err), SKS_OK);
    tns = json_array();
    for (i = 0; i < SKS_DEST_MAX; i++) {
        char tn[16];
        snprintf(tn, sizeof(tn), "1215555%04d", i);
        ck_assert_int_eq(sks_passport_add_dest(&pp, tn, &err), SKS_OK);
        json_array_append_new(tns, json_string(tn));
    }
    o = json_pack("{s:s, s:{s:o}, s:I, s:{s:s}, s:s}", "origid", pp.origid, "dest", "tn", tns,
                  "iat", (json_int_t)1700000000, "orig", "tn", "*67#", "attest", "C");
    want = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_int_eq(sks_passport_claims_json(&pp, out, sizeof(out), &len, &err), SKS_OK);
    ck_assert_str_eq(out, want);
    free(want);
    json_decref(o);
}
END_TEST

/* ---- claims ---------------------------------------------------------------------- */

START_TEST(init_sets_iat_now_and_a_v4_origid)
{
    struct sks_error err = {0};
    struct sks_passport a, b;
    long long now = (long long)time(NULL);

    ck_assert_int_eq(sks_passport_init(&a, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_init(&b, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert(a.iat >= now && a.iat <= now + 1);
    ck_assert(sks_uuid_valid(a.origid));
    ck_assert_int_eq(a.origid[14], '4');
    ck_assert_ptr_nonnull(strchr("89ab", a.origid[19]));
    ck_assert_str_ne(a.origid, b.origid);
}
END_TEST

static void assert_fails(sks_status st, const struct sks_error *err, const char *words)
{
    ck_assert_int_eq(st, SKS_ERR_INPUT);
    ck_assert_msg(strstr(err->msg, words) != NULL, "want \"%s\" in: %s", words, err->msg);
}

/*
 * One rule for import, activation and signing (sks_x5u_check); each refusal
 * names the fault, starts "x5u: " and names the field with a stable code.
 */
START_TEST(x5u_check_accepts_https_urls_and_names_the_rule_each_bad_one_breaks)
{
    static const char *const good[] = {
        "https://cert.example.org/sp.pem",
        "HTTPS://cert.example.org",
        "https://cert.example.org:443/a/b%2Fc.pem",
        "https://192.0.2.7:1/x.pem",
        "https://[2001:db8::7]:65535/x.pem",
        "https://cert.example.org/a&b=c,d!e'f(g)*h+i$j~k.pem",
    };
    static const struct {
        const char *x5u, *fault;
    } bad[] = {
        {"", "x5u: empty"},
        {"http://cert.example.org/a.pem", "is not an https:// URL"},
        {"cert.example.org/a.pem", "is not an https:// URL"},
        {"https://cert.example.org/a>b.pem", "byte 0x3e at position 27, which a URI cannot"},
        {"https://cert.example.org/<a.pem", "byte 0x3c at position 26"},
        {"https://cert.example.org/\"a.pem", "byte 0x22 at position 26"},
        {"https://cert.example.org/a.pem;alg=none", "';' at position 31"},
        {"https://cert.example.org/a b.pem", "byte 0x20 at position 27"},
        {"https://cert.example.org/a\tb.pem", "byte 0x09 at position 27"},
        {"https://cert.example.org/a.pem\n", "byte 0x0a at position 31"},
        {"https://cert.example.org/a{b}.pem", "byte 0x7b"},
        {"https://cert.example.org/caf\xc3\xa9.pem", "byte 0xc3 at position 29"},
        {"https://cert.example.org/a%2.pem", "'%' at position 27 without two hex digits"},
        {"https://cert.example.org:0/a.pem", "has port \"0\", not a number from 1 to 65535"},
        {"https://cert.example.org:65536/a.pem", "has port \"65536\""},
        {"https://cert.example.org:99999999999999999999/a.pem", "not a number from 1 to 65535"},
        {"https://cert.example.org:/a.pem", "has port \"\""},
        {"https://cert.example.org:44x/a.pem", "has port \"44x\""},
        {"https://[2001:db8::7/x.pem", "malformed IPv6 host"},
        {"https:///a.pem", "has no host"},
        {"https://:443/a.pem", "has no host"},
        {"https://user:pw@cert.example.org/a.pem", "has userinfo"},
        {"https://cert.example.org/a.pem?v=1", "has a query"},
        {"https://cert.example.org/a.pem#top", "has a fragment"},
        {"https://cert_example.org/a.pem", "has '_' in its host"},
    };
    struct sks_error err = {0};
    char longest[SKS_X5U_MAX + 2];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(sks_x5u_check(good[i], &err) == SKS_OK, "%s: %s", good[i], err.msg);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sks_error_clear(&err);
        ck_assert_msg(sks_x5u_check(bad[i].x5u, &err) != SKS_OK, "accepted: %s", bad[i].x5u);
        ck_assert_msg(strstr(err.msg, bad[i].fault) != NULL, "%s: want \"%s\" in: %s", bad[i].x5u,
                      bad[i].fault, err.msg);
        ck_assert_msg(strncmp(err.msg, "x5u: ", 5) == 0, "does not start \"x5u: \": %s", err.msg);
        ck_assert_str_eq(err.field, "x5u");
        ck_assert_str_eq(sks_error_code(&err), "invalid-x5u");
    }
    memset(longest, 'a', sizeof(longest) - 1);
    memcpy(longest, "https://", 8);
    longest[sizeof(longest) - 1] = '\0';
    ck_assert_int_ne(sks_x5u_check(longest, &err), SKS_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "longer than 2048 bytes"));
}
END_TEST

/* The failure names |field| with |code| and says |words|. */
static void assert_field(sks_status st, const struct sks_error *err, const char *code,
                         const char *field, const char *words)
{
    ck_assert_int_ne(st, SKS_OK);
    ck_assert_str_eq(sks_error_code(err), code);
    ck_assert_str_eq(err->field, field);
    ck_assert_msg(strstr(err->msg, words) != NULL, "want \"%s\" in: %s", words, err->msg);
}

/* ... and the message names the field too, as sksd's error body must. */
static void assert_names(sks_status st, const struct sks_error *err, const char *code,
                         const char *field, const char *words)
{
    assert_field(st, err, code, field, words);
    ck_assert_msg(strstr(err->msg, field) != NULL, "the message does not name %s: %s", field,
                  err->msg);
}

START_TEST(spc_rule_takes_digits_and_capitals_only_and_names_the_fault)
{
    char longest[SKS_SPC_MAX + 2];
    struct sks_error err = {0};

    ck_assert(sks_spc_valid("1234"));
    ck_assert(sks_spc_valid("0A9Z"));
    ck_assert(!sks_spc_valid(NULL));
    ck_assert(!sks_spc_valid(""));
    ck_assert(!sks_spc_valid("12ab"));
    ck_assert(!sks_spc_valid("12 4"));
    ck_assert(!sks_spc_valid("12\xc3\x84"));
    memset(longest, '7', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    ck_assert(!sks_spc_valid(longest));
    longest[SKS_SPC_MAX] = '\0';
    ck_assert(sks_spc_valid(longest));
    /* Length-bounded: a TNAuthList hands bytes that need not end in NUL, and may hold one. */
    ck_assert_int_eq(sks_spc_check("1234XYZ", 4, &err), SKS_OK);
    ck_assert_int_eq(sks_spc_check("12\0"
                                   "4",
                                   4, &err),
                     SKS_ERR_INPUT);
    ck_assert_str_eq(err.field, "spc");
    ck_assert_int_eq(sks_spc_check("12\n4", 4, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "\"12?4\" has a character other than 0-9 and A-Z at offset 2"));
    ck_assert_str_eq(sks_error_code(&err), "invalid-spc");
    ck_assert_int_eq(sks_spc_check("", 0, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "the SPC is empty"));
}
END_TEST

START_TEST(spc_match_names_both_spcs_and_whose_the_other_is)
{
    struct sks_error err = {0};

    ck_assert_int_eq(sks_spc_match("1234", "1234", "identity sp-main", &err), SKS_OK);
    assert_names(sks_spc_match("5678", "1234", "identity sp-main", &err), &err, "spc-mismatch",
                 "spc", "spc: the certificate is for SPC 5678 but identity sp-main has SPC 1234");
    ck_assert_int_eq(err.status, SKS_ERR_POLICY);
    /* A prefix is not a match. */
    ck_assert_int_ne(sks_spc_match("123", "1234", "--spc", &err), SKS_OK);
}
END_TEST

START_TEST(chain_length_rule_keeps_at_most_chain_max)
{
    struct sks_error err = {0};

    ck_assert_int_eq(sks_chain_length_check(0, &err), SKS_OK);
    ck_assert_int_eq(sks_chain_length_check(SKS_CHAIN_MAX, &err), SKS_OK);
    assert_names(sks_chain_length_check(SKS_CHAIN_MAX + 1, &err), &err, "invalid-chain", "chain",
                 "chain: 9 certificates; at most 8 are kept");
    ck_assert_int_ne(sks_chain_length_check(1 << 30, &err), SKS_OK);
}
END_TEST

START_TEST(uuid_rule_refuses_near_misses)
{
    static const char *const bad[] = {
        "",
        "123e4567-e89b-12d3-a456-42665544000",   /* one short */
        "123e4567-e89b-12d3-a456-4266554400000", /* one long */
        "123e4567xe89b-12d3-a456-426655440000",
        "123e4567-e89b-12d3-a456-42665544000g",
        "{23e4567-e89b-12d3-a456-426655440000",
        "123e4567-e89b-12d3-a456-42665544000\n",
        "123e4567-e89b-12d3-a456_426655440000",
        " 123e4567-e89b-12d3-a456-426655440000",
    };
    size_t i;

    ck_assert(sks_uuid_valid("123e4567-e89b-12d3-a456-426655440000"));
    ck_assert(sks_uuid_valid("123E4567-E89B-12D3-A456-426655440000"));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!sks_uuid_valid(bad[i]), "accepted: %s", bad[i]);
}
END_TEST

static void complete_shaken(struct sks_passport *pp)
{
    struct sks_error err = {0};

    ck_assert_int_eq(sks_passport_init(pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(pp, V1_X5U, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_orig(pp, "12155550121", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_add_dest(pp, "12155550131", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_attest(pp, "A", &err), SKS_OK);
    ck_assert_int_eq(sks_passport_check_complete(pp, &err), SKS_OK);
}

/* What a front end wrote straight into the public struct is judged, by claim name, in bounds. */
START_TEST(check_complete_names_each_bad_claim_written_into_the_struct)
{
    struct sks_error err = {0};
    struct sks_passport pp;

    complete_shaken(&pp);
    memset(pp.orig, '1', sizeof(pp.orig)); /* 16 digits: no room for the NUL */
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-tn", "orig.tn",
                 "has more than 15 digits");
    complete_shaken(&pp);
    pp.orig[0] = '\0';
    assert_names(sks_passport_check_complete(&pp, &err), &err, "missing-field", "orig",
                 "orig is missing");
    complete_shaken(&pp);
    strcpy(pp.orig, "+12155550121");
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-tn", "orig.tn",
                 "not in canonical form");
    complete_shaken(&pp);
    pp.ndest = 0;
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-dest", "dest.tn",
                 "dest is missing");
    complete_shaken(&pp);
    pp.ndest = SKS_DEST_MAX + 1;
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-dest", "dest.tn",
                 "more than 32 TNs");
    complete_shaken(&pp);
    strcpy(pp.dest[1], "1215555O131");
    pp.ndest = 2;
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-tn", "dest.tn[1]",
                 "contains 'O'");
    complete_shaken(&pp);
    pp.attest = '\0';
    assert_names(sks_passport_check_complete(&pp, &err), &err, "missing-field", "attest",
                 "attest is missing");
    complete_shaken(&pp);
    pp.attest = 'D';
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-attest", "attest",
                 "attest \"D\" is not A, B or C");
    complete_shaken(&pp);
    pp.attest = '\x01';
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-attest", "attest",
                 "attest \"?\" is not A, B or C");
    complete_shaken(&pp);
    memset(pp.origid, 'a', sizeof(pp.origid));
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-origid", "origid",
                 "is not a UUID");
    complete_shaken(&pp);
    pp.iat = -1;
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-iat", "iat",
                 "iat -1 is out of range");
    complete_shaken(&pp);
    memset(pp.x5u, 'h', sizeof(pp.x5u));
    assert_names(sks_passport_check_complete(&pp, &err), &err, "invalid-x5u", "x5u",
                 "x5u: not NUL-terminated");
    /* The claims half does not look at x5u: sksd judges a request before it has a signer. */
    ck_assert_int_eq(sks_passport_check_claims(&pp, &err), SKS_OK);
}
END_TEST

START_TEST(setters_name_the_claim_they_refuse)
{
    struct sks_error err = {0};
    struct sks_passport pp;

    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    assert_field(sks_passport_set_orig(&pp, "12-abc", &err), &err, "invalid-tn", "orig.tn",
                 "orig: TN \"12-abc\" contains 'a'");
    assert_field(sks_passport_add_dest_list(&pp, "12155550131,x", &err), &err, "invalid-tn",
                 "dest.tn[1]", "dest: TN \"x\" contains 'x'");
    ck_assert_uint_eq(pp.ndest, 0);
    assert_field(sks_passport_set_attest(&pp, "AB", &err), &err, "invalid-attest", "attest",
                 "not A, B or C");
    assert_field(sks_passport_set_origid(&pp, "nope", &err), &err, "invalid-origid", "origid",
                 "\"nope\" is not a UUID");
    assert_field(sks_passport_set_iat(&pp, SKS_IAT_MAX + 1, &err), &err, "invalid-iat", "iat",
                 "out of range");
}
END_TEST

START_TEST(setters_reject_bad_claims_with_reasons)
{
    struct sks_error err = {0};
    struct sks_passport pp;
    int i;

    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    assert_fails(sks_passport_set_attest(&pp, "D", &err), &err, "attest \"D\" is not A, B or C");
    assert_fails(sks_passport_set_attest(&pp, "AB", &err), &err, "not A, B or C");
    assert_fails(sks_passport_set_origid(&pp, "123e4567-e89b-12d3-a456-42665544000", &err), &err,
                 "is not a UUID");
    assert_fails(sks_passport_set_origid(&pp, "123e4567xe89b-12d3-a456-426655440000", &err), &err,
                 "is not a UUID");
    assert_fails(sks_passport_set_x5u(&pp, "", &err), &err, "x5u: empty");
    assert_fails(sks_passport_set_x5u(&pp, "https://a b", &err), &err, "byte 0x20 at position 10");
    assert_fails(sks_passport_set_x5u(&pp, "cert.example.org/x.cer", &err), &err,
                 "is not an https:// URL");
    assert_fails(sks_passport_set_x5u(&pp, "https://x/\xc3(", &err), &err,
                 "byte 0xc3 at position 11, which a URI cannot contain");
    assert_fails(sks_passport_set_x5u(&pp, "https://x/\xc0\xaf", &err), &err,
                 "byte 0xc0 at position 11");
    assert_fails(sks_passport_set_orig(&pp, "1215555O121", &err), &err,
                 "orig: TN \"1215555O121\" contains 'O'");
    assert_fails(sks_passport_set_div(&pp, "12155550121", &err), &err,
                 "only a div PASSporT has a div claim");
    assert_fails(sks_passport_set_iat(&pp, -1, &err), &err, "out of range");
    for (i = 0; i < SKS_DEST_MAX; i++)
        ck_assert_int_eq(sks_passport_add_dest(&pp, "12155550131", &err), SKS_OK);
    assert_fails(sks_passport_add_dest(&pp, "12155550131", &err), &err, "more than 32 TNs");
}
END_TEST

START_TEST(seconds_parse_takes_only_plain_decimal_seconds)
{
    struct sks_error err = {0};
    long long v = 7;

    ck_assert_int_eq(sks_seconds_parse("1443208345", &v, &err), SKS_OK);
    ck_assert_int_eq(v, 1443208345);
    ck_assert_int_eq(sks_seconds_parse("0", &v, &err), SKS_OK);
    ck_assert_int_eq(v, 0);
    assert_fails(sks_seconds_parse("-1", &v, &err), &err, "\"-1\" is not a number of seconds");
    assert_fails(sks_seconds_parse(" 1", &v, &err), &err, "is not a number of seconds");
    assert_fails(sks_seconds_parse("12a", &v, &err), &err, "is not a number of seconds");
    assert_fails(sks_seconds_parse("", &v, &err), &err, "is not a number of seconds");
    assert_fails(sks_seconds_parse("253402300800", &v, &err), &err, "is not a number");
    assert_fails(sks_seconds_parse("99999999999999999999", &v, &err), &err, "is not a number");
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(dest_list_names_the_bad_tn_and_adds_none)
{
    struct sks_error err = {0};
    struct sks_passport pp;

    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    assert_fails(sks_passport_add_dest_list(&pp, "12155550131,+1 215 555 0132,12x4", &err), &err,
                 "dest: TN \"12x4\" contains 'x' at position 3");
    ck_assert_uint_eq(pp.ndest, 0);
    assert_fails(sks_passport_add_dest_list(&pp, "12155550131,", &err), &err,
                 "dest: TN \"\" is empty");
    ck_assert_int_eq(sks_passport_add_dest_list(&pp, "12155550131,+1 215 555 0132", &err), SKS_OK);
    ck_assert_uint_eq(pp.ndest, 2);
    ck_assert_str_eq(pp.dest[1], "12155550132");
}
END_TEST

START_TEST(claims_json_type_errors_name_the_claim)
{
    static const struct {
        const char *json, *words;
    } cases[] = {
        {"{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":\"1443208345\",\"orig\":{\"tn\":"
         "\"2\"}}",
         "claim iat is a string; it must be an integer"},
        {"{\"attest\":\"A\",\"dest\":{\"tn\":\"1\"},\"iat\":1,\"orig\":{\"tn\":\"2\"}}",
         "claim dest.tn is a string; it must be an array"},
        {"{\"attest\":\"A\",\"dest\":{\"tn\":[]},\"iat\":1,\"orig\":{\"tn\":\"2\"}}",
         "claim dest.tn has 0 TNs"},
        {"{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"uri\":\"sip:a@b\"}}",
         "claim orig.tn is missing"},
        {"{\"attest\":\"A\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1.5,\"orig\":{\"tn\":\"2\"}}",
         "claim iat is a real number"},
        {"{\"attest\":\"A\",\"attest\":\"B\",\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":"
         "\"2\"}}",
         "duplicate object key"},
        {"{\"dest\":{\"tn\":[\"1\"]},\"iat\":1,\"orig\":{\"tn\":\"2\"}}",
         "claim attest is missing"},
        {"[1,2]", "the claims are an array, not a JSON object"},
        {"{\"attest\":", "not valid JSON"},
    };
    struct sks_error err = {0};
    struct sks_passport pp;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
        assert_fails(sks_passport_claims_from_json(&pp, cases[i].json, strlen(cases[i].json),
                                                   SKS_CLAIMS_TO_SIGN, &err),
                     &err, cases[i].words);
        ck_assert_uint_eq(pp.ndest, 0);
    }
}
END_TEST

static int signer_calls;

static sks_status counting_signer(void *ctx, const unsigned char *msg, size_t len,
                                  unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    signer_calls++;
    return sks_es256_sign_evp(ctx, msg, len, sig, err);
}

START_TEST(sign_refuses_incomplete_passport_or_small_buffer_before_signing)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct sks_error err = {0};
    struct sks_passport pp;
    char out[SKS_IDENTITY_MAX];
    size_t len;

    signer_calls = 0;
    ck_assert_int_eq(sks_passport_init(&pp, SKS_PPT_SHAKEN, &err), SKS_OK);
    ck_assert_int_eq(sks_passport_set_x5u(&pp, V1_X5U, &err), SKS_OK);
    assert_fails(sks_passport_sign(&pp, counting_signer, key, out, sizeof(out), &len, &err), &err,
                 "orig is missing");
    ck_assert_int_eq(sks_passport_set_orig(&pp, "12155550121", &err), SKS_OK);
    assert_fails(sks_passport_sign(&pp, counting_signer, key, out, sizeof(out), &len, &err), &err,
                 "dest is missing");
    ck_assert_int_eq(sks_passport_add_dest(&pp, "12155550131", &err), SKS_OK);
    assert_fails(sks_passport_sign(&pp, counting_signer, key, out, sizeof(out), &len, &err), &err,
                 "attest is missing");
    ck_assert_int_eq(sks_passport_set_attest(&pp, "A", &err), SKS_OK);
    assert_fails(sks_passport_sign(&pp, counting_signer, key, out, 300, &len, &err), &err,
                 "does not fit in a buffer of 300 bytes");
    ck_assert_int_eq(signer_calls, 0);
    ck_assert_int_eq(sks_passport_sign(&pp, counting_signer, key, out, sizeof(out), &len, &err),
                     SKS_OK);
    ck_assert_int_eq(signer_calls, 1);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(sign_rejects_non_p256_keys)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char sig[SKS_ES256_SIG_LEN];
    struct sks_error err = {0};

    assert_fails(sks_es256_sign_evp(p384, (const unsigned char *)"x", 1, sig, &err), &err,
                 "is on curve secp384r1; ES256 needs P-256");
    assert_fails(sks_es256_sign_evp(ed, (const unsigned char *)"x", 1, sig, &err), &err,
                 "is a ED25519 key; ES256 needs EC P-256");
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
}
END_TEST

/* ---- ES256 signature form ---------------------------------------------------------- */

static size_t der_of(const char *rhex, const char *shex, unsigned char *der)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *p = der;
    int n;

    ck_assert(BN_hex2bn(&r, rhex) > 0 && BN_hex2bn(&s, shex) > 0);
    ck_assert_int_eq(ECDSA_SIG_set0(es, r, s), 1);
    n = i2d_ECDSA_SIG(es, &p);
    ck_assert_int_gt(n, 0);
    ECDSA_SIG_free(es);
    return (size_t)n;
}

START_TEST(der_signature_converts_to_left_padded_r_s)
{
    unsigned char der[128], sig[SKS_ES256_SIG_LEN], want[SKS_ES256_SIG_LEN] = {0};
    struct sks_error err = {0};
    size_t n;

    /* r one byte long, s with a leading zero byte: both padded on the left. */
    n = der_of("7f", "00ff", der);
    ck_assert_int_eq(sks_es256_sig_from_der(der, n, sig, &err), SKS_OK);
    want[31] = 0x7f;
    want[63] = 0xff;
    ck_assert_mem_eq(sig, want, sizeof(want));

    n = der_of("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "01", der);
    ck_assert_int_eq(sks_es256_sig_from_der(der, n, sig, &err), SKS_OK);
    ck_assert_int_eq(sig[0], 0xff);
    ck_assert_int_eq(sig[31], 0xff);

    /* 33 significant bytes cannot be P-256. */
    n = der_of("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "01", der);
    assert_fails(sks_es256_sig_from_der(der, n, sig, &err), &err, "does not fit 32 bytes");
    /* Trailing bytes after the DER are not one signature. */
    n = der_of("01", "01", der);
    der[n] = 0;
    assert_fails(sks_es256_sig_from_der(der, n + 1, sig, &err), &err, "not one DER");
    /* A raw r || s handed in as DER. */
    memset(sig, 0x41, sizeof(sig));
    assert_fails(sks_es256_sig_from_der(sig, sizeof(sig), want, &err), &err, "not one DER");
}
END_TEST

/* ---- round trip -------------------------------------------------------------------- */

static int leading_zero_sigs;

static sks_status watching_signer(void *ctx, const unsigned char *msg, size_t len,
                                  unsigned char sig[SKS_ES256_SIG_LEN], struct sks_error *err)
{
    sks_status st = sks_es256_sign_evp(ctx, msg, len, sig, err);

    if (st == SKS_OK && (sig[0] == 0 || sig[32] == 0))
        leading_zero_sigs++;
    return st;
}

/* The round-trip key and the public key a verifier would hold for it. */
static void round_trip_keys(EVP_PKEY **priv, EVP_PKEY **pub)
{
    const char *spec = getenv("SKS_TEST_KEY");
    struct sks_error err = {0};
    unsigned char *der = NULL;
    const unsigned char *p;
    int n;

    if (spec != NULL && spec[0] != '\0') {
        ck_assert_msg(sks_key_load(spec, priv, &err) == SKS_OK, "SKS_TEST_KEY: %s", err.msg);
    } else {
        *priv = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        ck_assert_ptr_nonnull(*priv);
    }
    /* A plain copy of the public half, as a verifier gets it from a certificate. */
    n = i2d_PUBKEY(*priv, &der);
    ck_assert_msg(n > 0, "cannot export the public key of the round-trip key");
    p = der;
    *pub = d2i_PUBKEY(NULL, &p, n);
    ck_assert_ptr_nonnull(*pub);
    OPENSSL_free(der);
}

START_TEST(round_trip_signs_and_verifies_10000_passports)
{
    struct sks_verify_result res;
    struct sks_verify_opts opts;
    struct sks_error err = {0};
    struct sks_passport pp;
    EVP_PKEY *priv, *pub;
    char out[SKS_IDENTITY_MAX], tn[16];
    size_t len;
    int i;

    round_trip_keys(&priv, &pub);
    sks_verify_opts_init(&opts);
    opts.pubkey = pub;
    leading_zero_sigs = 0;
    for (i = 0; i < ROUND_TRIPS; i++) {
        enum sks_ppt ppt = i % 5 == 4 ? SKS_PPT_DIV : SKS_PPT_SHAKEN;

        ck_assert_int_eq(sks_passport_init(&pp, ppt, &err), SKS_OK);
        ck_assert_int_eq(sks_passport_set_x5u(&pp, "https://sti.example.net/cert/sp1.pem", &err),
                         SKS_OK);
        snprintf(tn, sizeof(tn), "1%010d", i);
        ck_assert_int_eq(sks_passport_set_orig(&pp, tn, &err), SKS_OK);
        ck_assert_int_eq(sks_passport_add_dest_list(&pp, i % 3 ? "12155550131" : "1,2,3", &err),
                         SKS_OK);
        if (ppt == SKS_PPT_DIV)
            ck_assert_int_eq(sks_passport_set_div(&pp, "12155551213", &err), SKS_OK);
        else
            ck_assert_int_eq(sks_passport_set_attest(&pp, (const char[]){"ABC"[i % 3], 0}, &err),
                             SKS_OK);
        ck_assert_msg(sks_passport_sign(&pp, watching_signer, priv, out, sizeof(out), &len, &err) ==
                          SKS_OK,
                      "sign %d: %s", i, err.msg);
        opts.now = (time_t)pp.iat;
        ck_assert_msg(sks_identity_verify(out, len, &opts, &res, &err) == SKS_OK,
                      "verify %d: %d %s: %s\n%s", i, res.sip_code, res.sip_reason, err.msg, out);
        ck_assert_str_eq(res.passport.orig, tn);
        ck_assert_int_eq(res.passport.ppt, ppt);
    }
    /*
     * About 1 in 128 signatures has r or s with a leading zero byte; 10,000
     * without one has probability e^-78.  They must have verified above.
     */
    ck_assert_int_gt(leading_zero_sigs, 0);
    printf("round trip: %d PASSporTs signed with %s, %d with a leading zero byte in r or s\n",
           ROUND_TRIPS, getenv("SKS_TEST_KEY") != NULL ? getenv("SKS_TEST_KEY") : "a software key",
           leading_zero_sigs);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("passport");
    TCase *vectors = tcase_create("vectors");
    TCase *json = tcase_create("canonical-json");
    TCase *claims = tcase_create("claims");
    TCase *es256 = tcase_create("es256");
    SRunner *sr;
    int failed;

    if (getenv("SKS_VECTORS") == NULL) {
        fprintf(stderr, "SKS_VECTORS is not set: run through make check\n");
        return 77;
    }
    tcase_add_test(vectors, v1_reencodes_byte_for_byte);
    tcase_add_test(vectors, v1_signing_input_has_published_sha256);
    tcase_add_test(vectors, v3_div_reencodes_byte_for_byte);
    tcase_add_test(vectors, vector_signatures_verify_with_rfc8225_a1_key);
    tcase_add_test(vectors, sign_produces_vector_identity_form);
    suite_add_tcase(s, vectors);
    tcase_add_test(json, claims_in_any_order_and_spacing_encode_identically);
    tcase_add_test(json, x5u_is_escaped_no_more_than_json_requires);
    tcase_add_test(json, claims_match_jansson_canonical_form);
    suite_add_tcase(s, json);
    tcase_add_test(claims, init_sets_iat_now_and_a_v4_origid);
    tcase_add_test(claims, setters_reject_bad_claims_with_reasons);
    tcase_add_test(claims, x5u_check_accepts_https_urls_and_names_the_rule_each_bad_one_breaks);
    tcase_add_test(claims, spc_rule_takes_digits_and_capitals_only_and_names_the_fault);
    tcase_add_test(claims, spc_match_names_both_spcs_and_whose_the_other_is);
    tcase_add_test(claims, chain_length_rule_keeps_at_most_chain_max);
    tcase_add_test(claims, uuid_rule_refuses_near_misses);
    tcase_add_test(claims, check_complete_names_each_bad_claim_written_into_the_struct);
    tcase_add_test(claims, setters_name_the_claim_they_refuse);
    tcase_add_test(claims, seconds_parse_takes_only_plain_decimal_seconds);
    tcase_add_test(claims, dest_list_names_the_bad_tn_and_adds_none);
    tcase_add_test(claims, claims_json_type_errors_name_the_claim);
    tcase_add_test(claims, sign_refuses_incomplete_passport_or_small_buffer_before_signing);
    tcase_add_test(claims, sign_rejects_non_p256_keys);
    suite_add_tcase(s, claims);
    tcase_add_test(es256, der_signature_converts_to_left_padded_r_s);
    tcase_add_test(es256, round_trip_signs_and_verifies_10000_passports);
    suite_add_tcase(s, es256);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
