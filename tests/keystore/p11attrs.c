/*
 * p11attrs: the independent checker of what the token lets anyone with the
 * PIN do to the keys the project made.  It loads the PKCS#11 module itself
 * (dlopen) and calls C_* directly, so that none of the project's code stands
 * between the check and the token.
 *
 *   p11attrs check [--blob FILE] [--no-mechs LABEL]...
 *       Reads every attribute of every object on the token and checks each
 *       key against the policy (not modifiable; a signing key signs with
 *       ECDSA only, the wrapping key unwraps with the mechanisms used only;
 *       sensitive, never extractable), then tries to change each attribute
 *       with C_SetAttributeValue and through C_CopyObject: every change
 *       must be refused.  The wrapping key must refuse C_Decrypt (of the
 *       first 384 bytes of --blob, a wrapped key), signing, an unwrap with a
 *       mechanism it is not allowed, and an unwrap to an AES key that could
 *       be read or could decrypt.  A key labelled --no-mechs was
 *       re-protected by sksctl protect: SoftHSM cannot change
 *       CKA_ALLOWED_MECHANISMS after creation, so it keeps the list it was
 *       made with (everything else is checked).
 *   p11attrs legacy-generate LABEL HEXID
 *       A key pair as sksctl keygen and generate made it before keys were
 *       made non-modifiable.
 *   p11attrs legacy-import HEXID KEY.pem
 *       Replaces the key pair with CKA_ID HEXID by the same key as the
 *       PKCS#8 import made it then (modifiable), keeping labels.
 *   p11attrs legacy-wrapping-key
 *       Replaces the wrapping key pair by one made the old way (modifiable).
 *
 * Environment: SOFTHSM_MODULE, SKS_TOKEN_LABEL, SKS_PIN_FILE (as common.sh
 * sets them).  Exit status: 0 when every check held, 1 otherwise, 2 on
 * misuse.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>

#define WRAP_LABEL "shaken-sks/wrapping"

static CK_FUNCTION_LIST *fl;
static CK_SESSION_HANDLE sess;
static CK_SLOT_ID slot;
static int failures;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "p11attrs: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void bad(const char *what, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("FAIL %s: ", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    failures++;
}

static void open_token(void)
{
    const char *module = getenv("SOFTHSM_MODULE"), *label = getenv("SKS_TOKEN_LABEL");
    const char *pin_file = getenv("SKS_PIN_FILE");
    CK_C_GetFunctionList get;
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64, i;
    char pin[256];
    size_t len;
    void *so;
    FILE *f;

    if (module == NULL || label == NULL || pin_file == NULL)
        die("SOFTHSM_MODULE, SKS_TOKEN_LABEL and SKS_PIN_FILE must be set");
    if ((so = dlopen(module, RTLD_NOW)) == NULL ||
        (get = (CK_C_GetFunctionList)dlsym(so, "C_GetFunctionList")) == NULL ||
        get(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK)
        die("cannot load %s", module);
    if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("C_GetSlotList failed");
    for (i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char tl[33];
        size_t k = 32;
        if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        memcpy(tl, ti.label, 32);
        while (k > 0 && tl[k - 1] == ' ')
            k--;
        tl[k] = '\0';
        if (strcmp(tl, label) == 0)
            break;
    }
    if (i == n)
        die("no token labelled %s", label);
    slot = slots[i];
    if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess) != CKR_OK)
        die("C_OpenSession failed");
    if ((f = fopen(pin_file, "r")) == NULL || fgets(pin, sizeof(pin), f) == NULL)
        die("cannot read %s", pin_file);
    fclose(f);
    len = strcspn(pin, "\r\n");
    if (fl->C_Login(sess, CKU_USER, (CK_UTF8CHAR *)pin, (CK_ULONG)len) != CKR_OK)
        die("C_Login failed");
    OPENSSL_cleanse(pin, sizeof(pin));
}

static size_t find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, size_t max)
{
    CK_ULONG got = 0;

    if (fl->C_FindObjectsInit(sess, tmpl, n) != CKR_OK ||
        fl->C_FindObjects(sess, out, (CK_ULONG)max, &got) != CKR_OK)
        die("search failed");
    fl->C_FindObjectsFinal(sess);
    return got;
}

static size_t hex_to_bin(const char *hex, unsigned char *out, size_t max)
{
    long n = 0;
    unsigned char *b = OPENSSL_hexstr2buf(hex, &n);

    if (b == NULL || n <= 0 || (size_t)n > max)
        die("bad hex %s", hex);
    memcpy(out, b, (size_t)n);
    OPENSSL_free(b);
    return (size_t)n;
}

/* ---- reading an object ------------------------------------------------------------- */

struct obj {
    CK_OBJECT_HANDLE h;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    char label[256];
    unsigned char id[128];
    CK_ULONG id_len;
    CK_MECHANISM_TYPE mechs[16];
    CK_ULONG nmechs; /* CK_UNAVAILABLE_INFORMATION: absent */
};

/* A boolean attribute: 1, 0, or -1 when the object has none. */
static int get_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 2;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};

    if (fl->C_GetAttributeValue(sess, h, &a, 1) != CKR_OK || a.ulValueLen != sizeof(v))
        return -1;
    return v ? 1 : 0;
}

static void read_obj(CK_OBJECT_HANDLE h, struct obj *o)
{
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &o->cls, sizeof(o->cls)},
        {CKA_KEY_TYPE, &o->type, sizeof(o->type)},
        {CKA_LABEL, o->label, sizeof(o->label) - 1},
        {CKA_ID, o->id, sizeof(o->id)},
        {CKA_ALLOWED_MECHANISMS, o->mechs, sizeof(o->mechs)},
    };
    CK_ULONG i;

    memset(o, 0, sizeof(*o));
    o->h = h;
    o->type = (CK_KEY_TYPE)-1;
    fl->C_GetAttributeValue(sess, h, a, 5);
    for (i = 0; i < 5; i++)
        if (a[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            a[i].ulValueLen = i == 4 ? CK_UNAVAILABLE_INFORMATION : 0;
    o->label[a[2].ulValueLen] = '\0';
    o->id_len = a[3].ulValueLen;
    o->nmechs = a[4].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    ? CK_UNAVAILABLE_INFORMATION
                    : a[4].ulValueLen / sizeof(CK_MECHANISM_TYPE);
}

/* Every attribute of the object as name=value, to compare before and after. */
static const struct {
    CK_ATTRIBUTE_TYPE type;
    const char *name;
} bools[] = {
    {CKA_TOKEN, "token"},
    {CKA_PRIVATE, "private"},
    {CKA_MODIFIABLE, "modifiable"},
    {CKA_COPYABLE, "copyable"},
    {CKA_DESTROYABLE, "destroyable"},
    {CKA_SENSITIVE, "sensitive"},
    {CKA_EXTRACTABLE, "extractable"},
    {CKA_ALWAYS_SENSITIVE, "always_sensitive"},
    {CKA_NEVER_EXTRACTABLE, "never_extractable"},
    {CKA_SIGN, "sign"},
    {CKA_SIGN_RECOVER, "sign_recover"},
    {CKA_VERIFY, "verify"},
    {CKA_VERIFY_RECOVER, "verify_recover"},
    {CKA_ENCRYPT, "encrypt"},
    {CKA_DECRYPT, "decrypt"},
    {CKA_WRAP, "wrap"},
    {CKA_UNWRAP, "unwrap"},
    {CKA_DERIVE, "derive"},
    {CKA_LOCAL, "local"},
    {CKA_WRAP_WITH_TRUSTED, "wrap_with_trusted"},
    {CKA_TRUSTED, "trusted"},
    {CKA_ALWAYS_AUTHENTICATE, "always_authenticate"},
};

static void describe(const struct obj *o, char *buf, size_t len)
{
    size_t i, n;
    CK_ULONG k;

    n = (size_t)snprintf(buf, len, "class=%lu key_type=%ld label=\"%s\" id_len=%lu",
                         (unsigned long)o->cls, (long)o->type, o->label, (unsigned long)o->id_len);
    for (i = 0; i < sizeof(bools) / sizeof(bools[0]) && n < len; i++) {
        int v = get_bool(o->h, bools[i].type);
        if (v >= 0)
            n += (size_t)snprintf(buf + n, len - n, " %s=%d", bools[i].name, v);
    }
    if (n < len && o->nmechs != CK_UNAVAILABLE_INFORMATION) {
        n += (size_t)snprintf(buf + n, len - n, " allowed_mechanisms=");
        for (k = 0; k < o->nmechs && n < len; k++)
            n += (size_t)snprintf(buf + n, len - n, "%s0x%lx", k ? "," : "",
                                  (unsigned long)o->mechs[k]);
    }
}

/* ---- the policy ----------------------------------------------------------------------- */

static bool has_mech(CK_MECHANISM_TYPE m)
{
    CK_MECHANISM_INFO info;

    return fl->C_GetMechanismInfo(slot, m, &info) == CKR_OK;
}

static void want(const struct obj *o, CK_ATTRIBUTE_TYPE type, const char *name, int expect)
{
    int v = get_bool(o->h, type);

    /* An attribute the object does not have is as good as FALSE. */
    if (v < 0 && expect == 0)
        return;
    if (v != expect)
        bad(o->label, "%s is %d, must be %d", name, v, expect);
}

/* CKA_ALLOWED_MECHANISMS must list exactly |set| (order aside), unless |may_lack|. */
static void want_mechs(const struct obj *o, const CK_MECHANISM_TYPE *set, size_t nset,
                       bool may_lack)
{
    CK_ULONG i, j;

    if (may_lack) {
        printf("note %s: CKA_ALLOWED_MECHANISMS as the key was made (re-protected; the token "
               "cannot change it)\n",
               o->label);
        return;
    }
    if (o->nmechs == CK_UNAVAILABLE_INFORMATION || o->nmechs != nset) {
        bad(o->label, "CKA_ALLOWED_MECHANISMS lists %ld mechanisms, must list %zu",
            o->nmechs == CK_UNAVAILABLE_INFORMATION ? -1L : (long)o->nmechs, nset);
        return;
    }
    for (i = 0; i < nset; i++) {
        for (j = 0; j < o->nmechs && o->mechs[j] != set[i]; j++)
            ;
        if (j == o->nmechs)
            bad(o->label, "CKA_ALLOWED_MECHANISMS lacks 0x%lx", (unsigned long)set[i]);
    }
}

static void check_policy(const struct obj *o, bool may_lack_mechs)
{
    CK_MECHANISM_TYPE sign[2] = {CKM_ECDSA, CKM_ECDSA_SHA256};
    CK_MECHANISM_TYPE unwrap[2] = {CKM_RSA_PKCS_OAEP, CKM_RSA_AES_KEY_WRAP};
    size_t nsign = has_mech(CKM_ECDSA_SHA256) ? 2 : 1;
    size_t nunwrap = has_mech(CKM_RSA_AES_KEY_WRAP) ? 2 : 1;

    want(o, CKA_MODIFIABLE, "CKA_MODIFIABLE", 0);
    want(o, CKA_DERIVE, "CKA_DERIVE", 0);
    if (o->cls == CKO_PRIVATE_KEY) {
        bool ec = o->type == CKK_EC;
        want(o, CKA_SENSITIVE, "CKA_SENSITIVE", 1);
        want(o, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", 0);
        want(o, CKA_SIGN, "CKA_SIGN", ec);
        want(o, CKA_UNWRAP, "CKA_UNWRAP", !ec);
        want(o, CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER", 0);
        want(o, CKA_DECRYPT, "CKA_DECRYPT", 0);
        want(o, CKA_WRAP, "CKA_WRAP", 0);
    } else {
        bool ec = o->type == CKK_EC;
        want(o, CKA_VERIFY, "CKA_VERIFY", ec);
        want(o, CKA_WRAP, "CKA_WRAP", !ec);
        want(o, CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER", 0);
        want(o, CKA_ENCRYPT, "CKA_ENCRYPT", 0);
        want(o, CKA_UNWRAP, "CKA_UNWRAP", 0);
    }
    if (o->type == CKK_EC)
        want_mechs(o, sign, nsign, may_lack_mechs);
    else if (o->type == CKK_RSA && strcmp(o->label, WRAP_LABEL) == 0)
        want_mechs(o, unwrap, nunwrap, may_lack_mechs);
    else
        bad(o->label, "key type %ld: the project makes no such key", (long)o->type);
}

/* ---- trying to change a key --------------------------------------------------------------- */

static void try_changes(const struct obj *o)
{
    static CK_MECHANISM_TYPE wide[] = {CKM_ECDSA, CKM_ECDH1_DERIVE, CKM_RSA_PKCS, CKM_RSA_X_509};
    CK_ATTRIBUTE changes[] = {
        {CKA_DECRYPT, &yes, 1},
        {CKA_DERIVE, &yes, 1},
        {CKA_SIGN_RECOVER, &yes, 1},
        {CKA_UNWRAP, &yes, 1},
        {CKA_WRAP, &yes, 1},
        {CKA_ENCRYPT, &yes, 1},
        {CKA_VERIFY_RECOVER, &yes, 1},
        {CKA_SIGN, &yes, 1},
        {CKA_SENSITIVE, &no, 1},
        {CKA_EXTRACTABLE, &yes, 1},
        {CKA_LABEL, "tampered", 8},
        {CKA_ID, "tampered", 8},
        {CKA_ALLOWED_MECHANISMS, wide, sizeof(wide)},
        {CKA_MODIFIABLE, &yes, 1},
        {CKA_TOKEN, &no, 1},
    };
    char before[2048], after[2048];
    struct obj again;
    size_t i, refused = 0;

    describe(o, before, sizeof(before));
    for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
        CK_RV rv;

        if (changes[i].type != CKA_TOKEN) {
            rv = fl->C_SetAttributeValue(sess, o->h, &changes[i], 1);
            if (rv == CKR_OK)
                bad(o->label, "C_SetAttributeValue of attribute 0x%lx was accepted",
                    (unsigned long)changes[i].type);
            else
                refused++;
        }
        /* A copy that differs is as good as a change; CKA_TOKEN=FALSE alone is a session copy. */
        rv = fl->C_CopyObject(sess, o->h, &changes[i], 1, &copy);
        if (rv == CKR_OK && changes[i].type == CKA_TOKEN) {
            fl->C_DestroyObject(sess, copy);
            continue;
        }
        if (rv == CKR_OK) {
            fl->C_DestroyObject(sess, copy);
            bad(o->label, "C_CopyObject with attribute 0x%lx changed was accepted",
                (unsigned long)changes[i].type);
        } else {
            refused++;
        }
    }
    read_obj(o->h, &again);
    describe(&again, after, sizeof(after));
    if (strcmp(before, after) != 0)
        bad(o->label, "attributes changed: before %s; after %s", before, after);
    printf("ok %s: %zu changes refused, attributes unchanged\n", o->label, refused);
}

/* ---- what the wrapping key must refuse ------------------------------------------------------ */

static EVP_PKEY *rsa_public(CK_OBJECT_HANDLE pub)
{
    unsigned char n[1024], e[16];
    CK_ATTRIBUTE a[] = {{CKA_MODULUS, n, sizeof(n)}, {CKA_PUBLIC_EXPONENT, e, sizeof(e)}};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *bn = NULL, *be = NULL;
    EVP_PKEY *pk = NULL;

    if (fl->C_GetAttributeValue(sess, pub, a, 2) == CKR_OK &&
        (bn = BN_bin2bn(n, (int)a[0].ulValueLen, NULL)) != NULL &&
        (be = BN_bin2bn(e, (int)a[1].ulValueLen, NULL)) != NULL && bld != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && ctx != NULL &&
        EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pk;
}

/*
 * The AES key of a wrapped blob, unwrapped (RSA-OAEP, an allowed mechanism)
 * with a template that would let it out, or let it decrypt the RFC 5649
 * part: the wrapping key's CKA_UNWRAP_TEMPLATE must refuse both.
 */
static void unwrap_as_attacker(const struct obj *priv, EVP_PKEY *pk)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE readable[] = {
        {CKA_CLASS, &sk, sizeof(sk)}, {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_TOKEN, &no, 1},
        {CKA_SENSITIVE, &no, 1},      {CKA_EXTRACTABLE, &yes, 1},
    };
    CK_ATTRIBUTE decrypting[] = {
        {CKA_CLASS, &sk, sizeof(sk)}, {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_TOKEN, &no, 1},
        {CKA_SENSITIVE, &yes, 1},     {CKA_EXTRACTABLE, &no, 1},         {CKA_DECRYPT, &yes, 1},
        {CKA_DERIVE, &no, 1},
    };
    CK_ATTRIBUTE unwrapping[] = {
        {CKA_CLASS, &sk, sizeof(sk)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &no, 1},          {CKA_SENSITIVE, &yes, 1},
        {CKA_EXTRACTABLE, &no, 1},    {CKA_DECRYPT, &no, 1},
        {CKA_DERIVE, &no, 1},         {CKA_UNWRAP, &yes, 1},
    };
    unsigned char kek[32], wrapped[512];
    size_t wlen = sizeof(wrapped);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    CK_OBJECT_HANDLE got = CK_INVALID_HANDLE;
    CK_RV rv;

    RAND_bytes(kek, sizeof(kek));
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA1", NULL) != 1 ||
        EVP_PKEY_encrypt(ctx, wrapped, &wlen, kek, sizeof(kek)) != 1)
        die("cannot wrap a test key for the wrapping key (OAEP)");
    EVP_PKEY_CTX_free(ctx);
    rv = fl->C_UnwrapKey(sess, &mech, priv->h, wrapped, (CK_ULONG)wlen, readable, 5, &got);
    if (rv == CKR_OK) {
        fl->C_DestroyObject(sess, got);
        bad(priv->label, "unwrapped an AES key as extractable and not sensitive");
    } else {
        printf("ok %s: unwrap to a readable AES key refused: 0x%lx\n", priv->label,
               (unsigned long)rv);
    }
    got = CK_INVALID_HANDLE;
    rv = fl->C_UnwrapKey(sess, &mech, priv->h, wrapped, (CK_ULONG)wlen, decrypting, 7, &got);
    if (rv == CKR_OK) {
        fl->C_DestroyObject(sess, got);
        bad(priv->label, "unwrapped an AES key that can decrypt");
    } else {
        printf("ok %s: unwrap to a decrypting AES key refused: 0x%lx\n", priv->label,
               (unsigned long)rv);
    }
    /* What the token cannot bind (no nested CKA_UNWRAP_TEMPLATE): reported, not asserted. */
    got = CK_INVALID_HANDLE;
    rv = fl->C_UnwrapKey(sess, &mech, priv->h, wrapped, (CK_ULONG)wlen, unwrapping, 8, &got);
    if (rv == CKR_OK)
        fl->C_DestroyObject(sess, got);
    printf("note %s: unwrap to an AES key that unwraps in turn, without its own "
           "CKA_UNWRAP_TEMPLATE: 0x%lx\n",
           priv->label, (unsigned long)rv);
}

static void check_wrapping_key(const struct obj *priv, CK_OBJECT_HANDLE pub, const char *blob)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mechs[] = {
        {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)},
        {CKM_RSA_PKCS, NULL, 0},
        {CKM_RSA_X_509, NULL, 0},
    };
    unsigned char in[384], outb[512], kek[32], wrapped[512], sig[512];
    CK_ULONG outlen, siglen;
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &sk, sizeof(sk)}, {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_TOKEN, &no, 1},
        {CKA_SENSITIVE, &yes, 1},     {CKA_EXTRACTABLE, &no, 1},
    };
    CK_OBJECT_HANDLE got = CK_INVALID_HANDLE;
    size_t inlen = sizeof(in), wlen = sizeof(wrapped), i;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk;
    CK_RV rv;
    FILE *f;

    RAND_bytes(in, sizeof(in));
    in[0] = 0;
    if (blob != NULL) {
        if ((f = fopen(blob, "rb")) == NULL || fread(in, 1, sizeof(in), f) != sizeof(in))
            die("cannot read 384 bytes of %s", blob);
        fclose(f);
    }
    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        outlen = sizeof(outb);
        rv = fl->C_DecryptInit(sess, &mechs[i], priv->h);
        if (rv == CKR_OK) {
            rv = fl->C_Decrypt(sess, in, (CK_ULONG)inlen, outb, &outlen);
            if (rv == CKR_OK)
                bad(priv->label, "C_Decrypt with mechanism 0x%lx worked",
                    (unsigned long)mechs[i].mechanism);
        }
        printf("ok %s: C_Decrypt (0x%lx) refused: 0x%lx\n", priv->label,
               (unsigned long)mechs[i].mechanism, (unsigned long)rv);
        siglen = sizeof(sig);
        rv = fl->C_SignInit(sess, &mechs[i], priv->h);
        if (rv == CKR_OK && fl->C_Sign(sess, in, 32, sig, &siglen) == CKR_OK)
            bad(priv->label, "signing with mechanism 0x%lx worked",
                (unsigned long)mechs[i].mechanism);
    }
    /*
     * An unwrap with a mechanism CKA_ALLOWED_MECHANISMS leaves out: UNWRAP is
     * TRUE, so only that attribute stands in the way.  The blob is valid.
     */
    pk = rsa_public(pub);
    RAND_bytes(kek, sizeof(kek));
    if (pk == NULL || (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
        EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx, wrapped, &wlen, kek, sizeof(kek)) != 1)
        die("cannot wrap a test key for the wrapping key");
    EVP_PKEY_CTX_free(ctx);
    rv = fl->C_UnwrapKey(sess, &mechs[1], priv->h, wrapped, (CK_ULONG)wlen, tmpl, 5, &got);
    if (rv == CKR_OK) {
        fl->C_DestroyObject(sess, got);
        bad(priv->label, "C_UnwrapKey with CKM_RSA_PKCS, which it is not allowed, worked");
    } else {
        printf("ok %s: C_UnwrapKey with CKM_RSA_PKCS refused: 0x%lx (CKA_ALLOWED_MECHANISMS "
               "enforced)\n",
               priv->label, (unsigned long)rv);
    }
    unwrap_as_attacker(priv, pk);
    EVP_PKEY_free(pk);
}

/* A signing key still signs (ECDSA) and refuses ECDH. */
static void check_signing_key(const struct obj *o)
{
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    unsigned char dg[32] = {1}, sig[128], point[67] = {0x04, 0x41, 0x04};
    CK_ECDH1_DERIVE_PARAMS dp = {CKD_NULL, 0, NULL, sizeof(point), point};
    CK_MECHANISM ecdh = {CKM_ECDH1_DERIVE, &dp, sizeof(dp)};
    CK_ULONG siglen = sizeof(sig);
    CK_OBJECT_HANDLE got = CK_INVALID_HANDLE;
    CK_RV rv;

    rv = fl->C_SignInit(sess, &ecdsa, o->h);
    if (rv == CKR_OK)
        rv = fl->C_Sign(sess, dg, sizeof(dg), sig, &siglen);
    if (rv != CKR_OK)
        bad(o->label, "cannot sign with CKM_ECDSA: 0x%lx", (unsigned long)rv);
    rv = fl->C_DeriveKey(sess, &ecdh, o->h, NULL, 0, &got);
    if (rv == CKR_OK) {
        fl->C_DestroyObject(sess, got);
        bad(o->label, "C_DeriveKey (ECDH) worked");
    }
}

static int cmd_check(int argc, char **argv)
{
    CK_OBJECT_HANDLE hs[4096], wrap_pub = CK_INVALID_HANDLE;
    struct obj objs[256];
    const char *blob = NULL, *no_mechs[16];
    size_t n, i, k, nnm = 0, npriv = 0, npub = 0, nother = 0;
    char desc[2048];
    int a;

    for (a = 0; a < argc; a++) {
        if (strcmp(argv[a], "--blob") == 0 && a + 1 < argc)
            blob = argv[++a];
        else if (strcmp(argv[a], "--no-mechs") == 0 && a + 1 < argc && nnm < 16)
            no_mechs[nnm++] = argv[++a];
        else
            die("check: unexpected %s", argv[a]);
    }
    n = find(NULL, 0, hs, sizeof(hs) / sizeof(hs[0]));
    for (i = 0; i < n; i++) {
        struct obj o;
        read_obj(hs[i], &o);
        if (o.cls != CKO_PRIVATE_KEY && o.cls != CKO_PUBLIC_KEY && o.cls != CKO_SECRET_KEY) {
            nother++;
            continue;
        }
        describe(&o, desc, sizeof(desc));
        printf("key %s\n", desc);
        if (o.cls == CKO_SECRET_KEY) {
            bad(o.label, "a secret key on the token: the project keeps none");
            continue;
        }
        if (npriv + npub == sizeof(objs) / sizeof(objs[0]))
            die("too many keys");
        objs[npriv + npub] = o;
        if (o.cls == CKO_PRIVATE_KEY)
            npriv++;
        else
            npub++;
        if (o.cls == CKO_PUBLIC_KEY && strcmp(o.label, WRAP_LABEL) == 0)
            wrap_pub = o.h;
    }
    for (i = 0; i < npriv + npub; i++) {
        bool may_lack = false;
        for (k = 0; k < nnm; k++)
            may_lack = may_lack || strcmp(no_mechs[k], objs[i].label) == 0;
        check_policy(&objs[i], may_lack);
        if (objs[i].cls == CKO_PRIVATE_KEY && objs[i].type == CKK_EC)
            check_signing_key(&objs[i]);
        if (objs[i].cls == CKO_PRIVATE_KEY && objs[i].type == CKK_RSA &&
            wrap_pub != CK_INVALID_HANDLE)
            check_wrapping_key(&objs[i], wrap_pub, blob);
        try_changes(&objs[i]);
    }
    printf("checked: %zu private keys, %zu public keys, %zu other objects; %d failures\n", npriv,
           npub, nother, failures);
    return failures == 0 ? 0 : 1;
}

/* ---- keys made the old way ----------------------------------------------------------------------
 */

static void destroy_all(CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    CK_OBJECT_HANDLE hs[64];
    size_t got = find(tmpl, n, hs, 64), i;

    for (i = 0; i < got; i++)
        if (fl->C_DestroyObject(sess, hs[i]) != CKR_OK)
            die("cannot destroy an object to replace it");
}

/* The templates of p11/generate.c before keys were made non-modifiable. */
static int cmd_legacy_generate(int argc, char **argv)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    unsigned char id[128];
    size_t id_len;
    CK_OBJECT_HANDLE hpub, hpriv;

    if (argc != 2)
        die("usage: legacy-generate LABEL HEXID");
    id_len = hex_to_bin(argv[1], id, sizeof(id));
    {
        CK_ATTRIBUTE pub[] = {
            {CKA_TOKEN, &yes, 1},
            {CKA_PRIVATE, &no, 1},
            {CKA_VERIFY, &yes, 1},
            {CKA_ENCRYPT, &no, 1},
            {CKA_WRAP, &no, 1},
            {CKA_DERIVE, &no, 1},
            {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
            {CKA_LABEL, argv[0], strlen(argv[0])},
            {CKA_ID, id, id_len},
        };
        CK_ATTRIBUTE priv[] = {
            {CKA_TOKEN, &yes, 1},
            {CKA_PRIVATE, &yes, 1},
            {CKA_SENSITIVE, &yes, 1},
            {CKA_EXTRACTABLE, &no, 1},
            {CKA_SIGN, &yes, 1},
            {CKA_DECRYPT, &no, 1},
            {CKA_UNWRAP, &no, 1},
            {CKA_DERIVE, &no, 1},
            {CKA_LABEL, argv[0], strlen(argv[0])},
            {CKA_ID, id, id_len},
        };
        if (fl->C_GenerateKeyPair(sess, &mech, pub, 9, priv, 10, &hpub, &hpriv) != CKR_OK)
            die("C_GenerateKeyPair failed");
    }
    printf("made %s modifiable, the old way\n", argv[0]);
    return 0;
}

static int cmd_legacy_import(int argc, char **argv)
{
    CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    unsigned char id[128], d[32], point[67] = {0x04, 65};
    char label[256];
    size_t id_len, plen = 65;
    CK_ATTRIBUTE lab = {CKA_LABEL, label, sizeof(label) - 1};
    CK_OBJECT_HANDLE hs[4], h;
    BIGNUM *bn = NULL;
    EVP_PKEY *pk = NULL;
    FILE *f;

    if (argc != 2)
        die("usage: legacy-import HEXID KEY.pem");
    id_len = hex_to_bin(argv[0], id, sizeof(id));
    if ((f = fopen(argv[1], "r")) == NULL ||
        (pk = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
        die("cannot read %s", argv[1]);
    fclose(f);
    if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) ||
        BN_bn2binpad(bn, d, 32) != 32 ||
        !EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point + 2, 65, &plen))
        die("%s is not a P-256 key", argv[1]);
    {
        CK_ATTRIBUTE which[] = {{CKA_CLASS, &priv_cls, sizeof(priv_cls)}, {CKA_ID, id, id_len}};
        if (find(which, 2, hs, 4) != 1 || fl->C_GetAttributeValue(sess, hs[0], &lab, 1) != CKR_OK)
            die("no single private key with that CKA_ID");
        label[lab.ulValueLen] = '\0';
        destroy_all(which, 2);
        which[0].pValue = &pub_cls;
        destroy_all(which, 2);
    }
    {
        /* keystore/import.c's write_private_key before the fix. */
        CK_ATTRIBUTE priv[] = {
            {CKA_CLASS, &priv_cls, sizeof(priv_cls)},
            {CKA_KEY_TYPE, &ec, sizeof(ec)},
            {CKA_TOKEN, &yes, 1},
            {CKA_PRIVATE, &yes, 1},
            {CKA_SENSITIVE, &yes, 1},
            {CKA_EXTRACTABLE, &no, 1},
            {CKA_SIGN, &yes, 1},
            {CKA_SIGN_RECOVER, &no, 1},
            {CKA_DECRYPT, &no, 1},
            {CKA_UNWRAP, &no, 1},
            {CKA_DERIVE, &no, 1},
            {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
            {CKA_VALUE, d, 32},
            {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, id_len},
        };
        /* The public key as p11/generate.c made it then: modifiable too. */
        CK_ATTRIBUTE pub[] = {
            {CKA_CLASS, &pub_cls, sizeof(pub_cls)},
            {CKA_KEY_TYPE, &ec, sizeof(ec)},
            {CKA_TOKEN, &yes, 1},
            {CKA_PRIVATE, &no, 1},
            {CKA_VERIFY, &yes, 1},
            {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
            {CKA_EC_POINT, point, sizeof(point)},
            {CKA_LABEL, label, strlen(label)},
            {CKA_ID, id, id_len},
        };
        if (fl->C_CreateObject(sess, priv, 15, &h) != CKR_OK ||
            fl->C_CreateObject(sess, pub, 9, &h) != CKR_OK)
            die("C_CreateObject failed");
    }
    OPENSSL_cleanse(d, sizeof(d));
    BN_clear_free(bn);
    EVP_PKEY_free(pk);
    printf("replaced %s by a modifiable copy, the old way\n", label);
    return 0;
}

/* p11/store.c's p11_store_generate_rsa_unwrap before the fix. */
static int cmd_legacy_wrapping_key(void)
{
    static const unsigned char wrap_id[16] = "shaken-sks-wrap1";
    static const CK_BYTE f4[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM_TYPE allowed[] = {CKM_RSA_PKCS_OAEP, CKM_RSA_AES_KEY_WRAP};
    CK_ULONG bits = 3072;
    CK_ATTRIBUTE which = {CKA_LABEL, WRAP_LABEL, strlen(WRAP_LABEL)};
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &no, 1},
        {CKA_WRAP, &yes, 1},
        {CKA_ENCRYPT, &no, 1},
        {CKA_VERIFY, &no, 1},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
        {CKA_LABEL, WRAP_LABEL, strlen(WRAP_LABEL)},
        {CKA_ID, (void *)wrap_id, 16},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},
        {CKA_EXTRACTABLE, &no, 1},
        {CKA_UNWRAP, &yes, 1},
        {CKA_DECRYPT, &no, 1},
        {CKA_SIGN, &no, 1},
        {CKA_SIGN_RECOVER, &no, 1},
        {CKA_DERIVE, &no, 1},
        {CKA_LABEL, WRAP_LABEL, strlen(WRAP_LABEL)},
        {CKA_ID, (void *)wrap_id, 16},
        {CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
    };
    CK_OBJECT_HANDLE hpub, hpriv;

    destroy_all(&which, 1);
    if (fl->C_GenerateKeyPair(sess, &mech, pub, 9, priv, 12, &hpub, &hpriv) != CKR_OK)
        die("C_GenerateKeyPair (RSA) failed");
    printf("made the wrapping key modifiable, the old way\n");
    return 0;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc < 2)
        die("usage: p11attrs check|legacy-generate|legacy-import|legacy-wrapping-key ...");
    open_token();
    if (strcmp(argv[1], "check") == 0)
        rc = cmd_check(argc - 2, argv + 2);
    else if (strcmp(argv[1], "legacy-generate") == 0)
        rc = cmd_legacy_generate(argc - 2, argv + 2);
    else if (strcmp(argv[1], "legacy-import") == 0)
        rc = cmd_legacy_import(argc - 2, argv + 2);
    else if (strcmp(argv[1], "legacy-wrapping-key") == 0)
        rc = cmd_legacy_wrapping_key();
    else
        die("unknown command %s", argv[1]);
    fl->C_Logout(sess);
    fl->C_CloseSession(sess);
    fl->C_Finalize(NULL);
    return rc;
}
