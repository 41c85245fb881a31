/* Key generation in the token: the key never exists outside it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "p11/internal.h"

static const unsigned char p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07};

sks_status p11_generate_p256(struct p11_token *tok, const char *label, const unsigned char *id,
                             size_t id_len, char **uri, struct sks_error *err)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    unsigned char rid[16];
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, NULL, 0},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, NULL, 0},
    };
    CK_OBJECT_HANDLE hpub, hpriv;
    struct p11_session s;
    sks_status st;
    CK_RV rv;

    if (id_len == 0) {
        if (RAND_bytes(rid, sizeof(rid)) != 1)
            return sks_fail(err, SKS_ERR_SYSTEM, "no randomness for a CKA_ID");
        id = rid;
        id_len = sizeof(rid);
    }
    if (id_len > P11_ID_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "CKA_ID longer than %d bytes", P11_ID_MAX);
    pub[8].pValue = priv[9].pValue = (void *)id;
    pub[8].ulValueLen = priv[9].ulValueLen = id_len;

    st = p11_token_login(tok, err);
    if (st == SKS_OK)
        st = p11_session_acquire(tok, &s, err);
    if (st != SKS_OK)
        return st;
    rv = P11_CALL(tok->mod, C_GenerateKeyPair, s.handle, &mech, pub, sizeof(pub) / sizeof(pub[0]),
                  priv, sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
    p11_session_release(tok, &s, rv);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot generate a P-256 key pair on %s", tok->uri);
    *uri = p11_object_uri(tok, CKO_PRIVATE_KEY, id, id_len, label);
    if (*uri == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    return SKS_OK;
}
