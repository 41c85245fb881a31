/* The ACME account (RFC 8555 7.3): newAccount, External Account Binding, keyChange. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "acme/internal.h"

sks_status acme_account_new(struct acme_client *c, const char *const *contacts, size_t ncontacts,
                            bool agree_tos, const struct acme_eab *eab, struct sks_error *err)
{
    json_t *payload = json_object(), *contact = json_array(), *obj = NULL, *binding = NULL;
    struct sks_fetched f = {0};
    const char *url;
    char *jwk = NULL;
    sks_status st;

    if (payload == NULL || contact == NULL) {
        json_decref(payload);
        json_decref(contact);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    for (size_t i = 0; i < ncontacts; i++)
        json_array_append_new(contact, json_string(contacts[i]));
    if (ncontacts > 0)
        json_object_set(payload, "contact", contact);
    json_decref(contact);
    if (agree_tos)
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    st = acme_dir_url(c, "newAccount", &url, err);
    if (st == SKS_OK && eab == NULL && acme_eab_required(c))
        st = sks_fail_field(err, SKS_ERR_INPUT, "acme-eab-required", "acme",
                            "the ACME server %s requires an External Account Binding "
                            "(--eab-kid and --eab-hmac-file)",
                            c->directory_url);
    if (st == SKS_OK && eab != NULL) {
        st = acme_jwk_json(c->key, &jwk, err);
        if (st == SKS_OK)
            st = acme_jws_eab(eab, url, jwk, &binding, err);
        if (st == SKS_OK)
            json_object_set_new(payload, "externalAccountBinding", binding);
    }
    if (st != SKS_OK) {
        json_decref(payload);
        free(jwk);
        return st;
    }
    st = acme_post_object(c, url, payload, true, &f, &obj, err);
    if (st == SKS_OK && f.location == NULL)
        st = sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "ACME server: %s gave no account URL (Location)", url);
    if (st == SKS_OK) {
        const char *status = json_string_value(json_object_get(obj, "status"));

        if (status != NULL && strcmp(status, "valid") != 0)
            st = sks_fail_field(err, SKS_ERR_POLICY, "acme-invalid", "acme",
                                "ACME server: the new account %s is %s, not valid", f.location,
                                status);
    }
    if (st == SKS_OK) {
        free(c->kid);
        if ((c->kid = strdup(f.location)) == NULL)
            st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    sks_fetched_clear(&f);
    json_decref(obj);
    free(jwk);
    return st;
}

sks_status acme_key_change(struct acme_client *c, struct p11_key *new_key, struct sks_error *err)
{
    char *old_jwk = NULL, *inner_payload = NULL, *inner = NULL;
    json_t *payload = NULL, *old = NULL, *obj = NULL;
    struct sks_fetched f = {0};
    const char *url;
    sks_status st;

    if (c->kid == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "no ACME account: run sksctl acme register");
    st = acme_dir_url(c, "keyChange", &url, err);
    if (st == SKS_OK)
        st = acme_jwk_json(c->key, &old_jwk, err);
    if (st != SKS_OK)
        return st;
    /* RFC 8555 7.3.5: the inner JWS, signed with the new key and naming it by jwk, no nonce. */
    old = json_loads(old_jwk, 0, NULL);
    payload = json_pack("{s:s, s:O}", "account", c->kid, "oldKey", old);
    if (payload == NULL || (inner_payload = json_dumps(payload, JSON_COMPACT)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    st = acme_jws_es256(new_key, NULL, NULL, url, inner_payload, &inner, err);
    if (st == SKS_OK)
        st = acme_post(c, url, inner, NULL, false, NULL, &f, err);
    if (st == SKS_OK) {
        p11_key_put(c->key);
        c->key = p11_key_ref(new_key);
        sks_fetched_clear(&f);
    }
done:
    json_decref(old);
    json_decref(payload);
    json_decref(obj);
    free(old_jwk);
    free(inner_payload);
    free(inner);
    return st;
}
