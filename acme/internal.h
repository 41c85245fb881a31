/* Internals shared by the files of the ACME client (acme/). */
#ifndef SKS_ACME_INTERNAL_H
#define SKS_ACME_INTERNAL_H

#include "acme/acme.h"
#include "fetch/fetch.h"

struct acme_client {
    struct acme_config cfg;
    struct sks_fetch_opts fetch;
    char *directory_url;
    json_t *dir;
    char nonce[256];
    struct p11_key *key;
    char *kid; /* the account URL, NULL before newAccount */
    struct acme_stats stats;
};

/* ---- JWS (jws.c) ---- */

/* {"crv":"P-256","kty":"EC","x":...,"y":...}: RFC 7638's member order, no blanks. */
sks_status acme_jwk_json(struct p11_key *key, char **out, struct sks_error *err);
/* The same JWK of the uncompressed P-256 point |pt| (an SPC token's fingerprint is of it). */
sks_status acme_p256_jwk_json(const unsigned char *pt, size_t len, char **out,
                              struct sks_error *err);
/*
 * The flattened JWS of |payload| (NULL: POST-as-GET, an empty payload) for
 * |url| signed with |key|: protected header with |nonce| (NULL: none) and
 * |kid|, or the key's jwk when |kid| is NULL.  *out is malloc'd JSON.
 */
sks_status acme_jws_es256(struct p11_key *key, const char *kid, const char *nonce, const char *url,
                          const char *payload, char **out, struct sks_error *err);
/* RFC 8555 7.3.4: the HS256 JWS binding |jwk| to the external account |eab|. */
sks_status acme_jws_eab(const struct acme_eab *eab, const char *url, const char *jwk, json_t **out,
                        struct sks_error *err);

/* ---- requests (client.c) ---- */

/* The directory's URL for |name| ("newOrder"); fails naming it when absent. */
sks_status acme_dir_url(struct acme_client *c, const char *name, const char **url,
                        struct sks_error *err);
/*
 * A signed POST of |payload| (NULL: POST-as-GET) to |url| with |key| (NULL:
 * the account key) and the account's kid (or the jwk when |use_jwk|).  A
 * badNonce is retried; any other error status becomes the problem's
 * sks_error.  SKS_OK: a 2xx answer in |out|.
 */
sks_status acme_post(struct acme_client *c, const char *url, const char *payload,
                     struct p11_key *key, bool use_jwk, const char *accept, struct sks_fetched *out,
                     struct sks_error *err);
/* acme_post() whose answer must be a JSON object: *obj (json_decref). */
sks_status acme_post_json(struct acme_client *c, const char *url, const char *payload, bool use_jwk,
                          struct sks_fetched *out, json_t **obj, struct sks_error *err);
/* acme_post() of the JSON |payload| (stolen: decref'd here). */
sks_status acme_post_object(struct acme_client *c, const char *url, json_t *payload, bool use_jwk,
                            struct sks_fetched *out, json_t **obj, struct sks_error *err);

#endif
