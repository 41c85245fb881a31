/*
 * TLS credentials of the import listener: its certificate, its key and the
 * CA that issues SP-KMS client certificates, read into memory for GnuTLS
 * (libmicrohttpd takes them as PEM text).  The key is cleansed once the
 * daemon has its copy.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sksd/sksd.h"

/* The TLS key is read into memory for GnuTLS and cleansed once it has its copy. */
static sks_status read_pem(const char *path, char **out, size_t *len, struct sks_error *err)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "cannot read %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 1024 * 1024 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = calloc(1, (size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return sks_fail(err, SKS_ERR_INPUT, "cannot read %s (a PEM file of at most 1 MiB)", path);
    }
    fclose(f);
    *out = buf;
    *len = (size_t)n;
    return SKS_OK;
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
    if (f->key != NULL)
        OPENSSL_cleanse(f->key, f->key_len);
    free(f->key);
    free(f->cert);
    free(f->ca);
    memset(f, 0, sizeof(*f));
}
