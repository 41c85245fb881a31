/* Key generation in the token: the key never exists outside it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "p11/internal.h"

sks_status p11_generate_p256(struct p11_token *tok, const char *label, const unsigned char *id,
                             size_t id_len, char **uri, struct sks_error *err)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    unsigned char rid[16];
    struct p11_template pub, priv;
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
    p11_template_ec_public_key(&pub, tok, label, id, id_len, NULL);
    p11_template_signing_key(&priv, tok, label, id, id_len, NULL);

    st = p11_token_login(tok, err);
    if (st == SKS_OK)
        st = p11_session_acquire(tok, &s, err);
    if (st != SKS_OK)
        return st;
    rv = P11_CALL(tok->mod, C_GenerateKeyPair, s.handle, &mech, pub.attr, pub.n, priv.attr, priv.n,
                  &hpub, &hpriv);
    p11_session_release(tok, &s, rv);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot generate a P-256 key pair on %s", tok->uri);
    *uri = p11_object_uri(tok, CKO_PRIVATE_KEY, id, id_len, label);
    if (*uri == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    return SKS_OK;
}
