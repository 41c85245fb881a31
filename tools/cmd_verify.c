/* sksctl verify: verifies a SIP Identity header and says why it fails. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "verify/verify.h"
#include "tools/sksctl.h"

/* Far above SKS_IDENTITY_MAX, so that the verifier reports an oversized header itself. */
#define STDIN_MAX (1024 * 1024)
#define PEM_FILE_MAX (1024 * 1024)

struct verify_args {
    const char *cert, *pubkey, *trust, *max_age, *now, *identity;
};

static int usage(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl verify (--cert FILE [--trust FILE] | --pubkey FILE)\n"
            "                     [--max-age SECONDS] [--now SECONDS] [IDENTITY]\n"
            "\n"
            "Verifies a SIP Identity header value (RFC 8224) with a SHAKEN or div\n"
            "PASSporT, given as IDENTITY or on stdin.  sksctl never fetches x5u: give\n"
            "the certificate it names.\n"
            "\n"
            "  --cert FILE      PEM certificates: the signer's first, then intermediates\n"
            "  --trust FILE     PEM STI-PA root certificates; the signer's certificate is\n"
            "                   then checked against the SHAKEN profile and chained to them\n"
            "  --pubkey FILE    a PEM public key instead of a certificate\n"
            "  --max-age N      how far iat may lie from now, in seconds (default %d)\n"
            "  --now SECONDS    verify as of this time (seconds since 1970)\n"
            "\n"
            "Exit status 0 when the header verifies.  Otherwise the SIP response is\n"
            "printed (403 Stale Date, 428 Use Identity Header, 436 Bad Identity Info,\n"
            "437 Unsupported Credential, 438 Invalid Identity Header) with the reason,\n"
            "and the status is 2 for malformed input, 7 for a policy failure (stale\n"
            "iat, unsupported algorithm, unacceptable certificate), 8 for a signature\n"
            "that does not verify; 1 is a usage error.\n",
            SKS_VERIFY_MAX_AGE_DEFAULT);
    return status;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "sksctl verify: %s (see sksctl verify --help)\n", msg);
    return SKSCTL_EXIT_USAGE;
}

static sks_status parse_seconds(const char *opt, const char *s, long long *out,
                                struct sks_error *err)
{
    if (sks_seconds_parse(s, out, err) != SKS_OK) {
        sks_error_prefix(err, "%s", opt);
        return SKS_ERR_INPUT;
    }
    return SKS_OK;
}

static sks_status read_stdin(char **data, size_t *len, struct sks_error *err)
{
    char *buf = malloc(STDIN_MAX + 1);
    size_t n;

    if (buf == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    n = fread(buf, 1, STDIN_MAX + 1, stdin);
    if (ferror(stdin) || n > STDIN_MAX) {
        free(buf);
        return sks_fail(err, SKS_ERR_INPUT, "%s",
                        n > STDIN_MAX ? "stdin holds more than 1 MiB; an Identity header is "
                                        "at most 8 KiB"
                                      : "cannot read stdin");
    }
    *data = buf;
    *len = n;
    return SKS_OK;
}

static BIO *open_pem(const char *path, struct sks_error *err)
{
    unsigned char *data;
    size_t len;
    BIO *bio;

    if (cli_read_file(path, PEM_FILE_MAX, &data, &len, err) != SKS_OK)
        return NULL;
    /* The memory BIO reads a copy, so the file buffer can go at once. */
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || BIO_write(bio, data, (int)len) != (int)len) {
        BIO_free(bio);
        bio = NULL;
        sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", path);
    }
    OPENSSL_free(data);
    return bio;
}

/* The signer's certificate and the intermediates after it. */
static sks_status load_certs(const char *path, X509 **ee, STACK_OF(X509) **chain,
                             struct sks_error *err)
{
    sks_status st = cli_load_certs(path, false, chain, err);

    if (st == SKS_OK)
        *ee = sk_X509_shift(*chain);
    return st;
}

static sks_status load_pubkey(const char *path, EVP_PKEY **pub, struct sks_error *err)
{
    BIO *bio = open_pem(path, err);

    if (bio == NULL)
        return err->status;
    *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (*pub == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "%s holds no PEM public key", path);
    return SKS_OK;
}


static void print_result(const struct sks_verify_result *res, bool with_cert)
{
    const struct sks_passport *pp = &res->passport;
    unsigned int i;

    printf("verified: %d %s\nppt: %s\n", res->sip_code, res->sip_reason, sks_ppt_name(pp->ppt));
    if (pp->ppt == SKS_PPT_SHAKEN)
        printf("attest: %c\norigid: %s\n", pp->attest, pp->origid);
    else
        printf("div: %s\n", pp->div);
    printf("orig: %s\ndest: ", pp->orig);
    for (i = 0; i < pp->ndest; i++)
        printf("%s%s", i > 0 ? "," : "", pp->dest[i]);
    printf("\niat: %lld\nx5u: %s\n", pp->iat, pp->x5u);
    if (res->chain_checked)
        printf("certificate: SPC %s, SHAKEN profile and chain to the trust roots checked\n",
               res->spc);
    else if (with_cert)
        printf("certificate: signature key only; no --trust, so not checked against the "
               "SHAKEN profile or any root\n");
    else
        printf("certificate: none; the signature was checked with --pubkey\n");
}

static sks_status set_up(const struct verify_args *a, struct sks_verify_opts *o,
                         struct sks_error *err)
{
    long long v;

    sks_verify_opts_init(o);
    if (a->max_age != NULL) {
        if (parse_seconds("--max-age", a->max_age, &v, err) != SKS_OK)
            return SKS_ERR_INPUT;
        o->max_age = (long)v;
    }
    if (a->now != NULL) {
        if (parse_seconds("--now", a->now, &v, err) != SKS_OK)
            return SKS_ERR_INPUT;
        o->now = (time_t)v;
    }
    if (a->cert != NULL && load_certs(a->cert, &o->cert, &o->chain, err) != SKS_OK)
        return err->status;
    if (a->pubkey != NULL && load_pubkey(a->pubkey, &o->pubkey, err) != SKS_OK)
        return err->status;
    if (a->trust != NULL && cli_load_roots(a->trust, &o->roots, err) != SKS_OK)
        return err->status;
    return SKS_OK;
}

static void tear_down(struct sks_verify_opts *o)
{
    X509_free(o->cert);
    sk_X509_pop_free(o->chain, X509_free);
    EVP_PKEY_free(o->pubkey);
    X509_STORE_free(o->roots);
}

static int run(const struct verify_args *a)
{
    struct sks_verify_opts o = {0};
    struct sks_verify_result res;
    struct sks_error err;
    char *stdin_data = NULL;
    const char *hdr = a->identity;
    size_t len = hdr != NULL ? strlen(hdr) : 0;
    int rc;

    sks_error_clear(&err);
    if (set_up(a, &o, &err) != SKS_OK) {
        rc = cli_report("verify", &err);
        goto done;
    }
    if (hdr == NULL) {
        if (read_stdin(&stdin_data, &len, &err) != SKS_OK) {
            rc = cli_report("verify", &err);
            goto done;
        }
        hdr = stdin_data;
    }
    if (sks_identity_verify(hdr, len, &o, &res, &err) != SKS_OK) {
        sks_error_prefix(&err, "%d %s", res.sip_code, res.sip_reason);
        rc = cli_report("verify", &err);
        goto done;
    }
    print_result(&res, o.cert != NULL);
    rc = 0;
done:
    free(stdin_data);
    tear_down(&o);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"trust", required_argument, NULL, 't'},
        {"pubkey", required_argument, NULL, 'p'},
        {"max-age", required_argument, NULL, 'm'},
        {"now", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct verify_args a = {0};
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a.cert = optarg;
            break;
        case 't':
            a.trust = optarg;
            break;
        case 'p':
            a.pubkey = optarg;
            break;
        case 'm':
            a.max_age = optarg;
            break;
        case 'n':
            a.now = optarg;
            break;
        case 'h':
            return usage(stdout, 0);
        default:
            return usage(stderr, SKSCTL_EXIT_USAGE);
        }
    }
    if (argc - optind > 1)
        return usage_error("give at most one Identity header");
    a.identity = optind < argc ? argv[optind] : NULL;
    if ((a.cert == NULL) == (a.pubkey == NULL))
        return usage_error("give --cert or --pubkey (one of them): sksctl does not fetch x5u");
    if (a.trust != NULL && a.cert == NULL)
        return usage_error("--trust needs --cert");
    return run(&a);
}
