/* Tokens: slot selection, the PIN and login policy, reset after a fault. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <p11-kit/p11-kit.h>

#include "common/file.h"
#include "p11/internal.h"

#define PIN_MAX 256

static sks_status slot_list(struct p11_module *mod, CK_SLOT_ID **slots, CK_ULONG *count,
                            struct sks_error *err)
{
    CK_ULONG n = 0;
    CK_RV rv;

    *slots = NULL;
    rv = P11_CALL(mod, C_GetSlotList, CK_TRUE, NULL, &n);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot list the slots of %s", mod->path);
    *slots = calloc(n + 1, sizeof(**slots));
    if (*slots == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    /* No token: p11-kit's client answers a second call for 0 slots with CKR_BUFFER_TOO_SMALL. */
    if (n == 0) {
        *count = 0;
        return SKS_OK;
    }
    rv = P11_CALL(mod, C_GetSlotList, CK_TRUE, *slots, &n);
    if (rv != CKR_OK) {
        free(*slots);
        *slots = NULL;
        return p11_fail(err, rv, "cannot list the slots of %s", mod->path);
    }
    *count = n;
    return SKS_OK;
}

static bool slot_matches(struct p11_module *mod, P11KitUri *match, CK_SLOT_ID slot,
                         CK_TOKEN_INFO *tinfo)
{
    CK_SLOT_INFO sinfo;
    CK_SLOT_ID want;

    if (P11_CALL(mod, C_GetTokenInfo, slot, tinfo) != CKR_OK)
        return false;
    if (match == NULL)
        return true;
    want = p11_kit_uri_get_slot_id(match);
    if (want != (CK_SLOT_ID)-1 && want != slot)
        return false;
    if (P11_CALL(mod, C_GetSlotInfo, slot, &sinfo) != CKR_OK)
        return false;
    return p11_kit_uri_match_slot_info(match, &sinfo) && p11_kit_uri_match_token_info(match, tinfo);
}

static char *token_uri(const CK_TOKEN_INFO *info)
{
    P11KitUri *uri = p11_kit_uri_new();
    char *s = NULL;

    if (uri == NULL)
        return NULL;
    memcpy(p11_kit_uri_get_token_info(uri), info, sizeof(*info));
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, &s) != P11_KIT_URI_OK)
        s = NULL;
    p11_kit_uri_free(uri);
    return s;
}

static struct p11_token *token_new(struct p11_module *mod, CK_SLOT_ID slot,
                                   const CK_TOKEN_INFO *info)
{
    struct p11_token *tok = calloc(1, sizeof(*tok));

    if (tok == NULL)
        return NULL;
    tok->uri = token_uri(info);
    if (tok->uri == NULL) {
        free(tok);
        return NULL;
    }
    tok->mod = mod;
    tok->slot = slot;
    tok->info = *info;
    tok->refs = 1;
    atomic_init(&tok->mech_ecdsa_sha256, -1);
    atomic_init(&tok->epoch, 1);
    pthread_mutex_init(&tok->lock, NULL);
    return tok;
}

/* Appends "what" to |buf|: the token attributes of |uri|, as a pkcs11: URI. */
static void append_wanted(char *buf, size_t size, P11KitUri *uri)
{
    size_t len = strlen(buf);
    char *text = NULL;

    if (uri == NULL)
        return;
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_SLOT | P11_KIT_URI_FOR_TOKEN, &text) !=
        P11_KIT_URI_OK)
        text = NULL;
    /* A URI of object attributes only says nothing about the token. */
    if (text != NULL && strcmp(text, "pkcs11:") == 0) {
        free(text);
        return;
    }
    snprintf(buf + len, size - len, "%s%s", len > 0 ? " and " : "",
             text != NULL ? text : "(an unprintable URI)");
    free(text);
}

/*
 * "No token" names what was looked for, what the module has, and for
 * SoftHSM the configuration that decides which tokens it has: the usual
 * cause is a SOFTHSM2_CONF that the caller's shell set and the service's
 * environment does not.
 */
static void no_token(struct p11_module *mod, P11KitUri *match, P11KitUri *also,
                     const CK_SLOT_ID *slots, CK_ULONG n, struct sks_error *err)
{
    char wanted[512] = "", present[256] = "", where[PATH_MAX + 96] = "";
    const char *base = strrchr(mod->path, '/'), *conf;
    CK_TOKEN_INFO info;
    CK_ULONG i, found = 0;

    append_wanted(wanted, sizeof(wanted), match);
    append_wanted(wanted, sizeof(wanted), also);
    for (i = 0; i < n; i++) {
        size_t len = strlen(present), label = sizeof(info.label);

        if (P11_CALL(mod, C_GetTokenInfo, slots[i], &info) != CKR_OK ||
            !(info.flags & CKF_TOKEN_INITIALIZED))
            continue;
        while (label > 0 && info.label[label - 1] == ' ')
            label--;
        snprintf(present + len, sizeof(present) - len, "%s\"%.*s\"", found++ > 0 ? ", " : "",
                 (int)label, (const char *)info.label);
    }
    if (strstr(base != NULL ? base + 1 : mod->path, "softhsm") != NULL) {
        conf = getenv("SOFTHSM2_CONF");
        if (conf != NULL)
            snprintf(where, sizeof(where), "; SoftHSM reads SOFTHSM2_CONF=%s", conf);
        else
            snprintf(where, sizeof(where),
                     "; SOFTHSM2_CONF is unset, so SoftHSM reads its built-in default "
                     "configuration");
    }
    sks_fail(err, SKS_ERR_NOT_FOUND, "no token matches %s (module %s lists %s%s%s)",
             wanted[0] != '\0' ? wanted : "(any initialised token)", mod->path,
             found == 0   ? "no initialised token"
             : found == 1 ? "the token "
                          : "the tokens ",
             present, where);
}

sks_status p11_token_find(struct p11_module *mod, P11KitUri *match, P11KitUri *also,
                          struct p11_token **out, struct sks_error *err)
{
    CK_TOKEN_INFO info;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i;
    struct p11_token *tok;
    sks_status st;

    st = p11_module_check_fork(mod, err);
    if (st != SKS_OK)
        return st;
    st = slot_list(mod, &slots, &n, err);
    if (st != SKS_OK)
        return st;
    for (i = 0; i < n; i++) {
        if (slot_matches(mod, match, slots[i], &info) && slot_matches(mod, also, slots[i], &info) &&
            (info.flags & CKF_TOKEN_INITIALIZED))
            break;
    }
    if (i == n) {
        no_token(mod, match, also, slots, n, err);
        free(slots);
        return SKS_ERR_NOT_FOUND;
    }

    p11_registry_lock();
    for (tok = mod->tokens; tok != NULL; tok = tok->next) {
        if (tok->slot == slots[i] &&
            memcmp(tok->info.serialNumber, info.serialNumber, sizeof(info.serialNumber)) == 0)
            break;
    }
    if (tok != NULL) {
        tok->refs++;
    } else if ((tok = token_new(mod, slots[i], &info)) != NULL) {
        tok->next = mod->tokens;
        mod->tokens = tok;
        mod->refs++;
    }
    p11_registry_unlock();
    free(slots);
    if (tok == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    *out = tok;
    return SKS_OK;
}

/* A token label becomes a token URI; a pkcs11: URI is taken as it is. */
static sks_status token_match(const char *token, P11KitUri **out, struct sks_error *err)
{
    P11KitUri *match;
    CK_TOKEN_INFO *info;
    int rc;

    *out = NULL;
    if (token == NULL)
        return SKS_OK;
    match = p11_kit_uri_new();
    if (match == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (strncmp(token, "pkcs11:", 7) == 0) {
        rc = p11_kit_uri_parse(token, P11_KIT_URI_FOR_TOKEN, match);
        if (rc != P11_KIT_URI_OK) {
            p11_kit_uri_free(match);
            return sks_fail(err, SKS_ERR_INPUT, "invalid PKCS#11 URI \"%s\": %s", token,
                            p11_kit_uri_message(rc));
        }
    } else {
        info = p11_kit_uri_get_token_info(match);
        if (strlen(token) > sizeof(info->label)) {
            p11_kit_uri_free(match);
            return sks_fail(err, SKS_ERR_INPUT, "token label \"%s\" is over 32 bytes", token);
        }
        memset(info->label, ' ', sizeof(info->label));
        memcpy(info->label, token, strlen(token));
    }
    *out = match;
    return SKS_OK;
}

sks_status p11_token_open_uri(const char *module, P11KitUri *match, P11KitUri *also,
                              const char *pin_source, struct p11_token **out, struct sks_error *err)
{
    struct p11_module *mod = NULL;
    sks_status st;

    st = p11_module_get(module, &mod, err);
    if (st == SKS_OK)
        st = p11_token_find(mod, match, also, out, err);
    p11_module_put(mod);
    if (st != SKS_OK)
        return st;
    st = p11_token_set_pin_source(*out, pin_source, err);
    if (st != SKS_OK) {
        p11_token_put(*out);
        *out = NULL;
    }
    return st;
}

sks_status p11_token_open(const char *module, const char *token, const char *pin_source,
                          struct p11_token **out, struct sks_error *err)
{
    P11KitUri *match = NULL;
    sks_status st;

    st = token_match(token, &match, err);
    if (st == SKS_OK)
        st = p11_token_open_uri(module, match, NULL, pin_source, out, err);
    if (match != NULL)
        p11_kit_uri_free(match);
    return st;
}

struct p11_token *p11_token_ref(struct p11_token *tok)
{
    p11_registry_lock();
    tok->refs++;
    p11_registry_unlock();
    return tok;
}

/*
 * Tokens stay registered (and logged in) for the life of the process once
 * found: keys come and go, and logging in again for each would be slow and
 * would risk PIN retries.  Only the count is kept for accounting.
 */
void p11_token_put(struct p11_token *tok)
{
    if (tok == NULL)
        return;
    p11_registry_lock();
    tok->refs--;
    p11_registry_unlock();
}

const char *p11_token_uri(const struct p11_token *tok)
{
    return tok->uri;
}

unsigned long p11_token_max_sessions(const struct p11_token *tok)
{
    CK_ULONG n = tok->info.ulMaxRwSessionCount;

    if (n == CK_EFFECTIVELY_INFINITE || n == CK_UNAVAILABLE_INFORMATION)
        return 0;
    return n;
}

static const char *pin_path(const char *source)
{
    if (strncmp(source, "file:", 5) == 0)
        source += 5;
    return source[0] == '/' ? source : NULL;
}

sks_status p11_token_set_pin_source(struct p11_token *tok, const char *pin_source,
                                    struct sks_error *err)
{
    sks_status st = SKS_OK;

    if (pin_source == NULL || pin_source[0] == '\0')
        return SKS_OK;
    /*
     * A relative path would be read from whatever directory the process
     * runs in; openssl.cnf has no directory of its own to anchor it.
     */
    if (pin_path(pin_source) == NULL)
        return sks_fail(err, SKS_ERR_INPUT,
                        "unsupported PIN source \"%s\": the forms are file:/absolute/path and "
                        "/absolute/path; a relative path is not allowed, since it would be read "
                        "from the current directory",
                        pin_source);
    pthread_mutex_lock(&tok->lock);
    if (tok->pin_source == NULL && (tok->pin_source = strdup(pin_source)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    pthread_mutex_unlock(&tok->lock);
    return st;
}

/*
 * Reads a PIN file: at most PIN_MAX bytes, one trailing newline dropped.
 * The buffer is cleansed on every path.
 */
static sks_status read_pin(const char *source, char **pin, size_t *len, struct sks_error *err)
{
    const char *path = pin_path(source);
    unsigned char *data = NULL;
    size_t got = 0, size;
    sks_status st = sks_file_read(path, PIN_MAX + 2, &data, &got, err);

    if (st != SKS_OK) {
        sks_error_prefix(err, "PIN file");
        return st;
    }
    size = got + 1;
    if (got > 0 && data[got - 1] == '\n')
        got--;
    if (got > 0 && data[got - 1] == '\r')
        got--;
    if (got == 0 || got > PIN_MAX) {
        OPENSSL_clear_free(data, size);
        return sks_fail(err, SKS_ERR_INPUT, "PIN file %s is %s", path,
                        got == 0 ? "empty" : "too long (over 256 bytes)");
    }
    data[got] = '\0';
    *pin = (char *)data;
    *len = got;
    return SKS_OK;
}

sks_status p11_token_anchor_locked(struct p11_token *tok, struct sks_error *err)
{
    CK_RV rv;

    if (tok->anchor_open)
        return SKS_OK;
    rv = P11_CALL(tok->mod, C_OpenSession, tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                  NULL, &tok->anchor);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot open a session on %s", tok->uri);
    tok->anchor_open = true;
    return SKS_OK;
}

sks_status p11_token_login_locked(struct p11_token *tok, struct sks_error *err)
{
    CK_TOKEN_INFO info;
    sks_status st;
    CK_RV rv;

    if (tok->logged_in)
        return SKS_OK;
    if (tok->login_failure != CKR_OK)
        return p11_fail(err, tok->login_failure,
                        "login to %s was refused earlier and is not retried, so that the token "
                        "is not locked; correct the PIN and restart",
                        tok->uri);
    st = p11_token_anchor_locked(tok, err);
    if (st != SKS_OK)
        return st;
    if (tok->pin == NULL) {
        if (tok->pin_source == NULL)
            return sks_fail(err, SKS_ERR_AUTH,
                            "%s needs the user PIN: set pkcs11-module-token-pin = file:/path "
                            "(or SKS_PKCS11_TOKEN_PIN, or pin-source in the URI)",
                            tok->uri);
        st = read_pin(tok->pin_source, &tok->pin, &tok->pin_len, err);
        if (st != SKS_OK)
            return st;
    }
    rv = P11_CALL(tok->mod, C_GetTokenInfo, tok->slot, &info);
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot read the state of %s", tok->uri);
    if (info.flags & CKF_USER_PIN_LOCKED) {
        tok->login_failure = CKR_PIN_LOCKED;
        return p11_fail(err, CKR_PIN_LOCKED, "the user PIN of %s is locked", tok->uri);
    }
    if (info.flags & CKF_USER_PIN_FINAL_TRY) {
        tok->login_failure = CKR_PIN_LOCKED;
        return sks_fail(err, SKS_ERR_AUTH,
                        "%s has one PIN try left (CKF_USER_PIN_FINAL_TRY); not logging in "
                        "automatically. Log in once by hand to reset the counter",
                        tok->uri);
    }
    rv = P11_CALL(tok->mod, C_Login, tok->anchor, CKU_USER, (CK_UTF8CHAR_PTR)tok->pin,
                  (CK_ULONG)tok->pin_len);
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
        rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED) {
        tok->login_failure = rv;
        OPENSSL_clear_free(tok->pin, tok->pin_len + 1);
        tok->pin = NULL;
    }
    if (rv != CKR_OK)
        return p11_fail(err, rv, "login to %s failed", tok->uri);
    tok->logged_in = true;
    return SKS_OK;
}

sks_status p11_token_login(struct p11_token *tok, struct sks_error *err)
{
    sks_status st = p11_module_check_fork(tok->mod, err);

    if (st != SKS_OK)
        return st;
    pthread_mutex_lock(&tok->lock);
    st = p11_token_login_locked(tok, err);
    pthread_mutex_unlock(&tok->lock);
    return st;
}

bool p11_token_has_mechanism(struct p11_token *tok, CK_MECHANISM_TYPE mech)
{
    CK_MECHANISM_INFO info;
    int known = atomic_load(&tok->mech_ecdsa_sha256);
    CK_RV rv;
    bool has;

    if (mech == CKM_ECDSA_SHA256 && known >= 0)
        return known == 1;
    rv = P11_CALL(tok->mod, C_GetMechanismInfo, tok->slot, mech, &info);
    has = rv == CKR_OK && (info.flags & CKF_SIGN);
    /* Only a definite answer is remembered: not a token that was away. */
    if (mech == CKM_ECDSA_SHA256 && (rv == CKR_OK || rv == CKR_MECHANISM_INVALID))
        atomic_store(&tok->mech_ecdsa_sha256, has);
    return has;
}

/* After removal the token may come back in another slot: find it by serial. */
static void rediscover_slot_locked(struct p11_token *tok)
{
    CK_TOKEN_INFO info;
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0, i;

    if (slot_list(tok->mod, &slots, &n, NULL) != SKS_OK)
        return;
    for (i = 0; i < n; i++) {
        if (P11_CALL(tok->mod, C_GetTokenInfo, slots[i], &info) == CKR_OK &&
            memcmp(info.serialNumber, tok->info.serialNumber, sizeof(info.serialNumber)) == 0 &&
            memcmp(info.label, tok->info.label, sizeof(info.label)) == 0) {
            tok->slot = slots[i];
            break;
        }
    }
    free(slots);
}

void p11_token_reset_locked(struct p11_token *tok)
{
    size_t i;

    for (i = 0; i < tok->pool_len; i++)
        P11_CALL(tok->mod, C_CloseSession, tok->pool[i]);
    tok->pool_len = 0;
    if (tok->anchor_open)
        P11_CALL(tok->mod, C_CloseSession, tok->anchor);
    tok->anchor_open = false;
    tok->logged_in = false;
    atomic_fetch_add(&tok->epoch, 1);
}

bool p11_token_recover(struct p11_token *tok, unsigned long long epoch, CK_RV rv)
{
    if (p11_rv_lost(rv) == P11_LOST_NOTHING)
        return false;
    pthread_mutex_lock(&tok->lock);
    if (atomic_load(&tok->epoch) == epoch) {
        if (rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
            CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
            P11_CALL(tok->mod, C_Initialize, &args);
        }
        p11_token_reset_locked(tok);
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED)
            rediscover_slot_locked(tok);
    }
    pthread_mutex_unlock(&tok->lock);
    return true;
}

void p11_token_forget(struct p11_token *tok)
{
    pthread_mutex_lock(&tok->lock);
    tok->pool_len = 0;
    tok->anchor_open = false;
    tok->logged_in = false;
    atomic_fetch_add(&tok->epoch, 1);
    pthread_mutex_unlock(&tok->lock);
}

/* ---- token initialisation (sksctl init-token) ---------------------------- */

static void pad_label(CK_UTF8CHAR out[32], const char *label)
{
    size_t len = strlen(label);

    memset(out, ' ', 32);
    memcpy(out, label, len > 32 ? 32 : len);
}

sks_status p11_token_initialise(struct p11_module *mod, P11KitUri *slot_match, const char *label,
                                const char *so_pin_file, const char *user_pin_file,
                                struct sks_error *err)
{
    CK_UTF8CHAR padded[32];
    CK_TOKEN_INFO info;
    CK_SLOT_ID *slots = NULL;
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE session;
    CK_ULONG n = 0, i;
    char *so_pin = NULL, *user_pin = NULL;
    size_t so_len = 0, user_len = 0;
    bool found = false, open = false;
    sks_status st;
    CK_RV rv;

    if (strlen(label) == 0 || strlen(label) > 32)
        return sks_fail(err, SKS_ERR_INPUT, "token label must be 1 to 32 bytes");
    st = read_pin(so_pin_file, &so_pin, &so_len, err);
    if (st == SKS_OK)
        st = read_pin(user_pin_file, &user_pin, &user_len, err);
    if (st == SKS_OK)
        st = slot_list(mod, &slots, &n, err);
    for (i = 0; st == SKS_OK && i < n; i++) {
        if (slot_matches(mod, slot_match, slots[i], &info) &&
            (slot_match != NULL || !(info.flags & CKF_TOKEN_INITIALIZED))) {
            slot = slots[i];
            found = true;
            break;
        }
    }
    if (st == SKS_OK && !found)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no slot with an uninitialised token in %s",
                      mod->path);
    if (st != SKS_OK)
        goto done;

    pad_label(padded, label);
    rv = P11_CALL(mod, C_InitToken, slot, (CK_UTF8CHAR_PTR)so_pin, so_len, padded);
    if (rv != CKR_OK) {
        st = p11_fail(err, rv, "cannot initialise the token in slot %lu", (unsigned long)slot);
        goto done;
    }
    /* Some modules (SoftHSM) move a token to a new slot when it is initialised. */
    free(slots);
    slots = NULL;
    st = slot_list(mod, &slots, &n, err);
    for (i = 0, found = false; st == SKS_OK && i < n; i++) {
        if (P11_CALL(mod, C_GetTokenInfo, slots[i], &info) == CKR_OK &&
            memcmp(info.label, padded, sizeof(padded)) == 0 &&
            !(info.flags & CKF_USER_PIN_INITIALIZED)) {
            slot = slots[i];
            found = true;
            break;
        }
    }
    if (st == SKS_OK && !found)
        st = sks_fail(err, SKS_ERR_TOKEN, "token \"%s\" vanished after initialisation", label);
    if (st != SKS_OK)
        goto done;

    rv = P11_CALL(mod, C_OpenSession, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                  &session);
    if (rv == CKR_OK) {
        open = true;
        rv = P11_CALL(mod, C_Login, session, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, so_len);
    }
    if (rv == CKR_OK) {
        rv = P11_CALL(mod, C_InitPIN, session, (CK_UTF8CHAR_PTR)user_pin, user_len);
        P11_CALL(mod, C_Logout, session);
    }
    if (open)
        P11_CALL(mod, C_CloseSession, session);
    if (rv != CKR_OK)
        st = p11_fail(err, rv, "cannot set the user PIN of token \"%s\"", label);
done:
    free(slots);
    OPENSSL_clear_free(so_pin, so_len + 1);
    OPENSSL_clear_free(user_pin, user_len + 1);
    return st;
}
