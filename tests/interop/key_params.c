/*
 * key_params KEY PUB.pem
 *
 * Checks what applications read from a token key through the sks provider's
 * KEYMGMT, against PUB.pem, a software copy of its public key: KEY is a
 * pkcs11: URI (private or public object, through OSSL_STORE) or a
 * key-reference PEM file (through OSSL_DECODER).
 *
 *  - EVP_PKEY_eq, type, bits, security bits, maximum signature size, group
 *    name and the encoded public point;
 *  - public export (EVP_PKEY_todata) into the default provider, and import
 *    of those public parameters into the sks provider (EVP_PKEY_fromdata);
 *  - no private value leaves the token: neither as a parameter nor through
 *    a key-pair export;
 *  - EVP_PKEY_get1_EC_KEY gives the public half and the curve, as libjwt
 *    1.10 and other pre-3.0 code need.
 *
 * Prints one line per check that held; exits 1 at the first that did not.
 */
#include "config.h"

/* EVP_PKEY_get1_EC_KEY is deprecated, and it is what libjwt 1.10 calls. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

#include "tests/interop/interop.h"

#define P256_POINT_LEN 65

static void ok(const char *what)
{
    printf("ok - %s\n", what);
}

static int is_p256_name(const char *name)
{
    return OBJ_sn2nid(name) == NID_X9_62_prime256v1 ||
           EC_curve_nist2nid(name) == NID_X9_62_prime256v1;
}

static void check_identity(EVP_PKEY *key, EVP_PKEY *pub)
{
    char group[64];
    size_t group_len;

    if (EVP_PKEY_eq(key, pub) != 1)
        interop_die("EVP_PKEY_eq: the token key differs from the software public key");
    ok("EVP_PKEY_eq with the software copy of the public key");
    if (!EVP_PKEY_is_a(key, "EC"))
        interop_die("the key is not an \"EC\" key");
    /* libjwt 1.10 and Asterisk compare EVP_PKEY_id() with EVP_PKEY_EC. */
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        interop_die("EVP_PKEY_get_base_id is %d, not EVP_PKEY_EC", EVP_PKEY_get_base_id(key));
    ok("the key is an EC key (EVP_PKEY_is_a, EVP_PKEY_get_base_id)");
    if (EVP_PKEY_get_bits(key) != 256)
        interop_die("EVP_PKEY_get_bits is %d, not 256", EVP_PKEY_get_bits(key));
    if (EVP_PKEY_get_security_bits(key) != 128)
        interop_die("EVP_PKEY_get_security_bits is %d, not 128", EVP_PKEY_get_security_bits(key));
    if (EVP_PKEY_get_size(key) < INTEROP_DER_SIG_MAX)
        interop_die("EVP_PKEY_get_size is %d, below the %d bytes of a DER P-256 signature",
                    EVP_PKEY_get_size(key), INTEROP_DER_SIG_MAX);
    ok("bits 256, security bits 128, max size fits a DER signature");
    if (EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len) != 1 || !is_p256_name(group))
        interop_die("the group name is not P-256 (got \"%s\")", group);
    ok("the group name is P-256");
}

static void check_encoded_point(EVP_PKEY *key, EVP_PKEY *pub)
{
    unsigned char *mine = NULL, *theirs = NULL;
    size_t mine_len, theirs_len;

    mine_len = EVP_PKEY_get1_encoded_public_key(key, &mine);
    theirs_len = EVP_PKEY_get1_encoded_public_key(pub, &theirs);
    if (mine_len != P256_POINT_LEN || theirs_len != mine_len || memcmp(mine, theirs, mine_len) != 0)
        interop_die("the encoded public key (%zu bytes) is not the software key's point", mine_len);
    OPENSSL_free(mine);
    OPENSSL_free(theirs);
    ok("the encoded public key is the uncompressed point of the software key");
}

/* Imports public |params| into the provider |propq| names; EVP_PKEY_eq with |pub|. */
static void check_import(const OSSL_PARAM *params, const char *propq, EVP_PKEY *pub)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", propq);
    EVP_PKEY *copy = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &copy, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1)
        interop_die("%s cannot import the exported public EC parameters", propq);
    if (EVP_PKEY_eq(copy, pub) != 1)
        interop_die("the public key imported with %s differs from the software copy", propq);
    EVP_PKEY_free(copy);
    EVP_PKEY_CTX_free(ctx);
}

/* Public export to the default provider, then import into the sks provider. */
static void check_export_import(EVP_PKEY *key, EVP_PKEY *pub)
{
    OSSL_PARAM *params = NULL;

    if (EVP_PKEY_todata(key, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        interop_die("EVP_PKEY_todata(EVP_PKEY_PUBLIC_KEY) failed");
    check_import(params, "provider=default", pub);
    ok("public export into the default provider gives the same key");
    check_import(params, "provider=sks", pub);
    ok("public import into the sks provider gives the same key");
    OSSL_PARAM_free(params);
}

static void check_no_private_value(EVP_PKEY *key)
{
    OSSL_PARAM *params = NULL;
    BIGNUM *d = NULL;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1)
        interop_die("the private value is readable as a parameter");
    if (EVP_PKEY_todata(key, EVP_PKEY_KEYPAIR, &params) == 1 &&
        OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL)
        interop_die("a key-pair export carries the private value");
    OSSL_PARAM_free(params);
    ERR_clear_error();
    ok("no private value is exported");
}

static void check_legacy_ec_key(EVP_PKEY *key, EVP_PKEY *pub)
{
    EC_KEY *ec = EVP_PKEY_get1_EC_KEY(key);
    const EC_KEY *soft = EVP_PKEY_get0_EC_KEY(pub);
    const EC_GROUP *group;

    if (ec == NULL || soft == NULL)
        interop_die("EVP_PKEY_get1_EC_KEY failed on the token key");
    group = EC_KEY_get0_group(ec);
    if (group == NULL || EC_GROUP_get_curve_name(group) != NID_X9_62_prime256v1 ||
        EC_GROUP_get_degree(group) != 256)
        interop_die("EVP_PKEY_get1_EC_KEY: the curve is not P-256");
    if (EC_KEY_get0_public_key(ec) == NULL ||
        EC_POINT_cmp(group, EC_KEY_get0_public_key(ec), EC_KEY_get0_public_key(soft), NULL) != 0)
        interop_die("EVP_PKEY_get1_EC_KEY: the public point differs from the software key");
    if (EC_KEY_get0_private_key(ec) != NULL)
        interop_die("EVP_PKEY_get1_EC_KEY carries a private value");
    EC_KEY_free(ec);
    ok("EVP_PKEY_get1_EC_KEY gives the public point and curve, no private value");
}

/*
 * A context signed with once and re-initialised with EVP_DigestSignInit(ctx,
 * NULL, NULL, NULL, NULL) keeps its key and digest: servers that keep one
 * context per thread sign this way.
 */
static void check_context_reinit(EVP_PKEY *key, EVP_PKEY *pub)
{
    static const unsigned char msg[] = "INVITE sip:+12155550131@example.net SIP/2.0";
    unsigned char sig[80];
    size_t len;
    EVP_MD_CTX *md;
    int round;

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1)
        interop_die("EVP_DigestSignInit failed");
    for (round = 0; round < 3; round++) {
        len = sizeof(sig);
        if (round > 0 && EVP_DigestSignInit(md, NULL, NULL, NULL, NULL) != 1)
            interop_die("re-initialising the signing context (round %d) failed", round);
        if (EVP_DigestSign(md, sig, &len, msg, sizeof(msg) - 1) != 1)
            interop_die("signing with a re-initialised context (round %d) failed", round);
        if (!interop_verify(pub, msg, sizeof(msg) - 1, sig, len))
            interop_die("the signature of round %d does not verify", round);
    }
    EVP_MD_CTX_free(md);
    ok("a signing context re-initialised with EVP_DigestSignInit keeps its key");
}

int main(int argc, char **argv)
{
    EVP_PKEY *key, *pub;

    interop_prog = "key_params";
    if (argc != 3) {
        fprintf(stderr, "usage: key_params KEY PUB.pem\n");
        return 2;
    }
    key = interop_load_key(argv[1]);
    pub = interop_load_soft_pubkey(argv[2]);

    check_identity(key, pub);
    check_encoded_point(key, pub);
    check_export_import(key, pub);
    check_no_private_value(key);
    check_legacy_ec_key(key, pub);
    /* Public keys are loaded too (type=public URIs); only private keys sign. */
    if (strstr(argv[1], "type=public") == NULL)
        check_context_reinit(key, pub);

    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    return 0;
}
