/*
 * The ACME account as the token keeps it: the account key (a P-256 key
 * pair generated in the token, label "shaken-sks/acme-account", a random
 * 16-byte CKA_ID) and a record per directory (a CKO_DATA object of
 * application "shaken-sks/acme": directory URL, account URL, the key's
 * CKA_ID).  sksctl acme register writes them; every other acme command
 * finds them here.
 */
#ifndef SKS_ACME_STORE_H
#define SKS_ACME_STORE_H

#include "acme/acme.h"
#include "keystore/keystore.h"

#define ACME_KEY_LABEL "shaken-sks/acme-account"
#define ACME_KEY_ID_LEN 16

struct acme_account {
    char directory[SKS_X5U_MAX + 1];
    char url[SKS_X5U_MAX + 1];
    unsigned char key_id[ACME_KEY_ID_LEN];
    p11_handle handle; /* the record; P11_NO_HANDLE before it is saved */
};

/* A new account key generated in the token: sign-only, sensitive, not extractable. */
sks_status acme_key_generate(struct p11_token *tok, unsigned char id[ACME_KEY_ID_LEN],
                             struct p11_key **key, struct sks_error *err);
sks_status acme_key_load(struct p11_token *tok, const unsigned char id[ACME_KEY_ID_LEN],
                         struct p11_key **key, struct sks_error *err);
/* Destroys both halves of the account key |id|. */
sks_status acme_key_destroy(struct p11_token *tok, const unsigned char id[ACME_KEY_ID_LEN],
                            struct sks_error *err);

/*
 * The account record for |directory| (NULL: the only one); fails with
 * acme-no-account when there is none, or several and no directory.
 */
sks_status acme_account_find(struct p11_token *tok, const char *directory, struct acme_account *a,
                             struct sks_error *err);
/* Creates the record (a->handle P11_NO_HANDLE) or rewrites it in one write. */
sks_status acme_account_save(struct p11_token *tok, struct acme_account *a, struct sks_error *err);
/* Removes the record and its key. */
sks_status acme_account_remove(struct p11_token *tok, const struct acme_account *a,
                               struct sks_error *err);

#endif
