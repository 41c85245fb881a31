/*
 * What a key this project makes may do: the one place that says it.
 *
 * A key must never leave the token, even for someone who holds the PIN.
 * So every key is CKA_MODIFIABLE=FALSE from birth: with the PIN alone
 * nobody can switch on CKA_DECRYPT, CKA_DERIVE or CKA_SIGN_RECOVER, make it
 * extractable, or widen CKA_ALLOWED_MECHANISMS.  A signing key signs (ECDSA),
 * the wrapping key unwraps (RSA-OAEP, and RSA-AES key wrap where the token
 * has it), the AES key of a two-step unwrap unwraps (RFC 5649) and lives in
 * one session.  Everything else is FALSE, stated rather than left to the
 * token's defaults: SoftHSM 2.6.1 defaults CKA_SIGN_RECOVER, CKA_DECRYPT and
 * CKA_UNWRAP of a private key to TRUE.
 *
 * Every creator (key generation, C_CreateObject imports, C_UnwrapKey) takes
 * its template from here; nothing above p11/ builds one for a key.
 */
#include "config.h"

#include <string.h>

#include "p11/internal.h"

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const unsigned char p256_params[] = SKS_P256_OID_DER;
static const CK_BYTE f4[] = {0x01, 0x00, 0x01};

static void add(struct p11_template *t, CK_ATTRIBUTE_TYPE type, const void *value, size_t len)
{
    /* The constructors below never add more than P11_TEMPLATE_MAX. */
    if (t->n < P11_TEMPLATE_MAX)
        t->attr[t->n++] = (CK_ATTRIBUTE){type, (void *)value, (CK_ULONG)len};
}

static void add_bool(struct p11_template *t, CK_ATTRIBUTE_TYPE type, bool value)
{
    add(t, type, value ? &yes : &no, sizeof(yes));
}

static void begin(struct p11_template *t, CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type, bool token)
{
    memset(t, 0, sizeof(*t));
    t->cls = cls;
    t->key_type = key_type;
    add(t, CKA_CLASS, &t->cls, sizeof(t->cls));
    add(t, CKA_KEY_TYPE, &t->key_type, sizeof(t->key_type));
    add_bool(t, CKA_TOKEN, token);
    add_bool(t, CKA_PRIVATE, cls != CKO_PUBLIC_KEY);
}

/*
 * CKA_MODIFIABLE goes last: SoftHSM 2.6.1 applies a template in order and,
 * in C_UnwrapKey, refuses every attribute after CKA_MODIFIABLE=FALSE
 * (CKR_ATTRIBUTE_READ_ONLY).
 */
static void finish(struct p11_template *t, bool modifiable)
{
    add_bool(t, CKA_MODIFIABLE, modifiable);
}

static void add_name(struct p11_template *t, const char *label, const unsigned char *id,
                     size_t id_len)
{
    if (label != NULL)
        add(t, CKA_LABEL, label, strlen(label));
    if (id != NULL)
        add(t, CKA_ID, id, id_len);
}

static void add_mechs(struct p11_template *t)
{
    add(t, CKA_ALLOWED_MECHANISMS, t->mechs, t->nmechs * sizeof(t->mechs[0]));
}

/* ECDSA over a digest made on the host, and in the token where it hashes itself. */
static void signing_mechs(struct p11_template *t, struct p11_token *tok)
{
    t->mechs[t->nmechs++] = CKM_ECDSA;
    if (tok != NULL && p11_token_has_mechanism(tok, CKM_ECDSA_SHA256))
        t->mechs[t->nmechs++] = CKM_ECDSA_SHA256;
}

/*
 * The unwrap mechanism keystore/wrap.c uses on this token.  With
 * CKM_RSA_AES_KEY_WRAP the blob's AES key never becomes an object, so the
 * wrapping key is limited to it: allowing RSA-OAEP as well would let anyone
 * with the PIN unwrap the AES key on its own and, with it, the private key
 * under a template of their choosing.  Tokens without it (SoftHSM 2.6.1)
 * need the two steps, and that exposure with them (sksctl(1), WRAPPED KEYS).
 */
static void unwrap_mechs(struct p11_template *t, struct p11_token *tok)
{
    if (p11_token_mechanism_flags(tok, CKM_RSA_AES_KEY_WRAP, CKF_UNWRAP))
        t->mechs[t->nmechs++] = CKM_RSA_AES_KEY_WRAP;
    else
        t->mechs[t->nmechs++] = CKM_RSA_PKCS_OAEP;
}

/* What each kind of key may do; the rest of its template says where it lives. */
static void sign_usage(struct p11_template *t, struct p11_token *tok)
{
    add_bool(t, CKA_SIGN, true);
    add_bool(t, CKA_SIGN_RECOVER, false);
    add_bool(t, CKA_DECRYPT, false);
    add_bool(t, CKA_UNWRAP, false);
    add_bool(t, CKA_DERIVE, false);
    signing_mechs(t, tok);
}

static void verify_usage(struct p11_template *t, struct p11_token *tok)
{
    add_bool(t, CKA_VERIFY, true);
    add_bool(t, CKA_VERIFY_RECOVER, false);
    add_bool(t, CKA_ENCRYPT, false);
    add_bool(t, CKA_WRAP, false);
    add_bool(t, CKA_DERIVE, false);
    signing_mechs(t, tok);
}

/* Unwrap only: no decrypt oracle, no signatures. */
static void unwrap_usage(struct p11_template *t, struct p11_token *tok)
{
    add_bool(t, CKA_UNWRAP, true);
    add_bool(t, CKA_DECRYPT, false);
    add_bool(t, CKA_SIGN, false);
    add_bool(t, CKA_SIGN_RECOVER, false);
    add_bool(t, CKA_DERIVE, false);
    unwrap_mechs(t, tok);
}

static void wrap_usage(struct p11_template *t, struct p11_token *tok)
{
    add_bool(t, CKA_WRAP, true);
    add_bool(t, CKA_ENCRYPT, false);
    add_bool(t, CKA_VERIFY, false);
    add_bool(t, CKA_VERIFY_RECOVER, false);
    add_bool(t, CKA_DERIVE, false);
    unwrap_mechs(t, tok);
}

/* Sign-only, sensitive, never extractable. */
static void signing_key(struct p11_template *t, struct p11_token *tok, bool token)
{
    begin(t, CKO_PRIVATE_KEY, CKK_EC, token);
    add_bool(t, CKA_SENSITIVE, true);
    add_bool(t, CKA_EXTRACTABLE, false);
    sign_usage(t, tok);
    add_mechs(t);
}

void p11_template_signing_key(struct p11_template *t, struct p11_token *tok, const char *label,
                              const unsigned char *id, size_t id_len, const unsigned char *d)
{
    signing_key(t, tok, true);
    if (d != NULL) {
        add(t, CKA_EC_PARAMS, p256_params, sizeof(p256_params));
        add(t, CKA_VALUE, d, 32);
    }
    add_name(t, label, id, id_len);
    finish(t, false);
}

void p11_template_signing_key_to_check(struct p11_template *t, struct p11_token *tok)
{
    /*
     * SoftHSM refuses C_CopyObject of a non-modifiable object with any
     * template (CKR_ATTRIBUTE_READ_ONLY), and the copy must set CKA_TOKEN,
     * the label and the CKA_ID.  A session object is seen by this
     * application only and is destroyed on every path.
     */
    signing_key(t, tok, false);
    finish(t, true);
}

void p11_template_signing_key_keep(struct p11_template *t, const char *label,
                                   const unsigned char *id, size_t id_len)
{
    memset(t, 0, sizeof(*t));
    add_bool(t, CKA_TOKEN, true);
    add_name(t, label, id, id_len);
    /* PKCS#11 2.40 4.4: a copy may turn CKA_MODIFIABLE off. */
    finish(t, false);
}

void p11_template_ec_public_key(struct p11_template *t, struct p11_token *tok, const char *label,
                                const unsigned char *id, size_t id_len, const unsigned char *point)
{
    begin(t, CKO_PUBLIC_KEY, CKK_EC, true);
    verify_usage(t, tok);
    add_mechs(t);
    add(t, CKA_EC_PARAMS, p256_params, sizeof(p256_params));
    if (point != NULL) {
        /* CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40 2.3.3). */
        t->point[0] = 0x04;
        t->point[1] = SKS_P256_POINT_LEN;
        memcpy(t->point + 2, point, SKS_P256_POINT_LEN);
        add(t, CKA_EC_POINT, t->point, sizeof(t->point));
    }
    add_name(t, label, id, id_len);
    finish(t, false);
}

/*
 * Whoever holds the PIN and a wrapped blob could otherwise unwrap its AES
 * key as extractable, or able to decrypt, and read the PKCS#8 out: every key
 * the wrapping key unwraps is sensitive, never extractable, and neither
 * decrypts nor derives (the transient AES key and the signing key agree).
 * SoftHSM 2.6.1 takes no nested CKA_UNWRAP_TEMPLATE
 * (CKR_ATTRIBUTE_VALUE_INVALID), so this cannot also bind what the AES key
 * unwraps in turn.
 */
static void unwrap_limits(struct p11_template *t)
{
    t->unwrap_tmpl[0] = (CK_ATTRIBUTE){CKA_SENSITIVE, (void *)&yes, sizeof(yes)};
    t->unwrap_tmpl[1] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, (void *)&no, sizeof(no)};
    t->unwrap_tmpl[2] = (CK_ATTRIBUTE){CKA_DECRYPT, (void *)&no, sizeof(no)};
    t->unwrap_tmpl[3] = (CK_ATTRIBUTE){CKA_DERIVE, (void *)&no, sizeof(no)};
}

void p11_template_unwrap_key(struct p11_template *t, struct p11_token *tok, const char *label,
                             const unsigned char *id, size_t id_len)
{
    begin(t, CKO_PRIVATE_KEY, CKK_RSA, true);
    add_bool(t, CKA_SENSITIVE, true);
    add_bool(t, CKA_EXTRACTABLE, false);
    unwrap_usage(t, tok);
    add_mechs(t);
    unwrap_limits(t);
    add(t, CKA_UNWRAP_TEMPLATE, t->unwrap_tmpl, sizeof(t->unwrap_tmpl));
    add_name(t, label, id, id_len);
    finish(t, false);
}

void p11_template_wrap_public_key(struct p11_template *t, struct p11_token *tok, const char *label,
                                  const unsigned char *id, size_t id_len, unsigned long bits)
{
    begin(t, CKO_PUBLIC_KEY, CKK_RSA, true);
    wrap_usage(t, tok);
    add_mechs(t);
    t->modulus_bits = bits;
    add(t, CKA_MODULUS_BITS, &t->modulus_bits, sizeof(t->modulus_bits));
    add(t, CKA_PUBLIC_EXPONENT, f4, sizeof(f4));
    add_name(t, label, id, id_len);
    finish(t, false);
}

void p11_template_transient_unwrap_key(struct p11_template *t)
{
    begin(t, CKO_SECRET_KEY, CKK_AES, false);
    add_bool(t, CKA_SENSITIVE, true);
    add_bool(t, CKA_EXTRACTABLE, false);
    add_bool(t, CKA_UNWRAP, true);
    add_bool(t, CKA_WRAP, false);
    add_bool(t, CKA_ENCRYPT, false);
    add_bool(t, CKA_DECRYPT, false);
    add_bool(t, CKA_SIGN, false);
    add_bool(t, CKA_VERIFY, false);
    add_bool(t, CKA_DERIVE, false);
    t->mechs[t->nmechs++] = CKM_AES_KEY_WRAP_PAD;
    add_mechs(t);
    finish(t, false);
}

bool p11_template_protect(struct p11_template *t, struct p11_token *tok, CK_OBJECT_CLASS cls,
                          CK_KEY_TYPE key_type, enum p11_key_role role)
{
    bool priv = cls == CKO_PRIVATE_KEY;

    memset(t, 0, sizeof(*t));
    if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
        return false;
    if (role == P11_ROLE_SIGNING && key_type == CKK_EC)
        (priv ? sign_usage : verify_usage)(t, tok);
    else if (role == P11_ROLE_UNWRAPPING && key_type == CKK_RSA)
        (priv ? unwrap_usage : wrap_usage)(t, tok);
    else
        return false;
    if (role == P11_ROLE_UNWRAPPING && priv)
        unwrap_limits(t);
    return true;
}

/* ---- objects besides keys, and searches ------------------------------------- */

/* Data and certificate objects begin with their class only: they have no key type. */
static void begin_object(struct p11_template *t, CK_OBJECT_CLASS cls)
{
    memset(t, 0, sizeof(*t));
    t->cls = cls;
    add(t, CKA_CLASS, &t->cls, sizeof(t->cls));
}

void p11_template_data(struct p11_template *t, const char *application, const void *label,
                       size_t len)
{
    begin_object(t, CKO_DATA);
    add_bool(t, CKA_TOKEN, true);
    add_bool(t, CKA_PRIVATE, true);
    add_bool(t, CKA_MODIFIABLE, true);
    add(t, CKA_APPLICATION, application, strlen(application));
    add(t, CKA_LABEL, label, len);
}

void p11_template_label(struct p11_template *t, const void *label, size_t len)
{
    memset(t, 0, sizeof(*t));
    add(t, CKA_LABEL, label, len);
}

void p11_template_certificate(struct p11_template *t, const char *label, const unsigned char *id,
                              size_t id_len, const struct p11_cert_der *der, const char *url)
{
    begin_object(t, CKO_CERTIFICATE);
    t->cert_type = CKC_X_509;
    /* PKCS#11 2.40 4.6.2: 1 is "token user" (ours), 2 is "authority" (the chain). */
    t->category = url != NULL ? 1 : 2;
    add(t, CKA_CERTIFICATE_TYPE, &t->cert_type, sizeof(t->cert_type));
    add_bool(t, CKA_TOKEN, true);
    add_bool(t, CKA_PRIVATE, false);
    add_bool(t, CKA_MODIFIABLE, false);
    add(t, CKA_CERTIFICATE_CATEGORY, &t->category, sizeof(t->category));
    add_name(t, label, id, id_len);
    add(t, CKA_SUBJECT, der->subject, der->subject_len);
    add(t, CKA_ISSUER, der->issuer, der->issuer_len);
    add(t, CKA_SERIAL_NUMBER, der->serial, der->serial_len);
    add(t, CKA_VALUE, der->value, der->value_len);
    if (url != NULL)
        add(t, CKA_URL, url, strlen(url));
}

void p11_template_find_id(struct p11_template *t, const unsigned char *id, size_t id_len)
{
    memset(t, 0, sizeof(*t));
    add(t, CKA_ID, id, id_len);
}

void p11_template_find_data(struct p11_template *t, const char *application, const void *label,
                            size_t len)
{
    begin_object(t, CKO_DATA);
    add(t, CKA_APPLICATION, application, strlen(application));
    if (label != NULL)
        add(t, CKA_LABEL, label, len);
}

void p11_template_find_object(struct p11_template *t, CK_OBJECT_CLASS cls, const unsigned char *id,
                              size_t id_len, const char *label)
{
    begin_object(t, cls);
    add(t, CKA_ID, id, id_len);
    add(t, CKA_LABEL, label, strlen(label));
}

void p11_template_find_keys(struct p11_template *t, CK_OBJECT_CLASS cls, bool modifiable,
                            const struct p11_object_info *like)
{
    begin_object(t, cls);
    add_bool(t, CKA_MODIFIABLE, modifiable);
    if (like == NULL)
        return;
    t->key_type = like->key_type;
    add(t, CKA_KEY_TYPE, &t->key_type, sizeof(t->key_type));
    add(t, CKA_ID, like->id, like->id_len);
    add(t, CKA_LABEL, like->label, strlen(like->label));
}
