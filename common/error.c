#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "common/error.h"

sks_status sks_vfail(struct sks_error *err, sks_status status, const char *fmt, va_list ap)
{
    if (err != NULL) {
        err->status = status;
        err->ckr = 0;
        err->code = NULL;
        err->field[0] = '\0';
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return status;
}

sks_status sks_fail(struct sks_error *err, sks_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sks_vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

sks_status sks_fail_field(struct sks_error *err, sks_status status, const char *code,
                          const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sks_vfail(err, status, fmt, ap);
    va_end(ap);
    sks_error_set_field(err, code, field);
    return status;
}

void sks_error_set_field(struct sks_error *err, const char *code, const char *field)
{
    if (err == NULL)
        return;
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
}

void sks_error_prefix(struct sks_error *err, const char *fmt, ...)
{
    char prefix[SKS_ERROR_MSG_MAX];
    char joined[2 * SKS_ERROR_MSG_MAX + 2];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
    /* Keep the start: the context and the beginning of the cause. */
    snprintf(err->msg, sizeof(err->msg), "%.*s", SKS_ERROR_MSG_MAX - 1, joined);
}

void sks_error_clear(struct sks_error *err)
{
    if (err == NULL)
        return;
    err->status = SKS_OK;
    err->ckr = 0;
    err->code = NULL;
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

void sks_error_add_openssl(struct sks_error *err)
{
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error()) != 0) {
        if (err == NULL)
            continue;
        size_t len = strlen(err->msg);
        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(err->msg + len, sizeof(err->msg) - len, " (%s)", buf);
    }
}

const char *sks_status_name(sks_status status)
{
    switch (status) {
    case SKS_OK:
        return "ok";
    case SKS_ERR_INPUT:
        return "invalid input";
    case SKS_ERR_NOT_FOUND:
        return "not found";
    case SKS_ERR_AUTH:
        return "authentication failed";
    case SKS_ERR_UNAVAILABLE:
        return "token unavailable";
    case SKS_ERR_TOKEN:
        return "token error";
    case SKS_ERR_POLICY:
        return "rejected by policy";
    case SKS_ERR_VERIFY:
        return "verification failed";
    case SKS_ERR_SYSTEM:
        return "system error";
    case SKS_ERR_INTERNAL:
        break;
    }
    return "internal error";
}

const char *sks_status_code(sks_status status)
{
    switch (status) {
    case SKS_OK:
        return "ok";
    case SKS_ERR_INPUT:
        return "invalid-input";
    case SKS_ERR_NOT_FOUND:
        return "not-found";
    case SKS_ERR_AUTH:
        return "forbidden";
    case SKS_ERR_UNAVAILABLE:
        return "hsm-unavailable";
    case SKS_ERR_TOKEN:
        return "hsm-error";
    case SKS_ERR_POLICY:
        return "policy-violation";
    case SKS_ERR_VERIFY:
        return "verification-failed";
    case SKS_ERR_SYSTEM:
    case SKS_ERR_INTERNAL:
        break;
    }
    return "internal-error";
}

const char *sks_error_code(const struct sks_error *err)
{
    return err->code != NULL ? err->code : sks_status_code(err->status);
}

int sks_exit_code(sks_status status)
{
    /* 1 stays free for usage errors in the tools. */
    return status == SKS_OK ? 0 : 1 + (int)status;
}
