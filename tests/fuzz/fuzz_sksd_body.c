/*
 * libFuzzer target: request bodies of sksd's signing API, and the JSON to
 * claims path of the PASSporT library behind it.
 *
 *   1. sksd_sign_request() (sksd/signing.c), the daemon's own parsing
 *      of a signingRequest and its judgement by sks_passport_check_claims().
 *      The daemon here has no key store and no identity: a request that
 *      passes every check ends at "no identity signs" (404), one that does
 *      not must be a 400 with a stable code.  A 500, or any other status, is a bug: bad input is
 * the client's fault, and nothing but the token can fail after it.
 *   2. sks_passport_claims_from_json() (shaken/passport_claims.c) in both modes
 *      and for both PASSporT types, on the input and, for a request sksd
 *      took, on its signingRequest object.  Claims that are complete are
 *      signed with the RFC 8225 A.1 key (sks_es256_sign_evp) and the
 *      Identity header verified again: every claim must come back as it was
 *      signed.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>

#include "shaken/passport.h"
#include "sksd/sksd.h"
#include "verify/verify.h"
#include "tests/fuzz/fuzz_a1_key.h"

#define FUZZ_X5U "https://cert.example.org/fuzz.pem"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *a1_key;
static struct sksd sksd;
static struct sksd_conf conf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    a1_key = fuzz_a1_private_key();
    /* No default identity and no TN prefix: a valid request finds no signer. */
    pthread_rwlock_init(&sksd.conf_lock, NULL);
    sksd.conf = &conf;
    return 0;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_sksd_body: %s: %s\n", what, detail);
    abort();
}

static bool same_claims(const struct sks_passport *a, const struct sks_passport *b)
{
    unsigned int i;

    if (a->ppt != b->ppt || a->ndest != b->ndest || a->iat != b->iat ||
        strcmp(a->x5u, b->x5u) != 0 || strcmp(a->orig, b->orig) != 0)
        return false;
    for (i = 0; i < a->ndest; i++) {
        if (strcmp(a->dest[i], b->dest[i]) != 0)
            return false;
    }
    if (a->ppt == SKS_PPT_DIV)
        return strcmp(a->div, b->div) == 0;
    return a->attest == b->attest && strcmp(a->origid, b->origid) == 0;
}

/* Complete claims: sign them, verify the Identity header, compare what comes back. */
static void sign_and_verify(struct sks_passport *pp)
{
    char hdr[SKS_IDENTITY_MAX];
    struct sks_verify_result res;
    struct sks_verify_opts opts;
    struct sks_error err;
    size_t len = 0;

    if (sks_passport_check_claims(pp, &err) != SKS_OK)
        return;
    if (sks_passport_set_x5u(pp, FUZZ_X5U, &err) != SKS_OK ||
        sks_passport_sign(pp, sks_es256_sign_evp, a1_key, hdr, sizeof(hdr), &len, &err) != SKS_OK)
        die("complete claims could not be signed", err.msg);
    sks_verify_opts_init(&opts);
    opts.pubkey = a1_key;
    /* now = 0 would mean the current time: iat 0 is checked at 1, well inside the window. */
    opts.now = pp->iat > 0 ? (time_t)pp->iat : 1;
    if (sks_identity_verify(hdr, len, &opts, &res, &err) != SKS_OK)
        die("a PASSporT just signed does not verify", err.msg);
    if (!same_claims(pp, &res.passport))
        die("the claims verified differ from the claims signed", hdr);
}

static void claims(const char *json, size_t len)
{
    static const enum sks_ppt ppts[] = {SKS_PPT_SHAKEN, SKS_PPT_DIV};
    static const enum sks_claims_mode modes[] = {SKS_CLAIMS_TO_SIGN, SKS_CLAIMS_RECEIVED};
    struct sks_passport pp;
    struct sks_error err;
    size_t i, j;

    for (i = 0; i < 2; i++) {
        for (j = 0; j < 2; j++) {
            sks_error_clear(&err);
            if (sks_passport_init(&pp, ppts[i], &err) != SKS_OK)
                die("sks_passport_init failed", err.msg);
            if (sks_passport_claims_from_json(&pp, json, len, modes[j], &err) == SKS_OK)
                sign_and_verify(&pp);
            else if (err.msg[0] == '\0')
                die("a refusal without a message", json);
        }
    }
}

/* The signingRequest of a body sksd took, as its own JSON text. */
static void claims_of_request(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    char *text = json_dumps(json_object_get(root, "signingRequest"), JSON_COMPACT);

    if (text != NULL)
        claims(text, strlen(text));
    free(text);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sksd_sign_result res;
    char *extra = NULL;
    const char *body = (const char *)data;
    unsigned int http;

    if (size > 64 * 1024)
        return 0;
    /* The body is not NUL-terminated: the daemon's buffers are not either. */
    sksd_sign_request(&sksd, body, size, NULL, &extra, &res);
    free(extra);
    http = sksd_http_status(res.err.status);
    if (http == 404 && strcmp(sks_error_code(&res.err), "unknown-identity") == 0) {
        claims_of_request(body, size);
    } else if (http != 400 || res.err.code == NULL || res.err.msg[0] == '\0') {
        char status[64];

        snprintf(status, sizeof(status), "status %u code %s", http, sks_error_code(&res.err));
        die("a request body was neither taken nor refused with 400", status);
    }
    claims(body, size);
    ERR_clear_error();
    return 0;
}
