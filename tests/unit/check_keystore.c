/*
 * The key store library: records, configuration and the hash map without a
 * token; imports, the signing cache and its view of other processes'
 * changes against a throwaway SoftHSM2 token (softhsm-conf/mktoken.sh).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "p11/p11.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"
#include "keystore/input.h"
#include "keystore/internal.h"
#include "testpki/testpki.h"

/* ---- records ------------------------------------------------------------------------ */

static struct ks_record sample_record(void)
{
    struct ks_record rec;

    memset(&rec, 0, sizeof(rec));
    strcpy(rec.name, "sp-unit");
    rec.seq = 7;
    strcpy(rec.spc, "1234");
    rec.active = 2;
    rec.next = 4;
    rec.n = 2;
    rec.v[0] = (struct ks_version){2, SKS_VERSION_ACTIVE, {1, 2, 3}, 1000, 2000};
    rec.v[1] = (struct ks_version){3, SKS_VERSION_STANDBY, {4, 5, 6}, 3000, 3000};
    return rec;
}

START_TEST(record_round_trips)
{
    struct ks_record rec = sample_record(), back;
    unsigned char *raw = NULL;
    size_t len = 0;

    ck_assert_int_eq(ks_record_encode(&rec, &raw, &len, NULL), SKS_OK);
    ck_assert_int_eq(ks_record_parse(raw, len, &back, NULL), SKS_OK);
    ck_assert_int_eq(memcmp(&rec, &back, sizeof(rec)), 0);
    free(raw);
}
END_TEST

static void assert_record_rejected(const char *json, const char *why)
{
    struct ks_record rec;
    struct sks_error err;

    sks_error_clear(&err);
    ck_assert_msg(ks_record_parse((const unsigned char *)json, strlen(json), &rec, &err) != SKS_OK,
                  "accepted: %s", json);
    ck_assert_msg(strstr(err.msg, why) != NULL, "\"%s\" does not say \"%s\"", err.msg, why);
}

#define ID32 "000102030405060708090a0b0c0d0e0f"
#define REC_VERSION(n, state)                                                                      \
    "{\"version\":" #n ",\"id\":\"" ID32 "\",\"state\":\"" state "\",\"created\":1,\"changed\":1}"

START_TEST(record_parse_rejects_malformed_records)
{
    assert_record_rejected("not json", "malformed");
    assert_record_rejected("{\"format\":2,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":0,"
                           "\"next\":1,\"versions\":[]}",
                           "format 2");
    assert_record_rejected("{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"a "
                           "b\",\"active\":0,\"next\":1,\"versions\":[]}",
                           "out of range");
    assert_record_rejected(
        "{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":1,\"next\":3,\"versions\":"
        "[" REC_VERSION(1, "active") "," REC_VERSION(2, "active") "]}",
        "active");
    assert_record_rejected(
        "{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":0,\"next\":3,\"versions\":"
        "[" REC_VERSION(1, "standby") "," REC_VERSION(1, "standby") "]}",
        "appears twice");
    assert_record_rejected("{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":0,"
                           "\"next\":2,\"versions\":[" REC_VERSION(5, "standby") "]}",
                           "not below");
    assert_record_rejected("{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":0,"
                           "\"next\":3,\"versions\":[" REC_VERSION(1, "sleeping") "]}",
                           "state is unknown");
    assert_record_rejected(
        "{\"format\":1,\"name\":\"x\",\"seq\":1,\"spc\":\"1\",\"active\":0,\"next\":3,\"extra\":1,"
        "\"versions\":[]}",
        "malformed");
}
END_TEST

START_TEST(identity_names_exclude_slashes_and_leading_dots)
{
    ck_assert(sks_identity_name_ok("sp-main"));
    ck_assert(sks_identity_name_ok("A.b_c-9"));
    ck_assert(!sks_identity_name_ok(""));
    ck_assert(!sks_identity_name_ok("sp/main"));
    ck_assert(!sks_identity_name_ok(".hidden"));
    ck_assert(!sks_identity_name_ok("sp main"));
    ck_assert(
        !sks_identity_name_ok("a2345678901234567890123456789012345678901234567890123456789012345"));
}
END_TEST

START_TEST(map_holds_many_entries)
{
    struct ks_map m = {0};
    char key[32];
    intptr_t i;

    for (i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "id-%ld", (long)i);
        ck_assert(ks_map_put(&m, key, strlen(key), (void *)(i + 1)));
    }
    ck_assert_uint_eq(m.count, 20000);
    for (i = 0; i < 20000; i += 7) {
        snprintf(key, sizeof(key), "id-%ld", (long)i);
        ck_assert_ptr_eq(ks_map_get(&m, key, strlen(key)), (void *)(i + 1));
    }
    ck_assert_ptr_eq(ks_map_del(&m, "id-5", 4), (void *)6);
    ck_assert_ptr_null(ks_map_get(&m, "id-5", 4));
    ck_assert_uint_eq(m.count, 19999);
    ks_map_clear(&m, NULL);
}
END_TEST

/* ---- configuration -------------------------------------------------------------------- */

static char *write_temp(const char *text)
{
    static char path[] = "/tmp/check_keystore.XXXXXX";
    char *copy = strdup(path);
    int fd = mkstemp(copy);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return copy;
}

START_TEST(config_reads_sks_section_and_anchors_relative_paths)
{
    char *path = write_temp("[sks]\npkcs11_module = /usr/lib/x.so\ntoken = sks-prod # comment\n"
                            "pin_file = user.pin\ntrust_anchors = /etc/roots.pem\n"
                            "grace_period = 60\n[sksd]\nlisten = 1\n");
    struct sks_config cfg;
    struct sks_error err;

    ck_assert_int_eq(sks_config_load(path, &cfg, &err), SKS_OK);
    ck_assert_str_eq(cfg.pkcs11_module, "/usr/lib/x.so");
    ck_assert_str_eq(cfg.token, "sks-prod");
    ck_assert_str_eq(cfg.pin_file, "/tmp/user.pin");
    ck_assert_str_eq(cfg.trust_anchors, "/etc/roots.pem");
    ck_assert_int_eq(cfg.grace_period, 60);
    ck_assert_int_eq(cfg.expiry_warn_days, SKS_EXPIRY_WARN_DAYS_DEFAULT);
    ck_assert_str_eq(NCONF_get_string(sks_config_conf(&cfg), "sksd", "listen"), "1");
    sks_config_free(&cfg);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(config_rejects_unknown_keys_and_bad_numbers)
{
    char *typo = write_temp("[sks]\npin_fle = x\n");
    char *bad = write_temp("[sks]\ngrace_period = soon\n");
    struct sks_config cfg;
    struct sks_error err;

    ck_assert_int_eq(sks_config_load(typo, &cfg, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown key \"pin_fle\""));
    ck_assert_int_eq(sks_config_load(bad, &cfg, &err), SKS_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "grace_period = \"soon\""));
    ck_assert_int_eq(sks_config_load("/nonexistent/sks.conf", &cfg, &err), SKS_ERR_NOT_FOUND);
    unlink(typo);
    unlink(bad);
    free(typo);
    free(bad);
}
END_TEST

/* ---- inputs --------------------------------------------------------------------------- */

START_TEST(file_read_stops_at_its_limit_whatever_the_size_says)
{
    /* /proc files report a size of 0: what is read counts, not st_size. */
    unsigned char *data = NULL;
    struct sks_error err;
    size_t len = 0;

    ck_assert_int_eq(sks_file_read("/proc/self/status", 16, &data, &len, &err), SKS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "too large") != NULL, "%s", err.msg);
    ck_assert_int_eq(sks_file_read("/proc/self/status", SKS_INPUT_MAX, &data, &len, &err), SKS_OK);
    ck_assert_uint_gt(len, 16);
    ck_assert_uint_eq(strlen((char *)data), len);
    OPENSSL_free(data);
}
END_TEST

START_TEST(key_decode_names_two_curves)
{
    /* A PKCS#8 algorithm that says P-256 around a SEC1 key that says P-384. */
    EVP_PKEY *p384 = EVP_EC_gen("P-384"), *out = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = PKCS8_PRIV_KEY_INFO_new();
    unsigned char *sec1 = NULL, *der = NULL;
    struct sks_error err;
    int sec1_len, der_len;

    ck_assert_ptr_nonnull(p384);
    sec1_len = i2d_PrivateKey(p384, &sec1);
    ck_assert_int_gt(sec1_len, 0);
    ck_assert_int_eq(PKCS8_pkey_set0(p8, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), 0, V_ASN1_OBJECT,
                                     OBJ_nid2obj(NID_X9_62_prime256v1), sec1, sec1_len),
                     1);
    der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    ck_assert_int_gt(der_len, 0);
    ck_assert_int_eq(sks_key_decode(der, (size_t)der_len, "two-curves.der", "", &out, &err),
                     SKS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg,
                         "names two curves: prime256v1 (1.2.840.10045.3.1.7) in its "
                         "PKCS#8 algorithm, secp384r1 (1.3.132.0.34) in its EC key") != NULL,
                  "%s", err.msg);
    ck_assert_ptr_null(out);
    OPENSSL_free(der);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(p384);
}
END_TEST

/* ---- against a token -------------------------------------------------------------------- */

static char tokdir[] = "/tmp/check_keystore_token.XXXXXX";
static char pin_path[sizeof(tokdir) + 16], conf_path[sizeof(tokdir) + 16];
static struct sks_testpki pki;
static X509_STORE *roots;
static STACK_OF(X509) * chain;
static struct p11_token *tok;
static struct sks_keystore *ks;

static void make_token(void)
{
    const char *srcdir = getenv("top_srcdir"), *builddir = getenv("top_builddir");
    char cmd[4096];

    ck_assert_ptr_nonnull(mkdtemp(tokdir));
    snprintf(cmd, sizeof(cmd), "SKSCTL='%s/sksctl' '%s/softhsm-conf/mktoken.sh' '%s' ks-unit",
             builddir, srcdir, tokdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", tokdir);
    setenv("SOFTHSM2_CONF", cmd, 1);
    snprintf(pin_path, sizeof(pin_path), "file:%s/user.pin", tokdir);
    snprintf(conf_path, sizeof(conf_path), "%s/sks.conf", tokdir);
}

static void write_conf(void)
{
    FILE *f = fopen(conf_path, "w");

    ck_assert_ptr_nonnull(f);
    /* The test certificates' CRLs are not served: sksd-crl.sh tests activation with CRLs. */
    fprintf(f,
            "[sks]\npkcs11_module = %s\ntoken = ks-unit\npin_file = %s/user.pin\ncrl_check = no\n",
            getenv("SOFTHSM_MODULE"), tokdir);
    fclose(f);
}

static void token_setup(void)
{
    struct sks_keystore_config cfg;
    struct p11_module *mod;
    P11KitUri *match = p11_kit_uri_new();
    struct sks_error err;

    make_token();
    write_conf();
    ck_assert_int_eq(sks_testpki_create(&pki, time(NULL), 365, &err), SKS_OK);
    ck_assert_int_eq(sks_testpki_trust(&pki, &roots, &chain, &err), SKS_OK);
    ck_assert_int_eq(p11_kit_uri_parse("pkcs11:token=ks-unit", P11_KIT_URI_FOR_TOKEN, match), 0);
    ck_assert_int_eq(p11_module_get(getenv("SOFTHSM_MODULE"), &mod, &err), SKS_OK);
    ck_assert_int_eq(p11_token_find(mod, match, NULL, &tok, &err), SKS_OK);
    p11_module_put(mod);
    p11_kit_uri_free(match);
    ck_assert_int_eq(p11_token_set_pin_source(tok, pin_path, &err), SKS_OK);
    sks_keystore_config_init(&cfg);
    cfg.roots = roots;
    cfg.lock_dir = tokdir;
    ck_assert_int_eq(sks_keystore_open(tok, &cfg, &ks, &err), SKS_OK);
}

static void token_teardown(void)
{
    char cmd[sizeof(tokdir) + 16];

    sks_keystore_close(ks);
    p11_token_put(tok);
    sk_X509_pop_free(chain, X509_free);
    X509_STORE_free(roots);
    sks_testpki_cleanup(&pki);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tokdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tokdir);
}

/* A fresh P-256 key and its certificate from the test PKI, for |spc|. */
static void key_and_cert(const char *spc, EVP_PKEY **key, struct sks_credentials *cred)
{
    struct sks_error err;

    ck_assert_int_eq(sks_testpki_keygen(key, &err), SKS_OK);
    cred->cert = NULL;
    ck_assert_int_eq(sks_testpki_issue(&pki, *key, spc, NULL, &cred->cert, &err), SKS_OK);
    cred->chain = chain;
    cred->x5u = "https://cert.example.org/unit.pem";
}

static unsigned int import(const char *identity, const char *spc, EVP_PKEY **keep)
{
    struct sks_credentials cred;
    struct sks_error err;
    unsigned int v = 0;
    EVP_PKEY *key;

    key_and_cert(spc, &key, &cred);
    sks_error_clear(&err);
    ck_assert_msg(sks_keystore_import_key(ks, identity, key, &cred, &v, &err) == SKS_OK, "%s",
                  err.msg);
    X509_free(cred.cert);
    if (keep != NULL)
        *keep = key;
    else
        EVP_PKEY_free(key);
    return v;
}

/* Signs with the snapshot's key and checks the signature with its certificate. */
static void assert_snapshot_signs(struct sks_active *a)
{
    static const unsigned char msg[] = "header.payload";
    unsigned char sig[P11_ES256_SIG_LEN], der[80], *p = der;
    ECDSA_SIG *es = ECDSA_SIG_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct sks_error err;
    int len;

    ck_assert_int_eq(p11_key_sign_message(a->key, msg, sizeof(msg) - 1, sig, &err), SKS_OK);
    ck_assert_int_eq(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)),
                     1);
    len = i2d_ECDSA_SIG(es, &p);
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(a->cert)),
                     1);
    ck_assert_int_eq(EVP_DigestVerify(md, der, (size_t)len, msg, sizeof(msg) - 1), 1);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
}

START_TEST(imported_key_is_sensitive_and_sign_only)
{
    struct sks_active *a = NULL;
    struct sks_error err;
    CK_OBJECT_HANDLE *h = NULL;
    size_t n = 0;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_BBOOL sensitive = 0, extractable = 1, sign = 0, decrypt = 1, unwrap = 1, derive = 1;
    unsigned char value[64];
    struct p11_template find = {.attr = {{CKA_CLASS, &cls, sizeof(cls)}}, .n = 1};
    CK_ATTRIBUTE attrs[] = {
        {CKA_SENSITIVE, &sensitive, 1},
        {CKA_EXTRACTABLE, &extractable, 1},
        {CKA_SIGN, &sign, 1},
        {CKA_DECRYPT, &decrypt, 1},
        {CKA_UNWRAP, &unwrap, 1},
        {CKA_DERIVE, &derive, 1},
        {CKA_VALUE, value, sizeof(value)},
    };

    ck_assert_uint_eq(import("sp-unit", "1234", NULL), 1);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-unit", 1000, &a, &err), SKS_OK);
    ck_assert_uint_eq(a->version, 1);
    ck_assert_str_eq(a->spc, "1234");
    ck_assert_str_eq(a->x5u, "https://cert.example.org/unit.pem");
    assert_snapshot_signs(a);
    sks_active_put(a);

    ck_assert_int_eq(p11_store_find(tok, &find, &h, &n, &err), SKS_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(p11_store_get(tok, h[0], attrs, 7, &err), SKS_OK);
    ck_assert(sensitive && !extractable && sign && !decrypt && !unwrap && !derive);
    ck_assert_msg(attrs[6].ulValueLen == CK_UNAVAILABLE_INFORMATION,
                  "the private value is readable");
    free(h);
}
END_TEST

/* A P-256 key pair made of |good|'s public key and the private value |d|, whatever it is. */
static EVP_PKEY *keypair_with_private_value(EVP_PKEY *good, const BIGNUM *d)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pair = NULL;
    unsigned char pub[65];
    size_t publen = 0;
    OSSL_PARAM *params;

    ck_assert_int_eq(
        EVP_PKEY_get_octet_string_param(good, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &publen),
        1);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d);
    params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pair, EVP_PKEY_KEYPAIR, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return pair;
}

/* Imports |bad| with |cred| as |identity|; expects |status| naming |rule|, and nothing stored. */
static void assert_import_refused(const char *identity, EVP_PKEY *bad,
                                  const struct sks_credentials *cred, sks_status status,
                                  const char *rule)
{
    struct sks_active *a = NULL;
    struct sks_error err;

    sks_error_clear(&err);
    ck_assert_int_eq(sks_keystore_import_key(ks, identity, bad, cred, NULL, &err), status);
    ck_assert_msg(strstr(err.msg, rule) != NULL, "%s", err.msg);
    ck_assert_int_eq(sks_keystore_active(ks, identity, 0, &a, &err), SKS_ERR_NOT_FOUND);
}

START_TEST(import_rejects_scalar_out_of_range)
{
    /* d = n, the P-256 group order: not a private key, whatever the public key says. */
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    struct sks_credentials cred;
    EVP_PKEY *good, *bad;

    key_and_cert("1234", &good, &cred);
    bad = keypair_with_private_value(good, EC_GROUP_get0_order(g));
    assert_import_refused("sp-range", bad, &cred, SKS_ERR_POLICY, "key-range");
    EC_GROUP_free(g);
    EVP_PKEY_free(good);
    EVP_PKEY_free(bad);
    X509_free(cred.cert);
}
END_TEST

START_TEST(import_rejects_damaged_private_value)
{
    /* One bit of d flipped, the public key and certificate intact: they match each other only. */
    struct sks_credentials cred;
    EVP_PKEY *good, *bad;
    BIGNUM *d = NULL;

    key_and_cert("1234", &good, &cred);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(good, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    ck_assert_int_eq(BN_is_bit_set(d, 7) ? BN_clear_bit(d, 7) : BN_set_bit(d, 7), 1);
    bad = keypair_with_private_value(good, d);
    assert_import_refused("sp-damaged", bad, &cred, SKS_ERR_INPUT, "key-consistency");
    BN_clear_free(d);
    EVP_PKEY_free(good);
    EVP_PKEY_free(bad);
    X509_free(cred.cert);
}
END_TEST

START_TEST(wrap_refuses_what_import_key_refuses)
{
    /* The importer of a blob never sees d: the sender's side runs import --key's checks. */
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    struct sks_credentials cred;
    struct sks_error err;
    EVP_PKEY *good, *out_of_range, *damaged, *wpub = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    BIGNUM *d = NULL;

    key_and_cert("1234", &good, &cred);
    ck_assert_int_eq(sks_keystore_wrapping_key(ks, &wpub, &err), SKS_OK);
    out_of_range = keypair_with_private_value(good, EC_GROUP_get0_order(g));
    ck_assert_int_eq(sks_wrap_key(wpub, out_of_range, NULL, &blob, &len, &err), SKS_ERR_POLICY);
    ck_assert_msg(strstr(err.msg, "key-range") != NULL, "%s", err.msg);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(good, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    ck_assert_int_eq(BN_is_bit_set(d, 7) ? BN_clear_bit(d, 7) : BN_set_bit(d, 7), 1);
    damaged = keypair_with_private_value(good, d);
    ck_assert_int_eq(sks_wrap_key(wpub, damaged, NULL, &blob, &len, &err), SKS_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "key-consistency") != NULL, "%s", err.msg);
    ck_assert_ptr_null(blob);
    BN_clear_free(d);
    EVP_PKEY_free(damaged);
    EVP_PKEY_free(out_of_range);
    EVP_PKEY_free(wpub);
    EVP_PKEY_free(good);
    X509_free(cred.cert);
    EC_GROUP_free(g);
}
END_TEST

START_TEST(wrapped_key_round_trips_through_the_token)
{
    struct sks_credentials cred;
    struct sks_active *a = NULL;
    struct sks_error err;
    EVP_PKEY *key, *wpub = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    unsigned int v = 0;

    key_and_cert("5678", &key, &cred);
    ck_assert_int_eq(sks_keystore_wrapping_key(ks, &wpub, &err), SKS_OK);
    ck_assert_int_eq(EVP_PKEY_get_bits(wpub), 3072);
    ck_assert_int_eq(sks_wrap_key(wpub, key, NULL, &blob, &len, &err), SKS_OK);
    ck_assert_msg(sks_keystore_import_wrapped(ks, "sp-wrapped", blob, len, &cred, &v, &err) ==
                      SKS_OK,
                  "%s", err.msg);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-wrapped", 1000, &a, &err), SKS_OK);
    ck_assert_uint_eq(a->version, v);
    assert_snapshot_signs(a);
    sks_active_put(a);
    free(blob);
    EVP_PKEY_free(wpub);
    EVP_PKEY_free(key);
    X509_free(cred.cert);
}
END_TEST

START_TEST(generated_key_csr_verifies_and_attach_activates)
{
    struct sks_credentials cred = {NULL, chain, "https://cert.example.org/gen.pem"};
    struct sks_active *a = NULL;
    struct sks_error err;
    BIO *csr = BIO_new(BIO_s_mem());
    X509_REQ *req;
    EVP_PKEY *pub = NULL;
    unsigned int v = 0;

    ck_assert_msg(sks_keystore_generate(ks, "sp-gen", "4321", csr, &v, &err) == SKS_OK, "%s",
                  err.msg);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-gen", 0, &a, &err), SKS_ERR_NOT_FOUND);
    req = PEM_read_bio_X509_REQ(csr, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(sks_testpki_csr_pubkey(req, &pub, &err), SKS_OK);
    ck_assert_int_eq(sks_testpki_issue(&pki, pub, "4321", NULL, &cred.cert, &err), SKS_OK);
    ck_assert_msg(sks_keystore_attach(ks, "sp-gen", 0, &cred, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-gen", 0, &a, &err), SKS_OK);
    ck_assert_uint_eq(a->version, v);
    assert_snapshot_signs(a);
    sks_active_put(a);
    X509_free(cred.cert);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    BIO_free(csr);
}
END_TEST

START_TEST(active_follows_another_process_within_a_second)
{
    struct sks_active *a = NULL, *held = NULL;
    struct sks_error err;
    char cmd[4096];
    struct timespec t0, t1;
    double waited = 0;

    ck_assert_uint_eq(import("sp-rot", "1234", NULL), 1);
    ck_assert_uint_eq(import("sp-rot", "1234", NULL), 2);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-rot", 1000, &held, &err), SKS_OK);
    ck_assert_uint_eq(held->version, 1);

    /* Another process activates version 2; its lock file goes with the token directory. */
    snprintf(cmd, sizeof(cmd),
             "XDG_RUNTIME_DIR='%s' '%s/sksctl' activate sp-rot 2 -c '%s' > /dev/null", tokdir,
             getenv("top_builddir"), conf_path);
    ck_assert_int_eq(system(cmd), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        ck_assert_int_eq(sks_keystore_active(ks, "sp-rot", 1000, &a, &err), SKS_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (a->version == 2)
            break;
        sks_active_put(a);
        /* max_age_ms is 1000: the change must show within a second, plus scheduling slack. */
        ck_assert_msg(waited < 1.5, "the cache still serves version 1 after %.2f s", waited);
        usleep(20000);
    }
    assert_snapshot_signs(a);
    sks_active_put(a);
    /* A signer holding the old snapshot keeps working through the rotation. */
    assert_snapshot_signs(held);
    sks_active_put(held);
}
END_TEST

START_TEST(active_reports_missing_identities)
{
    struct sks_active *a = NULL;
    struct sks_error err;

    ck_assert_int_eq(sks_keystore_active(ks, "sp-none", 1000, &a, &err), SKS_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "no identity sp-none"));
    ck_assert_int_eq(sks_keystore_active(ks, "sp-none", 1000, &a, &err), SKS_ERR_NOT_FOUND);
    ck_assert_int_eq(sks_keystore_active(ks, "../etc", 1000, &a, &err), SKS_ERR_INPUT);
}
END_TEST

START_TEST(a_second_key_store_sees_changes_made_through_the_first)
{
    struct sks_keystore_config cfg;
    struct sks_keystore *other = NULL;
    struct sks_active *a = NULL;
    struct sks_error err;

    sks_keystore_config_init(&cfg);
    cfg.roots = roots;
    cfg.lock_dir = tokdir;
    ck_assert_int_eq(import("sp-two", "1234", NULL), 1);
    ck_assert_int_eq(sks_keystore_open(tok, &cfg, &other, &err), SKS_OK);
    /* |other| indexes the token now; the record changes after. */
    ck_assert_int_eq(sks_keystore_sweep(other, time(NULL), &err), SKS_OK);
    ck_assert_uint_eq(import("sp-two", "1234", NULL), 2);
    ck_assert_msg(sks_keystore_activate(other, "sp-two", 2, &err) == SKS_OK, "%s", err.msg);
    ck_assert_int_eq(sks_keystore_active(ks, "sp-two", 0, &a, &err), SKS_OK);
    ck_assert_uint_eq(a->version, 2);
    sks_active_put(a);
    sks_keystore_close(other);
}
END_TEST

static Suite *keystore_suite(bool token)
{
    Suite *s = suite_create("keystore");
    TCase *pure = tcase_create("pure");
    TCase *tc = tcase_create("token");

    tcase_add_test(pure, record_round_trips);
    tcase_add_test(pure, record_parse_rejects_malformed_records);
    tcase_add_test(pure, identity_names_exclude_slashes_and_leading_dots);
    tcase_add_test(pure, map_holds_many_entries);
    tcase_add_test(pure, config_reads_sks_section_and_anchors_relative_paths);
    tcase_add_test(pure, config_rejects_unknown_keys_and_bad_numbers);
    tcase_add_test(pure, file_read_stops_at_its_limit_whatever_the_size_says);
    tcase_add_test(pure, key_decode_names_two_curves);
    suite_add_tcase(s, pure);
    if (!token)
        return s;
    tcase_add_checked_fixture(tc, token_setup, token_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, imported_key_is_sensitive_and_sign_only);
    tcase_add_test(tc, import_rejects_scalar_out_of_range);
    tcase_add_test(tc, import_rejects_damaged_private_value);
    tcase_add_test(tc, wrap_refuses_what_import_key_refuses);
    tcase_add_test(tc, wrapped_key_round_trips_through_the_token);
    tcase_add_test(tc, generated_key_csr_verifies_and_attach_activates);
    tcase_add_test(tc, active_follows_another_process_within_a_second);
    tcase_add_test(tc, active_reports_missing_identities);
    tcase_add_test(tc, a_second_key_store_sees_changes_made_through_the_first);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *module = getenv("SOFTHSM_MODULE");
    bool token = module != NULL && module[0] != '\0' && access(module, R_OK) == 0 &&
                 getenv("top_srcdir") != NULL && getenv("top_builddir") != NULL;
    SRunner *sr;
    int failed;

    if (!token)
        printf("SoftHSM2 (SOFTHSM_MODULE) or top_srcdir/top_builddir missing: token tests "
               "skipped, the rest run\n");
    sr = srunner_create(keystore_suite(token));
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
