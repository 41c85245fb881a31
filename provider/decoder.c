/*
 * DECODER for key-reference PEM files (common/keyref.h): the file names a
 * token key by URI, and decoding it opens that key.  This is what lets a
 * stack that reads its key with PEM_read_bio_PrivateKey sign in the HSM by
 * swapping the key file.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/keyref.h"
#include "provider/prov.h"

/* A key-reference file is a URI: anything this large is something else. */
#define INPUT_MAX (64 * 1024)
#define PEM_BEGIN "-----BEGIN " KEYREF_PEM_NAME "-----"

static void *dec_newctx(void *provctx)
{
    return provctx;
}

static void dec_freectx(void *ctx)
{
}

static int dec_does_selection(void *provctx, int selection)
{
    return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

/* Reads at most INPUT_MAX bytes; returns the length, or -1 if larger. */
static long slurp(BIO *in, char *buf)
{
    long len = 0;
    int n;

    while (len < INPUT_MAX && (n = BIO_read(in, buf + len, (int)(INPUT_MAX - len))) > 0)
        len += n;
    if (len == INPUT_MAX && BIO_read(in, buf, 1) > 0)
        return -1;
    buf[len] = '\0';
    return len;
}

/*
 * PEM to DER.  The DER goes on untyped, so that when a file store (which
 * cannot take our key references) read the PEM, OpenSSL hands the DER to a
 * fresh decoder chain where der_decode's reference meets our keymgmt.
 */
static int pem_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *object_cb,
                      void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct prov_ctx *pctx = vctx;
    BIO *in = BIO_new_from_core_bio(pctx->libctx, cin), *mem = NULL;
    char *text = malloc(INPUT_MAX + 1), *name = NULL, *header = NULL, *uri = NULL;
    unsigned char *der = NULL;
    struct prov_key *key = NULL;
    long len = 0;
    int type = OSSL_OBJECT_PKEY;
    struct sks_error err;
    int ret = 1; /* "not ours" lets the next decoder try */

    if (in == NULL || text == NULL)
        goto done;
    len = slurp(in, text);
    if (len < 0 || strstr(text, PEM_BEGIN) == NULL)
        goto done;

    ret = 0;
    ERR_set_mark();
    mem = BIO_new_mem_buf(text, (int)len);
    if (mem == NULL || !PEM_read_bio(mem, &name, &header, &der, &len) ||
        strcmp(name, KEYREF_PEM_NAME) != 0) {
        ERR_pop_to_mark();
        prov_raise(pctx, PROV_R_KEYREF, "malformed key-reference file: bad PEM encoding");
        goto done;
    }
    ERR_pop_to_mark();
    /* Ours by its PEM name: a broken body is an error, not someone else's data. */
    if (keyref_decode(der, (size_t)len, &uri, &err) != SKS_OK) {
        prov_raise_error(pctx, &err);
        goto done;
    }
    /*
     * Open the key here as well as in der_decode: OpenSSL's store result
     * handler drops every error of the inner decoder chain and leaves only
     * "unsupported", while an error from this, the outer, decoder reaches
     * the caller, so that a wrong PIN or a missing token or object is named.
     */
    if (prov_key_open(pctx, uri, &key, &err) != SKS_OK) {
        prov_raise_error(pctx, &err);
        goto done;
    }
    {
        OSSL_PARAM params[] = {
            OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
            OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, der, (size_t)len),
            OSSL_PARAM_END,
        };
        ret = object_cb(params, object_cbarg);
    }
done:
    prov_key_free(key);
    OPENSSL_free(uri);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(mem);
    BIO_free(in);
    free(text);
    return ret;
}

/* Key-reference DER to the token key, passed by reference. */
static int der_decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *object_cb,
                      void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct prov_ctx *pctx = vctx;
    BIO *in = BIO_new_from_core_bio(pctx->libctx, cin);
    char *text = malloc(INPUT_MAX + 1), *uri = NULL;
    struct prov_key *key = NULL;
    struct sks_error err;
    long len;
    int ret = 1;

    if (in == NULL || text == NULL)
        goto done;
    len = slurp(in, text);
    /* Not a key reference at all: someone else's DER. */
    if (len < 0 || !keyref_is_keyref((unsigned char *)text, (size_t)len))
        goto done;
    ret = 0;
    if (keyref_decode((unsigned char *)text, (size_t)len, &uri, &err) != SKS_OK ||
        prov_key_open(pctx, uri, &key, &err) != SKS_OK) {
        prov_raise_error(pctx, &err);
        goto done;
    }
    ret = prov_key_pass(key, object_cb, object_cbarg);
done:
    prov_key_free(key);
    OPENSSL_free(uri);
    BIO_free(in);
    free(text);
    return ret;
}

const OSSL_DISPATCH prov_decoder_pem_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))dec_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode},
    {0, NULL},
};

const OSSL_DISPATCH prov_decoder_der_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))dec_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))dec_freectx},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))dec_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))der_decode},
    {0, NULL},
};
