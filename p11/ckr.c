/* PKCS#11 return values: names for messages, classes for recovery. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "p11/internal.h"

int p11_trace_enabled;

CK_RV p11_trace(const char *fn, CK_RV rv)
{
    fprintf(stderr, "sks p11: %s -> %s\n", fn, p11_ckr_name(rv));
    return rv;
}

#define CKR(name)                                                                                  \
    {                                                                                              \
        name, #name                                                                                \
    }
static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
    CKR(CKR_OK),
    CKR(CKR_CANCEL),
    CKR(CKR_HOST_MEMORY),
    CKR(CKR_SLOT_ID_INVALID),
    CKR(CKR_GENERAL_ERROR),
    CKR(CKR_FUNCTION_FAILED),
    CKR(CKR_ARGUMENTS_BAD),
    CKR(CKR_NO_EVENT),
    CKR(CKR_NEED_TO_CREATE_THREADS),
    CKR(CKR_CANT_LOCK),
    CKR(CKR_ATTRIBUTE_READ_ONLY),
    CKR(CKR_ATTRIBUTE_SENSITIVE),
    CKR(CKR_ATTRIBUTE_TYPE_INVALID),
    CKR(CKR_ATTRIBUTE_VALUE_INVALID),
    CKR(CKR_ACTION_PROHIBITED),
    CKR(CKR_DATA_INVALID),
    CKR(CKR_DATA_LEN_RANGE),
    CKR(CKR_DEVICE_ERROR),
    CKR(CKR_DEVICE_MEMORY),
    CKR(CKR_DEVICE_REMOVED),
    CKR(CKR_ENCRYPTED_DATA_INVALID),
    CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
    CKR(CKR_FUNCTION_CANCELED),
    CKR(CKR_FUNCTION_NOT_PARALLEL),
    CKR(CKR_FUNCTION_NOT_SUPPORTED),
    CKR(CKR_KEY_HANDLE_INVALID),
    CKR(CKR_KEY_SIZE_RANGE),
    CKR(CKR_KEY_TYPE_INCONSISTENT),
    CKR(CKR_KEY_NOT_NEEDED),
    CKR(CKR_KEY_CHANGED),
    CKR(CKR_KEY_NEEDED),
    CKR(CKR_KEY_INDIGESTIBLE),
    CKR(CKR_KEY_FUNCTION_NOT_PERMITTED),
    CKR(CKR_KEY_NOT_WRAPPABLE),
    CKR(CKR_KEY_UNEXTRACTABLE),
    CKR(CKR_MECHANISM_INVALID),
    CKR(CKR_MECHANISM_PARAM_INVALID),
    CKR(CKR_OBJECT_HANDLE_INVALID),
    CKR(CKR_OPERATION_ACTIVE),
    CKR(CKR_OPERATION_NOT_INITIALIZED),
    CKR(CKR_PIN_INCORRECT),
    CKR(CKR_PIN_INVALID),
    CKR(CKR_PIN_LEN_RANGE),
    CKR(CKR_PIN_EXPIRED),
    CKR(CKR_PIN_LOCKED),
    CKR(CKR_SESSION_CLOSED),
    CKR(CKR_SESSION_COUNT),
    CKR(CKR_SESSION_HANDLE_INVALID),
    CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    CKR(CKR_SESSION_READ_ONLY),
    CKR(CKR_SESSION_EXISTS),
    CKR(CKR_SESSION_READ_ONLY_EXISTS),
    CKR(CKR_SESSION_READ_WRITE_SO_EXISTS),
    CKR(CKR_SIGNATURE_INVALID),
    CKR(CKR_SIGNATURE_LEN_RANGE),
    CKR(CKR_TEMPLATE_INCOMPLETE),
    CKR(CKR_TEMPLATE_INCONSISTENT),
    CKR(CKR_TOKEN_NOT_PRESENT),
    CKR(CKR_TOKEN_NOT_RECOGNIZED),
    CKR(CKR_TOKEN_WRITE_PROTECTED),
    CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    CKR(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    CKR(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    CKR(CKR_USER_ALREADY_LOGGED_IN),
    CKR(CKR_USER_NOT_LOGGED_IN),
    CKR(CKR_USER_PIN_NOT_INITIALIZED),
    CKR(CKR_USER_TYPE_INVALID),
    CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    CKR(CKR_USER_TOO_MANY_TYPES),
    CKR(CKR_WRAPPED_KEY_INVALID),
    CKR(CKR_WRAPPED_KEY_LEN_RANGE),
    CKR(CKR_WRAPPING_KEY_HANDLE_INVALID),
    CKR(CKR_WRAPPING_KEY_SIZE_RANGE),
    CKR(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    CKR(CKR_RANDOM_SEED_NOT_SUPPORTED),
    CKR(CKR_RANDOM_NO_RNG),
    CKR(CKR_DOMAIN_PARAMS_INVALID),
    CKR(CKR_CURVE_NOT_SUPPORTED),
    CKR(CKR_BUFFER_TOO_SMALL),
    CKR(CKR_SAVED_STATE_INVALID),
    CKR(CKR_INFORMATION_SENSITIVE),
    CKR(CKR_STATE_UNSAVEABLE),
    CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
    CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    CKR(CKR_MUTEX_BAD),
    CKR(CKR_MUTEX_NOT_LOCKED),
    CKR(CKR_FUNCTION_REJECTED),
};

const char *p11_ckr_name(CK_RV rv)
{
    static __thread char unknown[32];
    size_t i;

    for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++) {
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    }
    snprintf(unknown, sizeof(unknown), "CKR_0x%08lx", (unsigned long)rv);
    return unknown;
}

static const struct {
    CK_RV rv;
    enum p11_lost lost;
} lost_table[] = {
    {CKR_OBJECT_HANDLE_INVALID, P11_LOST_HANDLE},   /* the token restarted: find it again */
    {CKR_KEY_HANDLE_INVALID, P11_LOST_HANDLE},      /* the same, for a key */
    {CKR_USER_NOT_LOGGED_IN, P11_LOST_LOGIN},       /* another process logged out */
    {CKR_SESSION_HANDLE_INVALID, P11_LOST_SESSION}, /* closed under us */
    {CKR_SESSION_CLOSED, P11_LOST_SESSION},         /* closed during the call */
    {CKR_TOKEN_NOT_PRESENT, P11_LOST_TOKEN},        /* away; may come back, maybe in another slot */
    {CKR_DEVICE_REMOVED, P11_LOST_TOKEN},           /* the same, said during a call */
    {CKR_CRYPTOKI_NOT_INITIALIZED, P11_LOST_TOKEN}, /* the module was finalised: initialise again */
};

enum p11_lost p11_rv_lost(CK_RV rv)
{
    size_t i;

    for (i = 0; i < sizeof(lost_table) / sizeof(lost_table[0]); i++) {
        if (lost_table[i].rv == rv)
            return lost_table[i].lost;
    }
    return P11_LOST_NOTHING;
}

static sks_status status_for(CK_RV rv)
{
    switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
        return SKS_ERR_AUTH;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_COUNT:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
        return SKS_ERR_UNAVAILABLE;
    case CKR_HOST_MEMORY:
        return SKS_ERR_SYSTEM;
    default:
        return SKS_ERR_TOKEN;
    }
}

sks_status p11_fail(struct sks_error *err, CK_RV rv, const char *fmt, ...)
{
    char what[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    sks_fail(err, status_for(rv), "%s: %s", what, p11_ckr_name(rv));
    if (err != NULL)
        err->ckr = rv;
    return status_for(rv);
}
