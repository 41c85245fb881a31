/*
 * Verification of an Identity header: the JWS header, the claims, iat
 * freshness, the credential and the ES256 signature, each failure mapped to
 * its SIP response (see verify.h).
 *
 * Cheap structural checks run before the freshness check, and the
 * certificate and signature checks last, so that malformed input costs no
 * public-key operation.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <jansson.h>

#include "shaken/b64url.h"
#include "verify/rcd.h"
#include "verify/verify.h"
#include "verify/x5u.h"

#define QUOTE_MAX 64

void sks_verify_opts_init(struct sks_verify_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_age = SKS_VERIFY_MAX_AGE_DEFAULT;
}

/* Records the SIP response for a failure and returns |status|. */
static sks_status reject(int *sip, int code, struct sks_error *err, sks_status status,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static sks_status reject(int *sip, int code, struct sks_error *err, sks_status status,
                         const char *fmt, ...)
{
    va_list ap;

    *sip = code;
    va_start(ap, fmt);
    sks_vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

/* Decodes one base64url part of the JWS into |out| (of SKS_IDENTITY_MAX bytes). */
static sks_status decode_part(const char *what, const char *b64, size_t len, unsigned char *out,
                              size_t *outlen, int *sip, struct sks_error *err)
{
    if (b64url_decode(b64, len, out, outlen) != 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT %s is not valid base64url without padding (RFC 7515 "
                      "section 2)",
                      what);
    return SKS_OK;
}

/* A string member of the JWS header; NULL (with the failure) if absent. */
static const char *header_string(const json_t *hdr, const char *name, int *sip,
                                 struct sks_error *err)
{
    const json_t *v = json_object_get(hdr, name);

    if (v == NULL) {
        reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
               "the PASSporT header has no %s (RFC 8225 section 5)", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
               "the PASSporT header's %s is not a string", name);
        return NULL;
    }
    return json_string_value(v);
}

static sks_status check_header_fields(const json_t *hdr, const struct sks_identity *id, int *sip,
                                      struct sks_error *err)
{
    const char *alg, *typ, *ppt, *x5u;
    char q[QUOTE_MAX], q2[QUOTE_MAX];

    if ((alg = header_string(hdr, "alg", sip, err)) == NULL)
        return SKS_ERR_INPUT;
    /* RFC 8588: ES256 only.  "none", HS256 and RS256 are refused here. */
    if (strcmp(alg, "ES256") != 0)
        return reject(sip, SKS_SIP_UNSUPPORTED_CREDENTIAL, err, SKS_ERR_POLICY,
                      "the PASSporT alg \"%s\" is not supported; SHAKEN uses ES256 (RFC 8588)",
                      sks_printable(alg, q, sizeof(q)));
    if ((ppt = header_string(hdr, "ppt", sip, err)) == NULL)
        return SKS_ERR_INPUT;
    if (strcmp(ppt, sks_ppt_name(id->ppt)) != 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT ppt \"%s\" differs from the Identity header's ppt=%s",
                      sks_printable(ppt, q, sizeof(q)), sks_ppt_name(id->ppt));
    if ((typ = header_string(hdr, "typ", sip, err)) == NULL)
        return SKS_ERR_INPUT;
    if (strcmp(typ, "passport") != 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT typ \"%s\" is not \"passport\" (RFC 8225 section 5)",
                      sks_printable(typ, q, sizeof(q)));
    if ((x5u = header_string(hdr, "x5u", sip, err)) == NULL)
        return SKS_ERR_INPUT;
    if (strcmp(x5u, id->info) != 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT x5u \"%s\" differs from the Identity header's info <%s>",
                      sks_printable(x5u, q, sizeof(q)), sks_printable(id->info, q2, sizeof(q2)));
    /* RFC 7515 section 4.1.11: extensions we do not know must be refused. */
    if (json_object_get(hdr, "crit") != NULL)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT header lists critical extensions (crit), which this "
                      "verifier does not support");
    return SKS_OK;
}

static sks_status check_header(const struct sks_identity *id, unsigned char *buf, int *sip,
                               struct sks_error *err)
{
    json_error_t jerr;
    json_t *hdr;
    size_t len;
    sks_status st;

    st = decode_part("header", id->header_b64, id->header_b64_len, buf, &len, sip, err);
    if (st != SKS_OK)
        return st;
    hdr = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (hdr == NULL || !json_is_object(hdr)) {
        json_decref(hdr);
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT header is not a JSON object: %s",
                      hdr == NULL ? jerr.text : "another JSON value");
    }
    st = check_header_fields(hdr, id, sip, err);
    json_decref(hdr);
    return st;
}

static sks_status read_claims(const struct sks_identity *id, unsigned char *buf,
                              struct sks_passport *pp, int *sip, struct sks_error *err)
{
    size_t len;
    sks_status st;

    st = decode_part("claims", id->claims_b64, id->claims_b64_len, buf, &len, sip, err);
    if (st != SKS_OK)
        return st;
    memset(pp, 0, sizeof(*pp));
    pp->ppt = id->ppt;
    memcpy(pp->x5u, id->info, sizeof(pp->x5u));
    if (sks_passport_claims_from_json(pp, (const char *)buf, len, SKS_CLAIMS_RECEIVED, err) !=
        SKS_OK) {
        *sip = SKS_SIP_INVALID_IDENTITY_HEADER;
        sks_error_prefix(err, "the PASSporT claims are invalid");
        return SKS_ERR_INPUT;
    }
    return SKS_OK;
}

static sks_status read_signature(const struct sks_identity *id, unsigned char *buf,
                                 unsigned char sig[SKS_ES256_SIG_LEN], int *sip,
                                 struct sks_error *err)
{
    size_t len;
    sks_status st;

    /* Checked here, after the header, so that alg "none" is named as the problem. */
    if (id->sig_b64_len == 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT has no signature");
    st = decode_part("signature", id->sig_b64, id->sig_b64_len, buf, &len, sip, err);
    if (st != SKS_OK)
        return st;
    if (len == SKS_ES256_SIG_LEN) {
        memcpy(sig, buf, SKS_ES256_SIG_LEN);
        return SKS_OK;
    }
    /* The classic interop bug: a signer's DER output put in the JWS as is. */
    if (len >= 8 && buf[0] == 0x30 && buf[1] == len - 2)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                      "the PASSporT signature is a %zu-byte DER ECDSA signature; ES256 in a JWS "
                      "is the 64-byte r || s (RFC 7518 section 3.4)",
                      len);
    return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_INPUT,
                  "the PASSporT signature is %zu bytes; ES256 is 64 bytes, r || s "
                  "(RFC 7518 section 3.4)",
                  len);
}

static sks_status check_fresh(long long iat, time_t now, long max_age, int *sip,
                              struct sks_error *err)
{
    long long age = (long long)now - iat;

    if (age > max_age)
        return reject(sip, SKS_SIP_STALE_DATE, err, SKS_ERR_POLICY,
                      "the PASSporT iat %lld is %lld seconds old; at most %ld are accepted", iat,
                      age, max_age);
    if (-age > max_age)
        return reject(sip, SKS_SIP_STALE_DATE, err, SKS_ERR_POLICY,
                      "the PASSporT iat %lld is %lld seconds in the future; at most %ld are "
                      "accepted (is a clock wrong?)",
                      iat, -age, max_age);
    return SKS_OK;
}

/*
 * The call's From and To against orig and dest: a PASSporT lifted from
 * another call verifies, but not for this one (RFC 8224 section 6.2.1).
 */
static sks_status check_call(const struct sks_verify_opts *opts, const struct sks_passport *pp,
                             int *sip, struct sks_error *err)
{
    size_t i;
    unsigned int k;

    if (opts->call_orig != NULL && strcmp(opts->call_orig, pp->orig) != 0)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_POLICY,
                      "the PASSporT orig %s is not the call's originating TN %s", pp->orig,
                      opts->call_orig);
    for (i = 0; i < opts->ncall_dest; i++) {
        for (k = 0; k < pp->ndest; k++) {
            if (strcmp(opts->call_dest[i], pp->dest[k]) == 0)
                break;
        }
        if (k == pp->ndest)
            return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_POLICY,
                          "the call's destination TN %s is not among the PASSporT's dest",
                          opts->call_dest[i]);
    }
    return SKS_OK;
}

sks_status sks_verify_cert(X509 *cert, STACK_OF(X509) * chain, X509_STORE *roots,
                           STACK_OF(X509_CRL) * crls, time_t now,
                           struct sks_verify_credential *cred, int *sip, struct sks_error *err)
{
    struct sks_profile_result prof;

    if (roots != NULL) {
        memset(&prof, 0, sizeof(prof));
        if (sks_profile_check_crls(cert, chain, roots, crls, now, &prof, err) != SKS_OK) {
            *sip = SKS_SIP_UNSUPPORTED_CREDENTIAL;
            sks_error_prefix(err, "the certificate is not acceptable");
            return err->status;
        }
        cred->chain_checked = true;
        memcpy(cred->spc, prof.spc, sizeof(cred->spc));
    }
    cred->key = X509_get0_pubkey(cert);
    if (cred->key == NULL)
        return reject(sip, SKS_SIP_UNSUPPORTED_CREDENTIAL, err, SKS_ERR_INPUT,
                      "the certificate's public key cannot be read");
    return SKS_OK;
}

/* The key that must have signed: the certificate's, once it passed its checks. */
static sks_status credential_key(const struct sks_verify_opts *opts, time_t now,
                                 struct sks_verify_result *res, struct sks_verify_credential *cred,
                                 int *sip, struct sks_error *err)
{
    sks_status st;

    if (opts->pubkey != NULL) {
        cred->key = opts->pubkey;
        return SKS_OK;
    }
    if (opts->cert != NULL)
        st = sks_verify_cert(opts->cert, opts->chain, opts->roots, NULL, now, cred, sip, err);
    else
        st = opts->source->lookup(opts->source->ctx, res->passport.x5u, now, cred, sip, err);
    if (st == SKS_OK && cred->chain_checked) {
        res->chain_checked = true;
        memcpy(res->spc, cred->spc, sizeof(res->spc));
    }
    return st;
}

static sks_status check_signature(const struct sks_identity *id, EVP_PKEY *key,
                                  const unsigned char sig[SKS_ES256_SIG_LEN], bool from_cert,
                                  int *sip, struct sks_error *err)
{
    sks_status st;

    st = sks_es256_verify(key, (const unsigned char *)id->header_b64, id->signing_input_len, sig,
                          err);
    if (st == SKS_ERR_VERIFY)
        return reject(sip, SKS_SIP_INVALID_IDENTITY_HEADER, err, SKS_ERR_VERIFY,
                      "the PASSporT signature does not verify with %s",
                      from_cert ? "the certificate's public key" : "the public key given");
    if (st == SKS_ERR_INPUT)
        *sip = SKS_SIP_UNSUPPORTED_CREDENTIAL;
    else if (st != SKS_OK)
        *sip = SKS_SIP_SERVER_ERROR;
    return st;
}

/* Rich Call Data, once the PASSporT that carries it is known to be genuine. */
static void judge_rcd(const struct sks_verify_opts *opts, struct sks_verify_result *res)
{
    sks_status st;

    if (res->passport.rcd[0] == '\0')
        return;
    if (opts->rcd_digest == NULL) {
        res->rcd = SKS_RCD_UNCHECKED;
        sks_fail_field(&res->rcd_err, SKS_ERR_UNAVAILABLE, "rcd-unchecked", "rcdi",
                       "Rich Call Data was not checked: this verifier fetches no content");
        return;
    }
    st = sks_rcdi_check(&res->passport, opts->rcd_digest, opts->rcd_ctx, &res->rcd_err);
    if (st == SKS_OK)
        res->rcd = SKS_RCD_VERIFIED;
    else if (res->rcd_err.code != NULL && strcmp(res->rcd_err.code, "rcd-unprotected") == 0)
        res->rcd = SKS_RCD_UNPROTECTED;
    else
        res->rcd = SKS_RCD_FAILED;
}

const char *sks_rcd_verdict_name(enum sks_rcd_verdict v)
{
    static const char *const names[] = {"none", "verified", "unprotected", "unchecked", "failed"};

    return (unsigned int)v < sizeof(names) / sizeof(names[0]) ? names[v] : "failed";
}

bool sks_verify_needs_fetch(const struct sks_verify_result *res, const struct sks_error *err)
{
    return sks_x5u_needs_fetch(err) || (res->rcd == SKS_RCD_FAILED && res->rcd_err.code != NULL &&
                                        strcmp(res->rcd_err.code, SKS_RCD_NOT_CACHED) == 0);
}

static sks_status verify(const char *hdr, size_t len, const struct sks_verify_opts *opts,
                         struct sks_verify_result *res, int *sip, struct sks_error *err)
{
    /* Every decoded part is shorter than the header it came from. */
    unsigned char buf[SKS_IDENTITY_MAX];
    unsigned char sig[SKS_ES256_SIG_LEN];
    struct sks_verify_credential cred = {0};
    struct sks_identity id;
    time_t now = opts->now != 0 ? opts->now : time(NULL);
    sks_status st;

    if (opts->cert == NULL && opts->pubkey == NULL && opts->source == NULL)
        return reject(sip, SKS_SIP_SERVER_ERROR, err, SKS_ERR_INPUT,
                      "no certificate or public key to verify the PASSporT with");
    if ((st = sks_identity_parse(hdr, len, &id, sip, err)) != SKS_OK ||
        (st = check_header(&id, buf, sip, err)) != SKS_OK ||
        (st = read_claims(&id, buf, &res->passport, sip, err)) != SKS_OK ||
        (st = read_signature(&id, buf, sig, sip, err)) != SKS_OK ||
        (st = check_fresh(res->passport.iat, now, opts->max_age, sip, err)) != SKS_OK ||
        (st = check_call(opts, &res->passport, sip, err)) != SKS_OK ||
        (st = credential_key(opts, now, res, &cred, sip, err)) != SKS_OK)
        return st;
    st = check_signature(&id, cred.key, sig, opts->pubkey == NULL, sip, err);
    if (cred.ref != NULL)
        opts->source->release(opts->source->ctx, &cred);
    if (st != SKS_OK)
        return st;
    *sip = SKS_SIP_OK;
    judge_rcd(opts, res);
    return SKS_OK;
}

sks_status sks_identity_peek(const char *hdr, size_t len, struct sks_passport *pp, int *sip,
                             struct sks_error *err)
{
    unsigned char buf[SKS_IDENTITY_MAX];
    struct sks_identity id;
    sks_status st;

    *sip = SKS_SIP_SERVER_ERROR;
    if ((st = sks_identity_parse(hdr, len, &id, sip, err)) != SKS_OK ||
        (st = check_header(&id, buf, sip, err)) != SKS_OK ||
        (st = read_claims(&id, buf, pp, sip, err)) != SKS_OK)
        return st;
    *sip = SKS_SIP_OK;
    return SKS_OK;
}

const char *sks_verstat(int sip_code)
{
    switch (sip_code) {
    case SKS_SIP_OK:
        return "TN-Validation-Passed";
    case SKS_SIP_STALE_DATE:
    case SKS_SIP_UNSUPPORTED_CREDENTIAL:
    case SKS_SIP_INVALID_IDENTITY_HEADER:
        return "TN-Validation-Failed";
    default:
        return "No-TN-Validation";
    }
}

sks_status sks_identity_verify(const char *hdr, size_t len, const struct sks_verify_opts *opts,
                               struct sks_verify_result *res, struct sks_error *err)
{
    int sip = SKS_SIP_SERVER_ERROR;
    sks_status st;

    memset(res, 0, sizeof(*res));
    st = verify(hdr, len, opts, res, &sip, err);
    res->sip_code = sip;
    res->sip_reason = sks_sip_reason(sip);
    if (st != SKS_OK)
        memset(&res->passport, 0, sizeof(res->passport));
    return st;
}
