/*
 * Test helper for the key store tests: issues an SP certificate from a test
 * PKI (sksctl pki) that breaks one rule, so that the shell tests can check
 * that sksctl import names that rule.
 *
 *   keystore_mkcert --ca DIR --key KEY.pem --spc SPC --out CERT.pem [CASE]
 *
 * DIR holds ca.pem and ca.key; KEY.pem is the private or public key the
 * certificate is for.  CASE is one of:
 *   --no-tnauthlist   no TNAuthList extension
 *   --two-spcs        a TNAuthList with two SPCs
 *   --tn              a TNAuthList with a telephone number instead of an SPC
 *   --expired         notAfter a day ago
 *   --not-yet-valid   notBefore a day ahead
 *   --expires-in DAYS valid, expiring in DAYS days
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "testpki/testpki.h"

static void *read_pem(const char *dir, const char *name, int key)
{
    char path[4096];
    FILE *f;
    void *v;

    if (dir != NULL)
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    else
        snprintf(path, sizeof(path), "%s", name);
    if ((f = fopen(path, "r")) == NULL) {
        perror(path);
        return NULL;
    }
    v = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
            : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    if (v == NULL && key) {
        rewind(f);
        v = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (v == NULL)
        fprintf(stderr, "keystore_mkcert: %s does not decode\n", path);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ca", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"spc", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"no-tnauthlist", no_argument, NULL, 'n'},
        {"two-spcs", no_argument, NULL, '2'},
        {"tn", no_argument, NULL, 't'},
        {"expired", no_argument, NULL, 'e'},
        {"not-yet-valid", no_argument, NULL, 'y'},
        {"expires-in", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *ca_dir = NULL, *key_path = NULL, *spc = NULL, *out = NULL;
    struct sks_tn_entry two[2] = {{SKS_TN_SPC, NULL, 0}, {SKS_TN_SPC, "9999", 0}};
    struct sks_tn_entry tn = {SKS_TN_ONE, "12155550100", 0};
    struct sks_testpki_ee_opts o = {0};
    time_t now = time(NULL);
    struct sks_error err;
    EVP_PKEY *ca_key, *key;
    X509 *ca, *cert = NULL;
    FILE *f;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ca_dir = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 's':
            spc = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'n':
            o.flags |= SKS_TESTPKI_EE_NO_TNAUTHLIST;
            break;
        case '2':
            o.tnauthlist = two;
            o.tnauthlist_len = 2;
            break;
        case 't':
            o.tnauthlist = &tn;
            o.tnauthlist_len = 1;
            break;
        case 'e':
            o.not_before = now - 30 * 86400L;
            o.not_after = now - 86400L;
            break;
        case 'y':
            o.not_before = now + 86400L;
            o.not_after = now + 30 * 86400L;
            break;
        case 'd':
            o.not_after = now + atol(optarg) * 86400L;
            break;
        default:
            return 2;
        }
    }
    if (ca_dir == NULL || key_path == NULL || spc == NULL || out == NULL) {
        fprintf(stderr, "usage: keystore_mkcert --ca DIR --key KEY --spc SPC --out FILE [CASE]\n");
        return 2;
    }
    two[0].value = spc;
    ca = read_pem(ca_dir, "ca.pem", 0);
    ca_key = read_pem(ca_dir, "ca.key", 1);
    key = read_pem(NULL, key_path, 1);
    if (ca == NULL || ca_key == NULL || key == NULL)
        return 1;
    if (sks_testpki_issue_ee(ca, ca_key, key, spc, now, 365, &o, &cert, &err) != SKS_OK) {
        fprintf(stderr, "keystore_mkcert: %s\n", err.msg);
        return 1;
    }
    if ((f = fopen(out, "w")) == NULL || PEM_write_X509(f, cert) != 1 || fclose(f) != 0) {
        perror(out);
        return 1;
    }
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return 0;
}
