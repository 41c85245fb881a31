/*
 * Reading and decoding what an import is given (see input.h).
 *
 * A key file is checked for what OpenSSL's decoders would pass over or
 * report only as "not a key" before it is decoded: extra PEM blocks, bytes
 * after the DER, the curve its key names, a stored public key that is not
 * on the curve, and the cost of the key derivation an encrypted key asks
 * for.  The decoding itself is OpenSSL's.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ui.h>
#include <openssl/x509v3.h>

#include "profile/certs.h"
#include "keystore/input.h"
#include "keystore/keystore.h"

/* ---- files ------------------------------------------------------------------------ */

sks_status sks_input_file(const char *what, const char *path, unsigned char **data, size_t *len,
                          struct sks_error *err)
{
    sks_status st = sks_file_read(path, SKS_INPUT_MAX, data, len, err);

    if (st != SKS_OK) {
        sks_error_prefix(err, "%s", what);
        return st;
    }
    if (*len == 0) {
        OPENSSL_free(*data);
        *data = NULL;
        return sks_fail(err, SKS_ERR_INPUT, "%s: %s is empty", what, path);
    }
    return SKS_OK;
}

sks_status sks_input_certs(const char *what, const char *path, STACK_OF(X509) * *out,
                           struct sks_error *err)
{
    unsigned char *data = NULL;
    char name[PATH_MAX + 32];
    size_t len = 0;
    sks_status st;

    st = sks_input_file(what, path, &data, &len, err);
    if (st != SKS_OK)
        return st;
    snprintf(name, sizeof(name), "%s: %s", what, path);
    st = sks_certs_parse(data, len, true, name, out, err);
    OPENSSL_free(data);
    return st;
}

void sks_credentials_free(struct sks_credentials *c)
{
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
    memset(c, 0, sizeof(*c));
}

sks_status sks_input_credentials(const char *cert, const char *chain, const char *x5u,
                                 struct sks_credentials *c, struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    sks_status st;

    memset(c, 0, sizeof(*c));
    c->x5u = x5u;
    st = sks_input_certs("--cert", cert, &certs, err);
    if (st != SKS_OK)
        return st;
    c->cert = sk_X509_shift(certs);
    if (chain == NULL) {
        c->chain = certs;
        return SKS_OK;
    }
    sk_X509_pop_free(certs, X509_free);
    st = sks_input_certs("--chain", chain, &c->chain, err);
    if (st != SKS_OK)
        sks_credentials_free(c);
    return st;
}

/* A PEM public key or, when |der_ok|, a DER one; NULL when |data| holds neither. */
static EVP_PKEY *pubkey_parse(const unsigned char *data, size_t len, bool der_ok)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

    if (pub == NULL && der_ok) {
        const unsigned char *p = data;
        pub = d2i_PUBKEY(NULL, &p, (long)len);
    }
    BIO_free(bio);
    ERR_clear_error();
    return pub;
}

sks_status sks_input_public_key(const char *what, const char *path, EVP_PKEY **out,
                                struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st;

    st = sks_input_file(what, path, &data, &len, err);
    if (st != SKS_OK)
        return st;
    *out = pubkey_parse(data, len, true);
    OPENSSL_free(data);
    if (*out == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s: %s is not a public key (PEM or DER)", what, path);
    return SKS_OK;
}

sks_status sks_input_passphrase(const char *path, char **pass, struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st;

    st = sks_file_read(path, SKS_PASSPHRASE_MAX, &data, &len, err);
    if (st != SKS_OK) {
        sks_error_prefix(err, "--passphrase-file");
        return st;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len == 0) {
        OPENSSL_free(data);
        return sks_fail(err, SKS_ERR_INPUT,
                        "--passphrase-file: %s is empty: it must hold the key's passphrase on "
                        "its first line",
                        path);
    }
    *pass = (char *)data;
    return SKS_OK;
}

/* ---- files to check or sign with -------------------------------------------------------- */

sks_status sks_certs_load(const char *path, bool der_ok, STACK_OF(X509) * *out,
                          struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st = sks_file_read(path, SKS_CERT_FILE_MAX, &data, &len, err);

    if (st == SKS_OK)
        st = sks_certs_parse(data, len, der_ok, path, out, err);
    OPENSSL_free(data);
    return st;
}

sks_status sks_roots_load(const char *path, X509_STORE **out, struct sks_error *err)
{
    STACK_OF(X509) *certs = NULL;
    sks_status st;
    int i;

    if ((st = sks_certs_load(path, false, &certs, err)) != SKS_OK) {
        sks_error_prefix(err, "trust anchors");
        return st;
    }
    if (sk_X509_num(certs) > SKS_ROOTS_MAX)
        st = sks_fail(err, SKS_ERR_INPUT, "trust anchors %s: more than %d certificates", path,
                      SKS_ROOTS_MAX);
    for (i = 0; st == SKS_OK && i < sk_X509_num(certs); i++) {
        if (X509_check_ca(sk_X509_value(certs, i)) == 0)
            st = sks_fail(err, SKS_ERR_INPUT,
                          "trust anchors %s: certificate %d is not a CA certificate", path, i + 1);
    }
    if (st == SKS_OK)
        st = sks_certs_store(certs, path, out, err);
    sk_X509_pop_free(certs, X509_free);
    return st;
}

sks_status sks_pubkey_load(const char *path, EVP_PKEY **out, struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0;
    sks_status st;

    st = sks_file_read(path, SKS_CERT_FILE_MAX, &data, &len, err);
    if (st != SKS_OK)
        return st;
    *out = pubkey_parse(data, len, false);
    OPENSSL_free(data);
    if (*out == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s holds no PEM public key", path);
    return SKS_OK;
}

sks_status sks_csr_load(const char *path, X509_REQ **out, struct sks_error *err)
{
    unsigned char *data = NULL;
    const unsigned char *p;
    X509_REQ *req = NULL;
    size_t len = 0;
    BIO *bio;
    sks_status st;

    st = sks_file_read(path, SKS_CSR_FILE_MAX, &data, &len, err);
    if (st != SKS_OK)
        return st;
    bio = BIO_new_mem_buf(data, (int)len);
    if (bio != NULL)
        req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    if (req == NULL) {
        p = data;
        req = d2i_X509_REQ(NULL, &p, (long)len);
    }
    ERR_clear_error();
    BIO_free(bio);
    OPENSSL_free(data);
    if (req == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s is not a PEM or DER certificate request", path);
    *out = req;
    return SKS_OK;
}

/* ---- key files: structure -------------------------------------------------------------- */

static sks_status not_a_key(struct sks_error *err, const char *name, const char *why)
{
    return sks_fail(err, SKS_ERR_INPUT,
                    "%s is not a private key (PEM or DER PKCS#8, plain or encrypted, or SEC1 EC "
                    "PRIVATE KEY)%s%s",
                    name, why[0] != '\0' ? ": " : "", why);
}

/* SEC 1 C.4 ECPrivateKey; OpenSSL keeps its own template private. */
typedef struct {
    ASN1_INTEGER *version;
    ASN1_OCTET_STRING *priv;
    ASN1_TYPE *params;
    ASN1_BIT_STRING *pub;
} SKS_SEC1_KEY;

/* clang-format off: OpenSSL's template macros */
ASN1_SEQUENCE(SKS_SEC1_KEY) =
    {
        ASN1_SIMPLE(SKS_SEC1_KEY, version, ASN1_INTEGER),
        ASN1_SIMPLE(SKS_SEC1_KEY, priv, ASN1_OCTET_STRING),
        ASN1_EXP_OPT(SKS_SEC1_KEY, params, ASN1_ANY, 0),
        ASN1_EXP_OPT(SKS_SEC1_KEY, pub, ASN1_BIT_STRING, 1),
} static_ASN1_SEQUENCE_END(SKS_SEC1_KEY)
    /* clang-format on */

    /* "secp384r1 (1.3.132.0.34)", or the OID alone when OpenSSL has no name for it. */
    static void oid_name(char *buf, size_t len, const ASN1_OBJECT *obj)
{
    char num[128];
    int nid = OBJ_obj2nid(obj);

    OBJ_obj2txt(num, sizeof(num), obj, 1);
    if (nid == NID_undef)
        snprintf(buf, len, "%s", num);
    else
        snprintf(buf, len, "%s (%s)", OBJ_nid2sn(nid), num);
}

/*
 * An ECPrivateKey: the curve it names (or |alg_curve|, the PKCS#8
 * algorithm's) must be P-256, and the public key stored with it a point on
 * that curve.  A key with explicit parameters is left to the P-256 check.
 */
static sks_status sec1_check(const unsigned char *der, size_t len, const ASN1_OBJECT *alg_curve,
                             const char *name, struct sks_error *err)
{
    const unsigned char *p = der;
    SKS_SEC1_KEY *k =
        (SKS_SEC1_KEY *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(SKS_SEC1_KEY));
    const ASN1_OBJECT *curve = alg_curve;
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    char a[160], b[160];
    sks_status st = SKS_OK;

    if (k == NULL)
        goto done; /* not SEC1: the decoder says what it is not */
    if (p != der + len) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s: its EC key is followed by %zu bytes that are not part of it", name,
                      len - (size_t)(p - der));
        goto done;
    }
    if (k->params != NULL && k->params->type == V_ASN1_OBJECT) {
        curve = k->params->value.object;
        if (alg_curve != NULL && OBJ_cmp(alg_curve, curve) != 0) {
            oid_name(a, sizeof(a), alg_curve);
            oid_name(b, sizeof(b), curve);
            st = sks_fail(err, SKS_ERR_INPUT,
                          "key-p256: %s names two curves: %s in its PKCS#8 algorithm, %s in "
                          "its EC key",
                          name, a, b);
            goto done;
        }
    } else if (k->params != NULL) {
        curve = NULL;
    }
    if (curve == NULL)
        goto done;
    if (OBJ_obj2nid(curve) != NID_X9_62_prime256v1) {
        oid_name(a, sizeof(a), curve);
        st = sks_fail(err, SKS_ERR_POLICY,
                      "key-p256: %s is a key on the curve %s%s, not P-256 (prime256v1, "
                      "1.2.840.10045.3.1.7)",
                      name, OBJ_obj2nid(curve) == NID_undef ? "of unknown OID " : "", a);
        goto done;
    }
    if (k->pub == NULL)
        goto done;
    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    point = group != NULL ? EC_POINT_new(group) : NULL;
    if (point == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    if (EC_POINT_oct2point(group, point, k->pub->data, (size_t)k->pub->length, NULL) != 1)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "key-consistency: the public key stored with %s is not a point on the "
                      "curve P-256: the key is damaged",
                      name);
done:
    EC_POINT_free(point);
    EC_GROUP_free(group);
    ASN1_item_free((ASN1_VALUE *)k, ASN1_ITEM_rptr(SKS_SEC1_KEY));
    ERR_clear_error();
    return st;
}

/* PKCS#8 PrivateKeyInfo: an EC key inside is checked as SEC1, with the algorithm's curve. */
static sks_status pkcs8_check(const PKCS8_PRIV_KEY_INFO *p8, const char *name,
                              struct sks_error *err)
{
    const ASN1_OBJECT *alg_obj, *curve = NULL;
    const X509_ALGOR *alg;
    const unsigned char *pk;
    const void *pval;
    int pklen, ptype;

    if (PKCS8_pkey_get0(&alg_obj, &pk, &pklen, &alg, p8) != 1 ||
        OBJ_obj2nid(alg_obj) != NID_X9_62_id_ecPublicKey)
        return SKS_OK; /* not EC: the P-256 check refuses it by name */
    X509_ALGOR_get0(NULL, &ptype, &pval, alg);
    if (ptype == V_ASN1_OBJECT)
        curve = pval;
    return sec1_check(pk, (size_t)pklen, curve, name, err);
}

/* ---- key files: what an encrypted key asks for ---------------------------------------- */

static sks_status pbkdf2_check(const X509_ALGOR *kdf_alg, const char *name, struct sks_error *err)
{
    PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), kdf_alg->parameter);
    int64_t iter = 0;
    sks_status st = SKS_OK;

    if (kdf == NULL)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s is encrypted with PBKDF2 parameters that do not parse", name);
    else if (ASN1_INTEGER_get_int64(&iter, kdf->iter) != 1 || iter > SKS_PBKDF2_ITER_MAX)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s asks for a PBKDF2 iteration count over %ld, the most this import "
                      "derives (re-encrypt it with fewer: openssl pkcs8 -topk8 -v2 aes-256-cbc "
                      "-iter 600000)",
                      name, SKS_PBKDF2_ITER_MAX);
    else if (iter < 1)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s has the PBKDF2 iteration count %lld: it must be at least 1 (the file "
                      "is damaged or was not made by a PKCS#5 tool)",
                      name, (long long)iter);
    PBKDF2PARAM_free(kdf);
    return st;
}

static bool get_u64(const ASN1_INTEGER *i, uint64_t *v)
{
    return i != NULL && ASN1_INTEGER_get_uint64(v, i) == 1;
}

/* RFC 7914 7.1; OpenSSL allocates 128 * r * (N + 2 + p) bytes for it. */
static sks_status scrypt_check(const X509_ALGOR *kdf_alg, const char *name, struct sks_error *err)
{
    SCRYPT_PARAMS *sp =
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), kdf_alg->parameter);
    const uint64_t mem_max = SKS_SCRYPT_MEM_MAX;
    uint64_t n = 0, r = 0, p = 0;
    sks_status st = SKS_OK;

    if (sp == NULL || !get_u64(sp->costParameter, &n) || !get_u64(sp->blockSize, &r) ||
        !get_u64(sp->parallelizationParameter, &p))
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s is encrypted with scrypt parameters that do not parse", name);
    else if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s has invalid scrypt parameters N=%llu r=%llu p=%llu (RFC 7914: N a "
                      "power of 2 over 1, r and p at least 1)",
                      name, (unsigned long long)n, (unsigned long long)r, (unsigned long long)p);
    else if (r > mem_max / 128 || n > mem_max || p > SKS_SCRYPT_P_MAX ||
             128 * r * (n + 2 + p) > mem_max)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s asks for scrypt with N=%llu r=%llu p=%llu, over what this import "
                      "derives (128*r*(N+2+p) at most %llu MiB, p at most %d)",
                      name, (unsigned long long)n, (unsigned long long)r, (unsigned long long)p,
                      (unsigned long long)(mem_max >> 20), SKS_SCRYPT_P_MAX);
    SCRYPT_PARAMS_free(sp);
    return st;
}

/*
 * EncryptedPrivateKeyInfo (RFC 5958 3): PBES2 only (RFC 8018 6.2), with a
 * cipher this OpenSSL offers and a key derivation whose cost is bounded.
 * Checked before the passphrase is asked for or anything is derived.
 */
static sks_status pbe_check(const X509_SIG *sig, const char *name, struct sks_error *err)
{
    const X509_ALGOR *alg;
    PBE2PARAM *pbe2 = NULL;
    EVP_CIPHER *cipher = NULL;
    char oid[160];
    int nid, cnid;
    sks_status st = SKS_OK;

    X509_SIG_get0(sig, &alg, NULL);
    nid = OBJ_obj2nid(alg->algorithm);
    oid_name(oid, sizeof(oid), alg->algorithm);
    if (nid != NID_pbes2) {
        if (nid != NID_undef && EVP_PBE_find(EVP_PBE_TYPE_OUTER, nid, NULL, NULL, NULL) == 1)
            return sks_fail(err, SKS_ERR_POLICY,
                            "%s is encrypted with %s, a PBES1 or PKCS#12 scheme (single DES, RC2 "
                            "or 3DES with a weak key derivation): re-encrypt it with PBES2, e.g. "
                            "openssl pkcs8 -topk8 -v2 aes-256-cbc",
                            name, oid);
        return sks_fail(err, SKS_ERR_INPUT, "%s is encrypted with an unknown scheme %s", name, oid);
    }
    pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
    if (pbe2 == NULL || pbe2->keyfunc == NULL || pbe2->encryption == NULL) {
        st = sks_fail(err, SKS_ERR_INPUT, "%s is encrypted with PBES2 parameters that do not parse",
                      name);
        goto done;
    }
    cnid = OBJ_obj2nid(pbe2->encryption->algorithm);
    if (cnid != NID_undef)
        cipher = EVP_CIPHER_fetch(NULL, OBJ_nid2sn(cnid), NULL);
    if (cipher == NULL) {
        oid_name(oid, sizeof(oid), pbe2->encryption->algorithm);
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s is encrypted with the cipher %s, unknown to this OpenSSL: re-encrypt "
                      "it with aes-256-cbc",
                      name, oid);
        goto done;
    }
    nid = OBJ_obj2nid(pbe2->keyfunc->algorithm);
    if (nid == NID_id_pbkdf2) {
        st = pbkdf2_check(pbe2->keyfunc, name, err);
    } else if (nid == NID_id_scrypt) {
        st = scrypt_check(pbe2->keyfunc, name, err);
    } else {
        oid_name(oid, sizeof(oid), pbe2->keyfunc->algorithm);
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s is encrypted with the key derivation function %s; PBKDF2 and scrypt "
                      "are taken",
                      name, oid);
    }
done:
    EVP_CIPHER_free(cipher);
    PBE2PARAM_free(pbe2);
    ERR_clear_error();
    return st;
}

/*
 * The DER of a key (the whole file, or the body of its PEM block): nothing
 * after it, then what kind of key it is.  DER that does not parse is left
 * to the decoder, which names what it is not.
 */
static sks_status der_check(const unsigned char *der, size_t len, const char *name, bool *encrypted,
                            struct sks_error *err)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8;
    X509_SIG *sig;
    size_t whole;
    long olen = 0;
    int tag, cls, rc;
    sks_status st;

    rc = ASN1_get_object(&p, &olen, &tag, &cls, (long)len);
    ERR_clear_error();
    if ((rc & 0x80) != 0 || rc == 0x21 || tag != V_ASN1_SEQUENCE)
        return SKS_OK;
    whole = (size_t)(p - der) + (size_t)olen;
    if (whole < len)
        return sks_fail(err, SKS_ERR_INPUT,
                        "%s: its DER key is %zu bytes and %zu more follow it: trailing bytes are "
                        "refused",
                        name, whole, len - whole);
    p = der;
    if ((sig = d2i_X509_SIG(NULL, &p, (long)len)) != NULL) {
        *encrypted = true;
        st = pbe_check(sig, name, err);
        X509_SIG_free(sig);
        return st;
    }
    p = der;
    if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) != NULL) {
        st = pkcs8_check(p8, name, err);
        PKCS8_PRIV_KEY_INFO_free(p8);
        return st;
    }
    ERR_clear_error();
    return sec1_check(der, len, NULL, name, err);
}

static bool only_space(const unsigned char *p, size_t len)
{
    for (; len > 0; p++, len--)
        if (!isspace(*p))
            return false;
    return true;
}

/*
 * A PEM key file holds one PEM block.  Text before it is taken (RFC 7468
 * 5.2; openssl pkcs12 writes "Bag Attributes" there); after it, only white
 * space: a second block, a certificate after the key, or anything else
 * there means the file is not what it was meant to be.
 */
static sks_status pem_block(const unsigned char *data, size_t len, const char *name,
                            unsigned char **der, long *der_len, bool *legacy_encrypted,
                            struct sks_error *err)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    char *label = NULL, *header = NULL, *label2 = NULL, *header2 = NULL;
    unsigned char *der2 = NULL;
    const char *rest = NULL;
    long rest_len, len2;
    sks_status st = SKS_OK;

    *der = NULL;
    if (bio == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (PEM_read_bio(bio, &label, &header, der, der_len) != 1) {
        st = not_a_key(err, name, "its PEM block does not decode");
        goto done;
    }
    *legacy_encrypted = strstr(header, "ENCRYPTED") != NULL;
    rest_len = BIO_get_mem_data(bio, &rest);
    if (rest_len <= 0 || only_space((const unsigned char *)rest, (size_t)rest_len))
        goto done;
    if (memmem(rest, (size_t)rest_len, "-----BEGIN ", 11) != NULL &&
        PEM_read_bio(bio, &label2, &header2, &der2, &len2) == 1)
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s holds a second PEM block (%s) after its %s: a key file holds one key "
                      "and nothing else",
                      name, label2, label);
    else
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s has text after its %s PEM block (at byte %zu): a key file holds one "
                      "key and nothing else",
                      name, label, len - (size_t)rest_len);
done:
    if (st != SKS_OK && *der != NULL) {
        OPENSSL_clear_free(*der, (size_t)*der_len);
        *der = NULL;
    }
    if (der2 != NULL)
        OPENSSL_clear_free(der2, (size_t)len2);
    OPENSSL_free(label);
    OPENSSL_free(header);
    OPENSSL_free(label2);
    OPENSSL_free(header2);
    BIO_free(bio);
    ERR_clear_error();
    return st;
}

/* ---- key files: decoding ------------------------------------------------------------------ */

static int prompt_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    if (EVP_read_pw_string(buf, size, (const char *)u, 0) != 0)
        return -1;
    return (int)strlen(buf);
}

sks_status sks_key_decode(const unsigned char *data, size_t len, const char *name, const char *pass,
                          EVP_PKEY **out, struct sks_error *err)
{
    OSSL_DECODER_CTX *dctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    char prompt[PATH_MAX + 32];
    size_t left;
    long der_len = 0;
    bool encrypted = false;
    EVP_PKEY *pkey = NULL;
    sks_status st = SKS_OK;

    if (memmem(data, len, "-----BEGIN ", 11) != NULL)
        st = pem_block(data, len, name, &der, &der_len, &encrypted, err);
    if (st == SKS_OK && !encrypted)
        st = der != NULL ? der_check(der, (size_t)der_len, name, &encrypted, err)
                         : der_check(data, len, name, &encrypted, err);
    if (st != SKS_OK)
        goto done;
    if (pass == NULL && encrypted && !isatty(STDIN_FILENO)) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "%s is encrypted and there is no terminal to ask for its passphrase: give "
                      "--passphrase-file",
                      name);
        goto done;
    }
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, OSSL_KEYMGMT_SELECT_PRIVATE_KEY,
                                         NULL, NULL);
    if (dctx == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "no key decoder available");
        goto done;
    }
    snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", name);
    if (pass != NULL)
        OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)pass, strlen(pass));
    else
        OSSL_DECODER_CTX_set_pem_password_cb(dctx, prompt_passphrase, prompt);
    p = data;
    left = len;
    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
        ERR_clear_error();
        if (encrypted)
            st = sks_fail(err, SKS_ERR_AUTH,
                          "cannot decrypt %s: wrong passphrase, or an encryption this OpenSSL "
                          "does not offer",
                          name);
        else
            st = not_a_key(err, name, "");
        goto done;
    }
    *out = pkey;
    pkey = NULL;
done:
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(pkey);
    if (der != NULL)
        OPENSSL_clear_free(der, (size_t)der_len);
    return st;
}

sks_status sks_input_key(const char *path, const char *pass_file, EVP_PKEY **out,
                         struct sks_error *err)
{
    unsigned char *data = NULL;
    char *pass = NULL;
    size_t len = 0;
    sks_status st;

    st = sks_input_file("--key", path, &data, &len, err);
    if (st == SKS_OK && pass_file != NULL)
        st = sks_input_passphrase(pass_file, &pass, err);
    if (st == SKS_OK && (st = sks_key_decode(data, len, path, pass, out, err)) != SKS_OK)
        sks_error_prefix(err, "--key");
    if (data != NULL)
        OPENSSL_clear_free(data, len);
    if (pass != NULL)
        OPENSSL_clear_free(pass, strlen(pass) + 1);
    return st;
}
