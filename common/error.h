/*
 * The one error type of the shaken-sks libraries.
 *
 * A failing function fills a struct sks_error with a status class, a
 * message that names what failed, on which input, and what to do, and, when
 * one input is at fault, that input's name and a stable code for it.  Front
 * ends print or send these as they are (sksd's JSON error body, sksctl's
 * message) and turn the status into a process exit code (sks_exit_code) or
 * an HTTP status (sksd/reply.c); the provider turns it into an OpenSSL
 * error.  Messages never carry secrets.
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
#define SKS_ERROR_FIELD_MAX 64

struct sks_error {
    sks_status status;
    unsigned long ckr; /* PKCS#11 return value when one caused the error, else 0 */
    /*
     * A stable code a client can act on ("invalid-tn"), a string literal;
     * NULL: the status's own (sks_error_code).
     */
    const char *code;
    char field[SKS_ERROR_FIELD_MAX]; /* the input at fault ("orig.tn", "x5u"), "" when none */
    char msg[SKS_ERROR_MSG_MAX];
};

/* Records the error in |err| (which may be NULL) and returns |status|. */
sks_status sks_fail(struct sks_error *err, sks_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sks_status sks_vfail(struct sks_error *err, sks_status status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/*
 * sks_fail() that also names the input at fault, |field|, and a stable
 * |code| for the failure (a string literal).
 */
sks_status sks_fail_field(struct sks_error *err, sks_status status, const char *code,
                          const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Names the input at fault in |err| (which may be NULL) and a stable code (a literal). */
void sks_error_set_field(struct sks_error *err, const char *code, const char *field);
/* Prefixes the message already in |err| with context: "context: message". */
void sks_error_prefix(struct sks_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sks_error_clear(struct sks_error *err);
/* Appends OpenSSL's error queue (and clears it) to the message. */
void sks_error_add_openssl(struct sks_error *err);

const char *sks_status_name(sks_status status);
/* The stable code of |err|: its own, else its status's ("invalid-input", "hsm-unavailable"). */
const char *sks_error_code(const struct sks_error *err);
const char *sks_status_code(sks_status status);
/* Process exit status for a command-line tool: 0 on success, then one per class. */
int sks_exit_code(sks_status status);

#endif
