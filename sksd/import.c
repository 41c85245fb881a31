/*
 * The import API: how the SP-KMS puts keys into the key store, over the
 * TLS or Unix-socket listener only (never the signing port), after
 * sksd_import_authenticate().  Everything goes through keystore/keystore.h, which
 * validates before it writes.
 *
 *   GET  /sks/v1/wrapping-key                          RSA public key for wrapped import
 *   GET  /sks/v1/identities                            identities and their versions
 *   POST /sks/v1/identities/ID/import                  wrapped key + certificate, chain, x5u
 *   POST /sks/v1/identities/ID/generate                key generated in the token, CSR back
 *   POST /sks/v1/identities/ID/versions/N/attach       certificate, chain, x5u for version N
 *   POST /sks/v1/identities/ID/versions/N/activate     N signs from now on
 *   POST /sks/v1/identities/ID/retire                  drop replaced versions past their grace
 *
 * Each change is audited with who asked, what, the identity, the version
 * and the result.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keystore/input.h"
#include "sksd/sksd.h"

#define PREFIX "/sks/v1/"
#define SEGMENTS_MAX 6

struct import_call {
    struct sksd *d;
    struct MHD_Connection *c;
    struct sksd_req *r;
    const struct sksd_peer *peer;
    const char *what;
    char identity[SKS_IDENTITY_NAME_MAX + 1];
    unsigned int version;
    json_t *body; /* the parsed request body; NULL when there was none */
};

/* ---- answers ------------------------------------------------------------------ */

static enum MHD_Result refuse(struct import_call *k, unsigned int status, const char *code,
                              const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result refuse(struct import_call *k, unsigned int status, const char *code,
                              const char *field, const char *fmt, ...)
{
    char msg[SKS_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (k->what != NULL)
        sksd_audit(k->peer, k->what, k->identity[0] != '\0' ? k->identity : NULL, k->version,
                   "refused", msg);
    return sksd_reply_error(k->r, k->c, status, code, field, msg);
}

/* A key store failure, audited, with the status its class maps to. */
static enum MHD_Result failed(struct import_call *k, const struct sks_error *err)
{
    if (k->what != NULL)
        sksd_audit(k->peer, k->what, k->identity, k->version, "failed", err->msg);
    return sksd_reply_failure(k->r, k->c, err);
}

static enum MHD_Result succeeded(struct import_call *k, unsigned int status, json_t *body)
{
    if (k->what != NULL)
        sksd_audit(k->peer, k->what, k->identity, k->version, "ok", NULL);
    return sksd_reply_json(k->r, k->c, status, body);
}

/* ---- request members ---------------------------------------------------------- */

static bool get_string(struct import_call *k, const char *key, bool required, const char **out,
                       enum MHD_Result *ret)
{
    json_t *v = k->body != NULL ? json_object_get(k->body, key) : NULL;

    *out = NULL;
    if (v == NULL) {
        if (required)
            *ret = refuse(k, 400, "missing-field", key, "%s is missing", key);
        return !required;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *ret = refuse(k, 400, "wrong-type", key, "%s must be a string", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static bool only_members(struct import_call *k, const char *const *allowed, size_t n,
                         enum MHD_Result *ret)
{
    const char *key;
    json_t *v;
    size_t i;

    if (k->body == NULL)
        return true;
    json_object_foreach(k->body, key, v)
    {
        for (i = 0; i < n && strcmp(key, allowed[i]) != 0; i++)
            ;
        if (i == n) {
            *ret = refuse(k, 400, "unknown-field", key, "unknown member \"%.64s\"", key);
            return false;
        }
    }
    return true;
}

/* The end-entity certificate, the chain and the x5u that come with a key. */
static bool read_creds(struct import_call *k, struct sks_credentials *cr, enum MHD_Result *ret)
{
    const char *cert, *chain, *x5u;
    BIO *b = NULL;
    X509 *x;

    memset(cr, 0, sizeof(*cr));
    if (!get_string(k, "certificate", true, &cert, ret) ||
        !get_string(k, "chain", false, &chain, ret) || !get_string(k, "x5u", true, &x5u, ret))
        return false;
    b = BIO_new_mem_buf(cert, -1);
    cr->cert = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (cr->cert == NULL) {
        ERR_clear_error();
        *ret = refuse(k, 400, "invalid-certificate", "certificate",
                      "certificate is not a PEM X.509 certificate");
        return false;
    }
    cr->chain = sk_X509_new_null();
    b = chain != NULL ? BIO_new_mem_buf(chain, -1) : NULL;
    while (b != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        struct sks_error e;

        /* Checked as it is read: a hostile chain is not parsed to its end. */
        if (sks_chain_length_check(sk_X509_num(cr->chain) + 1, &e) != SKS_OK ||
            (!sk_X509_push(cr->chain, x) && sks_fail(&e, SKS_ERR_SYSTEM, "chain: out of memory"))) {
            X509_free(x);
            BIO_free(b);
            sks_credentials_free(cr);
            *ret = refuse(k, 400, "invalid-chain", "chain", "%s", e.msg);
            return false;
        }
    }
    BIO_free(b);
    ERR_clear_error();
    if (chain != NULL && sk_X509_num(cr->chain) == 0) {
        sks_credentials_free(cr);
        *ret = refuse(k, 400, "invalid-chain", "chain",
                      "chain holds no PEM certificate: leave it out or give the intermediates");
        return false;
    }
    cr->x5u = x5u;
    return true;
}

/* Standard base64 (RFC 4648 section 4), as JSON carries binary. */
static bool base64_decode(const char *in, unsigned char **out, size_t *len)
{
    size_t n = strlen(in);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *buf = malloc(n / 4 * 3 + 3);
    int a = 0, b = 0;

    if (ctx == NULL || buf == NULL || n > INT_MAX)
        goto err;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, buf, &a, (const unsigned char *)in, (int)n) < 0 ||
        EVP_DecodeFinal(ctx, buf + a, &b) != 1 || a + b == 0)
        goto err;
    EVP_ENCODE_CTX_free(ctx);
    *out = buf;
    *len = (size_t)(a + b);
    return true;
err:
    EVP_ENCODE_CTX_free(ctx);
    free(buf);
    return false;
}

/* ---- operations ------------------------------------------------------------------- */

static enum MHD_Result wrapping_key(struct import_call *k)
{
    struct sks_error err;
    EVP_PKEY *pub = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;
    enum MHD_Result ret;

    sks_error_clear(&err);
    if (b == NULL)
        return refuse(k, 503, "overloaded", "", "out of memory");
    if (sks_keystore_wrapping_key(k->d->ks, &pub, &err) != SKS_OK) {
        BIO_free(b);
        return failed(k, &err);
    }
    if (PEM_write_bio_PUBKEY(b, pub) != 1 || (n = BIO_get_mem_data(b, &pem)) <= 0) {
        EVP_PKEY_free(pub);
        BIO_free(b);
        return refuse(k, 500, "internal-error", "", "cannot write the wrapping key as PEM");
    }
    ret = succeeded(k, 200, json_pack("{s:s%}", "wrappingKey", pem, (size_t)n));
    EVP_PKEY_free(pub);
    BIO_free(b);
    return ret;
}

struct listing {
    const struct sks_keystore *ks;
    json_t *ids;
};

static int list_one(const struct sks_identity_info *info, void *arg)
{
    struct listing *l = arg;

    json_array_append_new(l->ids, sks_identity_json(l->ks, info));
    return 0;
}

static enum MHD_Result list(struct import_call *k)
{
    struct listing l = {k->d->ks, json_array()};
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_keystore_list(k->d->ks, list_one, &l, &err) != SKS_OK) {
        json_decref(l.ids);
        return failed(k, &err);
    }
    return succeeded(k, 200, json_pack("{s:o}", "identities", l.ids));
}

static enum MHD_Result import_wrapped(struct import_call *k)
{
    static const char *const members[] = {"wrappedKey", "certificate", "chain", "x5u"};
    const char *wrapped64;
    unsigned char *blob = NULL;
    size_t blen = 0;
    struct sks_credentials cr;
    struct sks_error err;
    enum MHD_Result ret;

    if (!only_members(k, members, 4, &ret) || !get_string(k, "wrappedKey", true, &wrapped64, &ret))
        return ret;
    if (!base64_decode(wrapped64, &blob, &blen))
        return refuse(k, 400, "invalid-wrapped-key", "wrappedKey",
                      "wrappedKey is not base64 (RFC 4648 section 4)");
    if (!read_creds(k, &cr, &ret))
        goto done;
    sks_error_clear(&err);
    if (sks_keystore_import_wrapped(k->d->ks, k->identity, blob, blen, &cr, &k->version, &err) !=
        SKS_OK)
        ret = failed(k, &err);
    else
        ret = succeeded(
            k, 201,
            json_pack("{s:s, s:I}", "identity", k->identity, "version", (json_int_t)k->version));
    sks_credentials_free(&cr);
done:
    OPENSSL_cleanse(blob, blen);
    free(blob);
    return ret;
}

static enum MHD_Result generate(struct import_call *k)
{
    static const char *const members[] = {"spc"};
    const char *spc, *pem = NULL;
    BIO *csr = NULL;
    struct sks_error err;
    enum MHD_Result ret;
    long n;

    if (!only_members(k, members, 1, &ret) || !get_string(k, "spc", true, &spc, &ret))
        return ret;
    csr = BIO_new(BIO_s_mem());
    if (csr == NULL)
        return refuse(k, 503, "overloaded", "", "out of memory");
    sks_error_clear(&err);
    if (sks_keystore_generate(k->d->ks, k->identity, spc, csr, &k->version, &err) != SKS_OK) {
        ret = failed(k, &err);
    } else {
        n = BIO_get_mem_data(csr, (char **)&pem);
        ret = succeeded(k, 201,
                        json_pack("{s:s, s:I, s:s%}", "identity", k->identity, "version",
                                  (json_int_t)k->version, "csr", n > 0 ? pem : "",
                                  (size_t)(n > 0 ? n : 0)));
    }
    BIO_free(csr);
    return ret;
}

static enum MHD_Result attach(struct import_call *k)
{
    static const char *const members[] = {"certificate", "chain", "x5u"};
    struct sks_credentials cr;
    struct sks_error err;
    enum MHD_Result ret;

    if (!only_members(k, members, 3, &ret) || !read_creds(k, &cr, &ret))
        return ret;
    sks_error_clear(&err);
    if (sks_keystore_attach(k->d->ks, k->identity, k->version, &cr, &err) != SKS_OK)
        ret = failed(k, &err);
    else
        ret = succeeded(
            k, 200,
            json_pack("{s:s, s:I}", "identity", k->identity, "version", (json_int_t)k->version));
    sks_credentials_free(&cr);
    return ret;
}

static enum MHD_Result activate(struct import_call *k)
{
    struct sks_error err;
    enum MHD_Result ret;

    if (!only_members(k, NULL, 0, &ret))
        return ret;
    sks_error_clear(&err);
    if (sks_keystore_activate(k->d->ks, k->identity, k->version, &err) != SKS_OK)
        return failed(k, &err);
    return succeeded(
        k, 200,
        json_pack("{s:s, s:I}", "identity", k->identity, "activeVersion", (json_int_t)k->version));
}

static enum MHD_Result retire(struct import_call *k)
{
    struct sks_error err;
    enum MHD_Result ret;

    if (!only_members(k, NULL, 0, &ret))
        return ret;
    sks_error_clear(&err);
    if (sks_keystore_retire(k->d->ks, k->identity, time(NULL), &err) != SKS_OK)
        return failed(k, &err);
    return succeeded(k, 200, json_pack("{s:s}", "identity", k->identity));
}

/* ---- routing ---------------------------------------------------------------------- */

/* Splits |path| (after PREFIX) at '/' into at most SEGMENTS_MAX segments. */
static size_t split(const char *path, char seg[SEGMENTS_MAX][SKS_IDENTITY_NAME_MAX + 1])
{
    size_t n = 0;

    while (*path != '\0') {
        size_t len = strcspn(path, "/");

        if (n == SEGMENTS_MAX || len == 0 || len > SKS_IDENTITY_NAME_MAX)
            return 0;
        memcpy(seg[n], path, len);
        seg[n++][len] = '\0';
        path += len;
        if (*path == '/')
            path++;
    }
    return n;
}

static bool parse_version(const char *s, unsigned int *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (s[0] < '1' || s[0] > '9' || *end != '\0' || errno != 0 || v > UINT_MAX)
        return false;
    *out = (unsigned int)v;
    return true;
}

typedef enum MHD_Result (*import_op)(struct import_call *k);

/* POST /identities/ID/VERB (3 segments) and /identities/ID/versions/N/VERB (5). */
static const struct {
    size_t nseg;
    const char *verb;
    import_op op;
} ops[] = {
    {3, "import", import_wrapped}, {3, "generate", generate}, {3, "retire", retire},
    {5, "attach", attach},         {5, "activate", activate},
};

/* The operation at |seg|; NULL when there is none at that path. */
static import_op route_op(struct import_call *k, char seg[][SKS_IDENTITY_NAME_MAX + 1], size_t n)
{
    size_t i;

    if (n == 5 && strcmp(seg[2], "versions") != 0)
        return NULL;
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (ops[i].nseg == n && strcmp(ops[i].verb, seg[n - 1]) == 0) {
            snprintf(k->identity, sizeof(k->identity), "%s", seg[1]);
            k->what = ops[i].verb;
            return ops[i].op;
        }
    }
    return NULL;
}

/* POST bodies are JSON objects; an empty body stands for {}. */
static bool parse_body(struct import_call *k, const char *body, size_t len, enum MHD_Result *ret)
{
    const char *ctype =
        MHD_lookup_connection_value(k->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_error_t jerr;

    if (len == 0)
        return true;
    if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0) {
        *ret = refuse(k, 415, "unsupported-media-type", "Content-Type",
                      "Content-Type must be application/json");
        return false;
    }
    k->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (k->body == NULL || !json_is_object(k->body)) {
        *ret = refuse(k, 400, "malformed-json", "body", "the body is not a JSON object: %s",
                      k->body == NULL ? jerr.text : "another JSON type");
        return false;
    }
    return true;
}

enum MHD_Result sksd_import_handle(struct sksd *d, struct MHD_Connection *c, struct sksd_req *r,
                                   const char *method, const char *url, const char *body,
                                   size_t len)
{
    struct import_call k = {d, c, r, &r->peer, NULL, "", 0, NULL};
    char seg[SEGMENTS_MAX][SKS_IDENTITY_NAME_MAX + 1];
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    enum MHD_Result ret;
    import_op op;
    size_t n;

    if (strncmp(url, PREFIX, strlen(PREFIX)) != 0 || (n = split(url + strlen(PREFIX), seg)) == 0)
        return refuse(&k, 404, "not-found", "", "no import resource at this path");
    if (n == 1 && strcmp(seg[0], "wrapping-key") == 0 && get)
        return wrapping_key(&k);
    if (n == 1 && strcmp(seg[0], "identities") == 0 && get)
        return list(&k);
    if (strcmp(seg[0], "identities") != 0 || n < 3 || (op = route_op(&k, seg, n)) == NULL)
        return refuse(&k, 404, "not-found", "", "no import resource at this path");
    if (!post)
        return refuse(&k, 405, "method-not-allowed", "", "use POST for this operation");
    if (!sks_identity_name_ok(k.identity))
        return refuse(
            &k, 400, "invalid-identity", "identity",
            "identity \"%.64s\" must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit",
            k.identity);
    if (n == 5 && !parse_version(seg[3], &k.version))
        return refuse(&k, 400, "invalid-version", "version",
                      "version \"%.16s\" is not a positive number", seg[3]);
    if (!parse_body(&k, body, len, &ret))
        return ret;
    ret = op(&k);
    json_decref(k.body);
    return ret;
}
