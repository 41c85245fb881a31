/*
 * The renewal state of an identity (sksctl acme renew): the last attempt,
 * its result, the back-off and an order in flight, kept durably beside the
 * key store's records so that a failing identity is not retried before its
 * time and an interrupted renewal continues its order with the key version
 * it generated instead of generating another.
 *
 * One CKO_DATA object of application "shaken-sks/acme-renew" per identity;
 * its label holds the record, JSON:
 *
 *   {"identity": "sp-a", "attempt": 1764816000, "result": "failed",
 *    "code": "acme-rate-limited", "failures": 2, "next": 1764817200,
 *    "order": "https://.../order/7", "pending": 3, "csr": "<base64url DER>"}
 *
 * times in seconds since the epoch; "generating" (see below) only while a version is being
 * generated; "pending" and "csr" only while a
 * renewal's version is pending, "order" once the server made its order.  The label is rewritten in
 * one C_SetAttributeValue, as the key store writes its records, so a record is whole or the
 * previous one.  Written by sksctl; read by sksd's /metrics when the change marker moved, never on
 * the signing path.
 */
#ifndef SKS_KEYSTORE_RENEWAL_H
#define SKS_KEYSTORE_RENEWAL_H

#include <stdbool.h>
#include <time.h>

#include "common/error.h"
#include "keystore/keystore.h"
#include "p11/p11.h"

#define SKS_RENEWAL_APPLICATION "shaken-sks/acme-renew"
#define SKS_RENEWAL_CODE_MAX 63
#define SKS_RENEWAL_CSR_MAX 4096

enum sks_renewal_result {
    SKS_RENEWAL_NONE,    /* no attempt yet */
    SKS_RENEWAL_OK,      /* the last attempt renewed */
    SKS_RENEWAL_FAILED,  /* the last attempt failed: see code, next */
    SKS_RENEWAL_RUNNING, /* an attempt started and did not finish (or is running) */
};

struct sks_renewal {
    char identity[SKS_IDENTITY_NAME_MAX + 1];
    time_t attempt; /* when the last attempt started */
    enum sks_renewal_result result;
    char code[SKS_RENEWAL_CODE_MAX + 1]; /* the failure's stable code, "" otherwise */
    unsigned int failures;               /* failed attempts in a row */
    time_t next;                         /* no attempt before (0: any time) */
    char order[SKS_X5U_MAX + 1];         /* the order in flight, "" when none */
    unsigned int pending;                /* the renewal's pending key version, 0 when none */
    /*
     * Set before a new version is generated, cleared once |pending| names it:
     * the lowest version number it can get.  A run killed in between leaves a
     * pending version the record does not name; the next run destroys the
     * pending versions from this number up.  0 when not generating.
     */
    unsigned int generating;
    char csr[SKS_RENEWAL_CSR_MAX + 1]; /* that version's CSR, base64url DER */
    p11_handle handle;                 /* the record; P11_NO_HANDLE before it is saved */
};

/* "none", "ok", "failed", "running". */
const char *sks_renewal_result_name(enum sks_renewal_result r);

/* The record of |identity|; a fresh one (result NONE, no handle) when there is none. */
sks_status sks_renewal_get(struct sks_keystore *ks, const char *identity, struct sks_renewal *r,
                           struct sks_error *err);
/*
 * Creates the record (r->handle P11_NO_HANDLE) or rewrites it in one write,
 * then moves the change marker, so that readers that keep a view of the
 * key store (sksd's /metrics) read it again.
 */
sks_status sks_renewal_put(struct sks_keystore *ks, struct sks_renewal *r, struct sks_error *err);

/* Calls |cb| for every record (in no order); a malformed record is skipped. */
typedef void (*sks_renewal_cb)(const struct sks_renewal *r, void *arg);
sks_status sks_renewal_each(struct sks_keystore *ks, sks_renewal_cb cb, void *arg,
                            struct sks_error *err);

/*
 * One renewal of |identity| at a time on this host: a lock file per
 * identity beside the key store's writer lock (the same directory; its name
 * the token's lock file's, then ".renew-" and a hash of the identity), held
 * for the whole renewal, network calls included.  Not the writer lock: that
 * one is held only around each write, and sksd's activations and sksctl's
 * other writers must not wait for an STI-CA.  The kernel drops it when the
 * holder dies, even by SIGKILL.
 *
 * Not waited for: when another process holds it, *fd is -1 and *holder its
 * pid as it wrote it into the file (0 if it has not yet).  Otherwise *fd is
 * the held lock, for sks_renewal_unlock(), and this pid is in the file.
 */
sks_status sks_renewal_lock(struct sks_keystore *ks, const char *identity, int *fd, long *holder,
                            struct sks_error *err);
void sks_renewal_unlock(int fd);

#endif
