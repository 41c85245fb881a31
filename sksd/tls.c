/*
 * TLS credentials of the import listener: its certificate, its key and the
 * CA that issues SP-KMS client certificates, read into memory for GnuTLS
 * (libmicrohttpd takes them as PEM text).  The key is cleansed once the
 * daemon has its copy.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/file.h"
#include "sksd/sksd.h"

/* The TLS key is read into memory for GnuTLS and cleansed once it has its copy. */
static sks_status read_pem(const char *path, char **out, size_t *len, struct sks_error *err)
{
    unsigned char *data = NULL;
    sks_status st = sks_file_read(path, 1024 * 1024, &data, len, err);

    if (st == SKS_OK)
        *out = (char *)data;
    return st;
}

sks_status sksd_tls_read(const struct sksd_conf *conf, struct sksd_tls_files *out,
                         struct sks_error *err)
{
    sks_status st;

    memset(out, 0, sizeof(*out));
    if ((st = read_pem(conf->tls_cert, &out->cert, &out->cert_len, err)) != SKS_OK ||
        (st = read_pem(conf->tls_key, &out->key, &out->key_len, err)) != SKS_OK ||
        (st = read_pem(conf->tls_client_ca, &out->ca, &out->ca_len, err)) != SKS_OK)
        sksd_tls_free(out);
    return st;
}

void sksd_tls_free(struct sksd_tls_files *f)
{
    OPENSSL_clear_free(f->key, f->key_len);
    OPENSSL_free(f->cert);
    OPENSSL_free(f->ca);
    memset(f, 0, sizeof(*f));
}
