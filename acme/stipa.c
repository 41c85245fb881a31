/* The STI-PA's SPC token API (ATIS-1000080 6.3.5) on fetch/'s HTTPS client. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "acme/acme.h"
#include "acme/spc.h"
#include "acme/stipa.h"
#include "common/file.h"

#define CREDENTIALS_MAX 4096
#define ANSWER_MAX (64 * 1024)

static bool account_id_valid(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0, i;

    if (n == 0 || n > SKS_ACME_STIPA_ACCOUNT_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

/* "Bearer KEY" from the credentials file; *auth is cleansed and freed by the caller. */
static sks_status read_authorization(const char *path, char **auth, size_t *authlen,
                                     struct sks_error *err)
{
    unsigned char *data = NULL;
    size_t len = 0, i, start = 0;
    sks_status st;

    *auth = NULL;
    if (path == NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, "stipa-credentials", "credentials",
                              "no STI-PA credentials file given");
    if ((st = sks_file_read(path, CREDENTIALS_MAX, &data, &len, err)) != SKS_OK) {
        sks_error_prefix(err, "STI-PA credentials file");
        return st;
    }
    while (start < len && strchr(" \t\r\n", data[start]) != NULL)
        start++;
    while (len > start && strchr(" \t\r\n", data[len - 1]) != NULL)
        len--;
    for (i = start; i < len; i++) {
        if (data[i] < 0x21 || data[i] > 0x7e)
            break;
    }
    if (len == start || i != len) {
        st = sks_fail_field(err, SKS_ERR_INPUT, "stipa-credentials", "credentials",
                            "the STI-PA credentials file %.120s must hold one API key of "
                            "printable characters without spaces",
                            path);
        goto done;
    }
    *authlen = 7 + (len - start) + 1;
    *auth = OPENSSL_malloc(*authlen);
    if (*auth == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory for the STI-PA credentials");
        goto done;
    }
    memcpy(*auth, "Bearer ", 7);
    memcpy(*auth + 7, data + start, len - start);
    (*auth)[*authlen - 1] = '\0';
done:
    OPENSSL_clear_free(data, len);
    return st;
}

static char *request_body(const char *tkvalue, const char *fingerprint, bool ca)
{
    json_t *atc = json_pack("{s:s, s:s, s:b, s:s}", "tktype", SKS_ACME_ID_TNAUTHLIST, "tkvalue",
                            tkvalue, "ca", ca, "fingerprint", fingerprint);
    json_t *root = atc != NULL ? json_pack("{s:o}", "atc", atc) : NULL;
    char *body = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;

    json_decref(root);
    return body;
}

/* The token of the STI-PA's answer, or its refusal in its own words. */
static sks_status read_answer(const struct sks_fetched *f, const char *url, char **token,
                              struct sks_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
    const char *status = json_string_value(json_object_get(root, "status"));
    const char *message = json_string_value(json_object_get(root, "message"));
    const char *tok = json_string_value(json_object_get(root, "token"));
    sks_status st = SKS_OK;

    if (f->status < 200 || f->status > 299 || (status != NULL && strcmp(status, "success") != 0))
        st = sks_fail_field(
            err,
            f->status == 401 || f->status == 403   ? SKS_ERR_AUTH
            : f->status == 429 || f->status >= 500 ? SKS_ERR_UNAVAILABLE
                                                   : SKS_ERR_POLICY,
            "stipa-refused", "url",
            "the STI-PA refused the SPC token request (%s: HTTP status %ld%s%.200s)", url,
            f->status, message != NULL ? ": " : "", message != NULL ? message : "");
    else if (strncmp(f->content_type, "application/json", 16) != 0)
        st = sks_fail_field(err, SKS_ERR_INPUT, "stipa-answer", "url",
                            "the STI-PA answered %s with Content-Type \"%.60s\", not "
                            "application/json",
                            url, f->content_type);
    else if (root == NULL || !json_is_object(root) || tok == NULL)
        st = sks_fail_field(err, SKS_ERR_INPUT, "stipa-answer", "url",
                            "the STI-PA's answer from %s is not a JSON object with a token", url);
    else if ((*token = strdup(tok)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory for the SPC token");
    json_decref(root);
    return st;
}

sks_status sks_acme_atc_from_stipa(const struct sks_acme_stipa *pa, const char *spc,
                                   EVP_PKEY *account, bool ca, char **token,
                                   struct sks_acme_atc_info *info, struct sks_error *err)
{
    const struct sks_acme_atc_expect expect = {spc, account, ca, 0};
    char fp[SKS_ACME_FINGERPRINT_SIZE], *tkvalue = NULL, *body = NULL, *auth = NULL;
    struct sks_fetch_request req = {0};
    struct sks_fetch_opts opts;
    struct sks_fetched f = {0};
    size_t authlen = 0, n;
    char url[2300];
    sks_status st;

    *token = NULL;
    if (pa->base_url == NULL || strncmp(pa->base_url, "https://", 8) != 0)
        return sks_fail_field(err, SKS_ERR_INPUT, "stipa-url", "url",
                              "the STI-PA token API's base URL must be https");
    if (!account_id_valid(pa->account_id))
        return sks_fail_field(err, SKS_ERR_INPUT, "stipa-account", "account",
                              "the STI-PA account id must be 1-%d of A-Z, a-z, 0-9, '.', '_', '-'",
                              SKS_ACME_STIPA_ACCOUNT_MAX);
    n = strlen(pa->base_url);
    if (snprintf(url, sizeof(url), "%.*s/account/%s/token",
                 (int)(n > 0 && pa->base_url[n - 1] == '/' ? n - 1 : n), pa->base_url,
                 pa->account_id) >= (int)sizeof(url))
        return sks_fail_field(err, SKS_ERR_INPUT, "stipa-url", "url",
                              "the STI-PA token API's base URL is too long");
    if ((st = acme_tnauthlist_value(spc, &tkvalue, err)) != SKS_OK ||
        (st = sks_acme_fingerprint(account, fp, err)) != SKS_OK ||
        (st = read_authorization(pa->credentials_file, &auth, &authlen, err)) != SKS_OK)
        goto done;
    if ((body = request_body(tkvalue, fp, ca)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory for the SPC token request");
        goto done;
    }
    if (pa->fetch != NULL)
        opts = *pa->fetch;
    else
        sks_fetch_opts_init(&opts);
    if (opts.max_bytes == 0 || opts.max_bytes > ANSWER_MAX)
        opts.max_bytes = ANSWER_MAX;
    req.method = "POST";
    req.content_type = "application/json";
    req.accept = "application/json";
    req.body = body;
    req.body_len = strlen(body);
    req.authorization = auth;
    req.any_status = true;
    if ((st = sks_fetch_request(&opts, url, &req, &f, err)) != SKS_OK) {
        sks_error_prefix(err, "SPC token from the STI-PA");
        goto done;
    }
    if ((st = read_answer(&f, url, token, err)) != SKS_OK)
        goto done;
    if ((st = sks_acme_atc_check(*token, strlen(*token), &expect, info, err)) != SKS_OK) {
        sks_error_prefix(err, "the STI-PA's token");
        free(*token);
        *token = NULL;
    }
done:
    sks_fetched_clear(&f);
    OPENSSL_clear_free(auth, authlen);
    free(body);
    free(tkvalue);
    return st;
}
