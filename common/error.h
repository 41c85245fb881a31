/*
 * The one error type of the shaken-sks libraries.
 *
 * A failing function fills a struct sks_error with a status class and a
 * message that names what failed, on which input, and what to do.  Callers
 * turn the status into a process exit code (sks_exit_code) or an HTTP status
 * (sksd); the provider turns it into an OpenSSL error.  Messages never carry
 * secrets.
 */
#ifndef SKS_COMMON_ERROR_H
#define SKS_COMMON_ERROR_H

#include <stdarg.h>

typedef enum sks_status {
    SKS_OK = 0,
    SKS_ERR_INPUT,       /* malformed, oversized or mismatched input */
    SKS_ERR_NOT_FOUND,   /* no such token, object, identity or file */
    SKS_ERR_AUTH,        /* PIN or caller authentication failed */
    SKS_ERR_UNAVAILABLE, /* token absent or device failing: retry later */
    SKS_ERR_TOKEN,       /* the PKCS#11 module refused an operation */
    SKS_ERR_POLICY,      /* input is well formed but breaks a rule */
    SKS_ERR_VERIFY,      /* a signature or certificate did not verify */
    SKS_ERR_SYSTEM,      /* I/O or memory */
    SKS_ERR_INTERNAL,
} sks_status;

#define SKS_ERROR_MSG_MAX 512

struct sks_error {
    sks_status status;
    unsigned long ckr; /* PKCS#11 return value when one caused the error, else 0 */
    char msg[SKS_ERROR_MSG_MAX];
};

/* Records the error in |err| (which may be NULL) and returns |status|. */
sks_status sks_fail(struct sks_error *err, sks_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sks_status sks_vfail(struct sks_error *err, sks_status status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Prefixes the message already in |err| with context: "context: message". */
void sks_error_prefix(struct sks_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sks_error_clear(struct sks_error *err);
/* Appends OpenSSL's error queue (and clears it) to the message. */
void sks_error_add_openssl(struct sks_error *err);

const char *sks_status_name(sks_status status);
/* Process exit status for a command-line tool: 0 on success, then one per class. */
int sks_exit_code(sks_status status);

#endif
