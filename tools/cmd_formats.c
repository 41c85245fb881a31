/*
 * sksctl's SHAKEN formats: sign makes a SHAKEN or div PASSporT and prints
 * the SIP Identity header, with a token key, a key file or a key store
 * identity; verify checks an Identity header and says why it fails.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "fetch/cache.h"
#include "fetch/fetch.h"
#include "p11/p11.h"
#include "profile/certs.h"
#include "shaken/identity.h"
#include "shaken/passport.h"
#include "shaken/rules.h"
#include "verify/rcd.h"
#include "verify/verify.h"
#include "verify/x5u.h"
#include "keystore/input.h"
#include "keystore/keystore.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

/* ---- sign ------------------------------------------------------------------------------------ */

/*
 * Appends |s| to |buf|, percent-encoded when |encode| (RFC 7512 2.3: query
 * values are RFC 3986 percent-encoded).  False when it does not fit.
 */
static bool append_encoded(char *buf, size_t len, const char *s, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(buf);

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = !encode || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || strchr("-._~/", ch) != NULL;
        if (n + 4 >= len)
            return false;
        if (plain) {
            buf[n++] = (char)ch;
        } else {
            buf[n++] = '%';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        }
    }
    buf[n] = '\0';
    return true;
}

/*
 * "identity:NAME", or a bare NAME that is neither a pkcs11: URI nor a file,
 * names a key store identity.
 */
static bool is_identity_ref(const char *spec)
{
    struct stat sb;

    if (strncmp(spec, "identity:", 9) == 0)
        return true;
    return strncmp(spec, "pkcs11:", 7) != 0 && stat(spec, &sb) != 0 && sks_identity_name_ok(spec);
}

/*
 * Opens the key store the configuration file |config| (NULL: the default)
 * describes and returns the pkcs11: URI of the identity's active key, with
 * module-path and pin-source so that the sks provider finds it, and its x5u
 * (free() both).
 */
static sks_status resolve_identity(const char *spec, const char *config, char **uri, char **x5u,
                                   struct sks_error *err)
{
    struct cli_store_opts o = {.cmd = "sign", .config = config};
    const char *name = strncmp(spec, "identity:", 9) == 0 ? spec + 9 : spec;
    char buf[4096], pin[PATH_MAX];
    struct sks_active *a = NULL;
    struct cli_store s;
    sks_status st;

    st = cli_store_open(&o, false, false, &s, err);
    if (st == SKS_OK)
        st = sks_keystore_active(s.ks, name, 0, &a, err);
    if (st != SKS_OK) {
        sks_error_prefix(err,
                         "--key %s is neither a file nor a pkcs11: URI, and as a key store "
                         "identity",
                         spec);
        cli_store_close(&s);
        return st;
    }
    /* The provider is configured apart from sksctl: the URI says where the token is. */
    snprintf(buf, sizeof(buf), "%s?", p11_key_uri(a->key));
    if (realpath(s.cfg.pin_file, pin) == NULL)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "PIN file %s: %s", s.cfg.pin_file, strerror(errno));
    if (st == SKS_OK && s.cfg.pkcs11_module != NULL &&
        !(append_encoded(buf, sizeof(buf), "module-path=", false) &&
          append_encoded(buf, sizeof(buf), s.cfg.pkcs11_module, true) &&
          append_encoded(buf, sizeof(buf), "&", false)))
        st = sks_fail(err, SKS_ERR_INPUT, "the module path is too long for a URI");
    if (st == SKS_OK && !(append_encoded(buf, sizeof(buf), "pin-source=file:", false) &&
                          append_encoded(buf, sizeof(buf), pin, true)))
        st = sks_fail(err, SKS_ERR_INPUT, "the PIN file path is too long for a URI");
    if (st == SKS_OK && (*uri = strdup(buf)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    if (st == SKS_OK && (*x5u = strdup(a->x5u)) == NULL) {
        free(*uri);
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    sks_active_put(a);
    cli_store_close(&s);
    return st;
}

struct sign_args {
    const char *key, *orig, *dest, *attest, *x5u, *origid, *iat, *div, *config;
    /* Rich Call Data (RFC 9795) */
    const char *ppt, *nam, *apn, *icn, *jcl, *jcd, *rcd, *crn, *fetch_ca;
    bool rcdi, fetch_private;
};

static int usage_sign(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl sign --key KEY --orig TN --dest TN[,TN...] --attest A|B|C\n"
            "                   [--x5u URL] [--origid UUID] [--iat SECONDS] [-c FILE]\n"
            "       sksctl sign --key KEY --orig TN --dest TN[,TN...] --div TN\n"
            "                   [--x5u URL] [--iat SECONDS] [-c FILE]\n"
            "       sksctl sign --key KEY --orig TN --dest TN[,TN...] --ppt rcd\n"
            "                   (--nam TEXT | --rcd FILE) [--x5u URL] [--iat SECONDS]\n"
            "   each also with [--nam TEXT [--apn TN] [--icn URL] [--jcd FILE | --jcl URL]\n"
            "                  | --rcd FILE] [--crn TEXT] [--rcdi]\n"
            "\n"
            "Signs a PASSporT (RFC 8225) with ES256 and prints the SIP Identity header\n"
            "value (RFC 8224): JWS;info=<URL>;alg=ES256;ppt=shaken (or div, rcd).\n"
            "\n"
            "  --key KEY       a pkcs11: URI, a key-reference PEM file, a PEM private key,\n"
            "                  or a key store identity (identity:NAME, or a NAME that is no\n"
            "                  file): its active key, and its x5u unless --x5u is given\n"
            "  -c, --config F  the key store configuration for identities (see sksctl(1))\n"
            "  --orig TN       the calling number; separators and a leading + are dropped\n"
            "  --dest TN,...   the called number(s), at most %d\n"
            "  --attest A|B|C  the SHAKEN attestation level (RFC 8588)\n"
            "  --x5u URL       where verifiers fetch the signing certificate; required\n"
            "                  unless KEY is a key store identity, whose x5u it replaces\n"
            "  --origid UUID   the origination identifier; a random UUID when absent\n"
            "  --iat SECONDS   the issue time, seconds since 1970; now when absent\n"
            "  --div TN        make a div PASSporT (RFC 8946) for a call diverted by TN\n"
            "                  (no --attest or --origid then)\n"
            "\n"
            "Rich Call Data (RFC 9795), in the SHAKEN or div PASSporT, or on its own:\n"
            "  --nam TEXT      the caller's name shown to the called party\n"
            "  --apn TN        an alternate presentation number\n"
            "  --icn URL       the https URL of the caller's icon\n"
            "  --jcd FILE      a jCard (RFC 7095) to carry, JSON\n"
            "  --jcl URL       the https URL of a jCard (not with --jcd)\n"
            "  --rcd FILE      the whole rcd object, JSON, instead of the five above\n"
            "  --crn TEXT      the call reason\n"
            "  --rcdi          add integrity digests (rcdi) of the jCard and of what every\n"
            "                  URL serves, fetched now (https, at most 1 MiB in 5 s,\n"
            "                  public addresses only)\n"
            "  --fetch-ca FILE, --fetch-private  as for sksctl verify --fetch\n"
            "  --ppt rcd       a PASSporT of type rcd: orig, dest, iat and the Rich Call\n"
            "                  Data only (no --attest, --origid or --div)\n",
            SKS_DEST_MAX);
    return status;
}

/* The content a signer's rcdi covers, fetched now as a verifier will fetch it. */
#define RCD_CONTENT_MAX (1024 * 1024)

static sks_status sign_rcdi(const struct sign_args *a, struct sks_passport *pp,
                            struct sks_error *err)
{
    struct sks_fetch_opts fetch;
    struct sks_fetch_cache_opts co;
    struct sks_rcd_content content = {NULL, true};
    sks_status st;

    sks_fetch_opts_init(&fetch);
    fetch.max_bytes = RCD_CONTENT_MAX;
    fetch.ca_file = a->fetch_ca;
    fetch.allow_private = a->fetch_private;
    sks_fetch_cache_opts_init(&co);
    if ((content.cache = sks_rcd_cache_new(&co, &fetch)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    st = sks_rcdi_compute(pp, sks_rcd_content_digest, &content, err);
    sks_fetch_cache_free(content.cache);
    if (st != SKS_OK)
        sks_error_prefix(err, "--rcdi");
    return st;
}

/* --rcd FILE, or the object --nam, --apn, --icn, --jcd and --jcl make. */
static sks_status sign_rcd(const struct sign_args *a, struct sks_passport *pp,
                           struct sks_error *err)
{
    unsigned char *data = NULL;
    json_t *rcd = NULL, *jcd = NULL;
    json_error_t jerr;
    char *text = NULL;
    size_t len;
    sks_status st = SKS_OK;

    if (a->rcd != NULL) {
        if (sks_input_file("--rcd", a->rcd, &data, &len, err) != SKS_OK)
            return err->status;
        st = sks_passport_set_rcd(pp, (const char *)data, len, err);
        goto done;
    }
    if (a->jcd != NULL) {
        if (sks_input_file("--jcd", a->jcd, &data, &len, err) != SKS_OK)
            return err->status;
        if ((jcd = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
            st = sks_fail(err, SKS_ERR_INPUT, "--jcd %s is not JSON: %s (line %d)", a->jcd,
                          jerr.text, jerr.line);
            goto done;
        }
    }
    rcd = json_pack("{s:s}", "nam", a->nam);
    if (rcd == NULL || (a->apn != NULL && json_object_set_new(rcd, "apn", json_string(a->apn))) ||
        (a->icn != NULL && json_object_set_new(rcd, "icn", json_string(a->icn))) ||
        (a->jcl != NULL && json_object_set_new(rcd, "jcl", json_string(a->jcl))) ||
        (jcd != NULL && json_object_set(rcd, "jcd", jcd)) ||
        (text = json_dumps(rcd, JSON_COMPACT)) == NULL) {
        st = sks_fail(err, SKS_ERR_INPUT, "--nam, --apn, --icn and --jcl must be UTF-8 text");
        goto done;
    }
    st = sks_passport_set_rcd(pp, text, strlen(text), err);
done:
    free(text);
    json_decref(rcd);
    json_decref(jcd);
    OPENSSL_clear_free(data, data != NULL ? len : 0);
    return st;
}

static enum sks_ppt sign_ppt(const struct sign_args *a)
{
    if (a->ppt != NULL)
        return SKS_PPT_RCD;
    return a->div != NULL ? SKS_PPT_DIV : SKS_PPT_SHAKEN;
}

static sks_status sign_build(const struct sign_args *a, struct sks_passport *pp,
                             struct sks_error *err)
{
    long long iat;

    if (sks_passport_init(pp, sign_ppt(a), err) != SKS_OK ||
        sks_passport_set_x5u(pp, a->x5u, err) != SKS_OK ||
        sks_passport_set_orig(pp, a->orig, err) != SKS_OK ||
        sks_passport_add_dest_list(pp, a->dest, err) != SKS_OK)
        return err->status;
    if (a->div != NULL && sks_passport_set_div(pp, a->div, err) != SKS_OK)
        return err->status;
    if (a->attest != NULL && sks_passport_set_attest(pp, a->attest, err) != SKS_OK)
        return err->status;
    if (a->origid != NULL && sks_passport_set_origid(pp, a->origid, err) != SKS_OK)
        return err->status;
    if (a->iat != NULL) {
        if (sks_seconds_parse(a->iat, &iat, err) != SKS_OK) {
            sks_error_prefix(err, "--iat");
            return err->status;
        }
        if (sks_passport_set_iat(pp, iat, err) != SKS_OK)
            return err->status;
    }
    if ((a->nam != NULL || a->rcd != NULL) && sign_rcd(a, pp, err) != SKS_OK)
        return err->status;
    if (a->crn != NULL && sks_passport_set_crn(pp, a->crn, err) != SKS_OK)
        return err->status;
    if (a->rcdi && sign_rcdi(a, pp, err) != SKS_OK)
        return err->status;
    return SKS_OK;
}

static int sign_check_args(const struct sign_args *a)
{
    if (a->key == NULL)
        return cli_usage_error("sign", "--key is required");
    if (a->orig == NULL)
        return cli_usage_error("sign", "--orig is required");
    if (a->dest == NULL)
        return cli_usage_error("sign", "--dest is required");
    if (a->x5u == NULL)
        return cli_usage_error("sign", "--x5u is required unless --key names a key store identity");
    if (a->ppt != NULL && strcmp(a->ppt, "rcd") != 0)
        return cli_usage_error("sign", "--ppt takes only rcd: shaken is the default and --div "
                                       "makes a div PASSporT");
    if (a->ppt != NULL && (a->attest != NULL || a->origid != NULL || a->div != NULL))
        return cli_usage_error("sign", "a PASSporT of type rcd (RFC 9795) has no attest, origid "
                                       "or div claim");
    if (a->ppt != NULL && a->nam == NULL && a->rcd == NULL)
        return cli_usage_error("sign", "--ppt rcd needs the Rich Call Data: --nam or --rcd");
    if (a->rcd != NULL &&
        (a->nam != NULL || a->apn != NULL || a->icn != NULL || a->jcl != NULL || a->jcd != NULL))
        return cli_usage_error("sign", "--rcd gives the whole rcd object: drop --nam, --apn, "
                                       "--icn, --jcd and --jcl");
    if (a->rcd == NULL && a->nam == NULL &&
        (a->apn != NULL || a->icn != NULL || a->jcl != NULL || a->jcd != NULL))
        return cli_usage_error("sign", "--apn, --icn, --jcd and --jcl need --nam: rcd always "
                                       "names the caller (RFC 9795)");
    if (a->rcdi && a->nam == NULL && a->rcd == NULL)
        return cli_usage_error("sign", "--rcdi protects Rich Call Data: give --nam or --rcd");
    if (a->ppt == NULL && a->div == NULL && a->attest == NULL)
        return cli_usage_error("sign", "--attest is required for a SHAKEN PASSporT");
    if (a->div != NULL && (a->attest != NULL || a->origid != NULL))
        return cli_usage_error("sign", "a div PASSporT (RFC 8946) has no attest or origid claim; "
                                       "drop --attest and --origid");
    return 0;
}

static int sign_key(const struct sign_args *a)
{
    struct sks_passport pp;
    struct sks_error err;
    char out[SKS_IDENTITY_MAX];
    EVP_PKEY *key = NULL;
    size_t len;
    int rc;

    sks_error_clear(&err);
    rc = sign_check_args(a);
    if (rc != 0)
        return rc;
    /* Claims first: a typo in a TN should not cost a token login. */
    if (sign_build(a, &pp, &err) != SKS_OK)
        return cli_report("sign", &err);
    if (sks_key_load(a->key, &key, &err) != SKS_OK)
        return cli_report("sign", &err);
    if (sks_passport_sign(&pp, sks_es256_sign_evp, key, out, sizeof(out), &len, &err) != SKS_OK) {
        EVP_PKEY_free(key);
        return cli_report("sign", &err);
    }
    EVP_PKEY_free(key);
    printf("%s\n", out);
    if (fflush(stdout) != 0) {
        sks_fail(&err, SKS_ERR_SYSTEM, "cannot write the Identity header to stdout");
        return cli_report("sign", &err);
    }
    return 0;
}

/* --key names a key store identity: sign with its active version, through the provider by URI. */
static int sign_identity(struct sign_args *a)
{
    char *uri = NULL, *x5u = NULL;
    struct sks_error err;
    int rc;

    if (resolve_identity(a->key, a->config, &uri, &x5u, &err) != SKS_OK)
        return cli_report("sign", &err);
    a->key = uri;
    if (a->x5u == NULL)
        a->x5u = x5u;
    rc = sign_key(a);
    free(uri);
    free(x5u);
    return rc;
}

int cmd_sign(int argc, char **argv)
{
    struct sign_args a = {0};
    const struct cli_opt opts[] = {
        CLI_ARG("key", 0, &a.key),
        CLI_ARG("orig", 0, &a.orig),
        CLI_ARG("dest", 0, &a.dest),
        CLI_ARG("attest", 0, &a.attest),
        CLI_ARG("x5u", 0, &a.x5u),
        CLI_ARG("origid", 0, &a.origid),
        CLI_ARG("iat", 0, &a.iat),
        CLI_ARG("div", 0, &a.div),
        CLI_ARG("ppt", 0, &a.ppt),
        CLI_ARG("nam", 0, &a.nam),
        CLI_ARG("apn", 0, &a.apn),
        CLI_ARG("icn", 0, &a.icn),
        CLI_ARG("jcl", 0, &a.jcl),
        CLI_ARG("jcd", 0, &a.jcd),
        CLI_ARG("rcd", 0, &a.rcd),
        CLI_ARG("crn", 0, &a.crn),
        CLI_FLAG("rcdi", &a.rcdi),
        CLI_ARG("fetch-ca", 0, &a.fetch_ca),
        CLI_FLAG("fetch-private", &a.fetch_private),
        CLI_HELP('h'),
        CLI_ARG("config", 'c', &a.config),
        CLI_END,
    };
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_sign, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error("sign", "unexpected argument");
    if (a.key != NULL && is_identity_ref(a.key))
        return sign_identity(&a);
    return sign_key(&a);
}

/* ---- verify ---------------------------------------------------------------------------------- */

/* Far above SKS_IDENTITY_MAX, so that the verifier reports an oversized header itself. */
#define STDIN_MAX (1024 * 1024)

struct verify_args {
    const char *cert, *pubkey, *trust, *max_age, *now;
    char **identities; /* the Identity header values given as arguments */
    size_t nidentities;
    const char *fetch_ca;
    bool fetch, fetch_private, no_crl;
};

static int usage_verify(FILE *f, int status)
{
    fprintf(f,
            "usage: sksctl verify (--cert FILE [--trust FILE] | --pubkey FILE |\n"
            "                      --fetch --trust FILE [--fetch-ca FILE] [--fetch-private]\n"
            "                      [--no-crl])\n"
            "                     [--max-age SECONDS] [--now SECONDS] [IDENTITY...]\n"
            "\n"
            "Verifies a SIP Identity header value (RFC 8224) with a SHAKEN or div\n"
            "PASSporT, given as IDENTITY or on stdin, with the certificate given or,\n"
            "with --fetch, the one its x5u names.  Several values (several IDENTITY\n"
            "arguments, or one per line on stdin) are one call: its shaken PASSporT,\n"
            "a div PASSporT per diversion (RFC 8946) and at most one ppt=rcd PASSporT\n"
            "(RFC 9795), verified each and as a chain (at most %d values).\n"
            "\n"
            "  --cert FILE      PEM certificates: the signer's first, then intermediates\n"
            "  --trust FILE     PEM STI-PA root certificates; the signer's certificate is\n"
            "                   then checked against the SHAKEN profile and chained to them\n"
            "  --pubkey FILE    a PEM public key instead of a certificate\n"
            "  --fetch          fetch the certificates from the x5u (https only, at most\n"
            "                   64 KiB in 5 s, public addresses only); needs --trust\n"
            "  --fetch-ca FILE  PEM roots for the x5u server's TLS certificate (default:\n"
            "                   the system's)\n"
            "  --fetch-private  let --fetch reach loopback and private addresses\n"
            "  --no-crl         with --fetch, do not fetch the CRLs the chain names\n"
            "                   (by default each must be current and must not list its\n"
            "                   certificate)\n"
            "                   With --fetch, Rich Call Data (RFC 9795) is checked too:\n"
            "                   every rcdi digest against what its URL serves (at most\n"
            "                   1 MiB); its verdict is printed apart (rcd-result: verified,\n"
            "                   unprotected, unchecked or failed) and does not change the\n"
            "                   exit status, which is the TN validation's\n"
            "  --max-age N      how far iat may lie from now, in seconds (default %d)\n"
            "  --now SECONDS    verify as of this time (seconds since 1970)\n"
            "\n"
            "Exit status 0 when the header verifies.  Otherwise the SIP response is\n"
            "printed (403 Stale Date, 428 Use Identity Header, 436 Bad Identity Info,\n"
            "437 Unsupported Credential, 438 Invalid Identity Header) with the reason,\n"
            "and the status is 2 for malformed input, 7 for a policy failure (stale\n"
            "iat, unsupported algorithm, unacceptable certificate), 8 for a signature\n"
            "that does not verify; 1 is a usage error.\n",
            SKS_VERIFY_IDENTITIES_MAX, SKS_VERIFY_MAX_AGE_DEFAULT);
    return status;
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
                                        "at most 16 KiB"
                                      : "cannot read stdin");
    }
    *data = buf;
    *len = n;
    return SKS_OK;
}

/*
 * --fetch: the certificates come from the PASSporT's x5u, through the
 * credential source a long-running verifier keeps (verify/x5u.h), asked
 * once the PASSporT passed every check that needs no key.  A fetch that
 * fails is the verifier's 436 Bad Identity Info (RFC 8224 section 6.2.2).
 */
struct fetch_source {
    struct sks_fetch_opts fetch, crl_fetch, content_fetch;
    struct sks_fetch_cache *cache;
    struct sks_fetch_cache *crls;   /* NULL: --no-crl */
    struct sks_rcd_content content; /* what Rich Call Data points at, for rcdi */
    struct sks_x5u_trust trust;
    struct sks_verify_source src;
};

static sks_status fetch_set_up(const struct verify_args *a, struct fetch_source *fs,
                               struct sks_verify_opts *o, struct sks_error *err)
{
    struct sks_fetch_cache_opts co;

    sks_fetch_opts_init(&fs->fetch);
    fs->fetch.ca_file = a->fetch_ca;
    fs->fetch.allow_private = a->fetch_private;
    fs->crl_fetch = fs->fetch;
    fs->crl_fetch.max_bytes = SKS_CRL_MAX_BYTES_DEFAULT;
    sks_fetch_cache_opts_init(&co);
    fs->content_fetch = fs->fetch;
    fs->content_fetch.max_bytes = RCD_CONTENT_MAX;
    fs->content.wait = true;
    if ((fs->cache = sks_x5u_cache_new(&co, &fs->fetch)) == NULL ||
        (!a->no_crl && (fs->crls = sks_crl_cache_new(&co, &fs->crl_fetch)) == NULL) ||
        (fs->content.cache = sks_rcd_cache_new(&co, &fs->content_fetch)) == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    o->rcd_digest = sks_rcd_content_digest;
    o->rcd_ctx = &fs->content;
    sks_x5u_trust_init(&fs->trust, fs->cache, o->roots, fs->crls);
    sks_x5u_source(&fs->src, &fs->trust, true);
    o->source = &fs->src;
    return SKS_OK;
}

/* The signer's certificate and the intermediates after it. */
static sks_status load_certs(const char *path, X509 **ee, STACK_OF(X509) * *chain,
                             struct sks_error *err)
{
    sks_status st = sks_certs_load(path, false, chain, err);

    if (st == SKS_OK)
        *ee = sk_X509_shift(*chain);
    return st;
}

static void print_verified(const struct sks_verify_result *res, bool with_cert)
{
    const struct sks_passport *pp = &res->passport;
    unsigned int i;

    printf("verified: %d %s\nppt: %s\n", res->sip_code, res->sip_reason, sks_ppt_name(pp->ppt));
    if (pp->ppt == SKS_PPT_SHAKEN)
        printf("attest: %c\norigid: %s\n", pp->attest, pp->origid);
    else if (pp->ppt == SKS_PPT_DIV)
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
    if (pp->crn[0] != '\0')
        printf("crn: %s\n", pp->crn);
    if (res->rcd == SKS_RCD_NONE)
        return;
    printf("rcd: %s\nrcd-result: %s", pp->rcd, sks_rcd_verdict_name(res->rcd));
    if (res->rcd != SKS_RCD_VERIFIED)
        printf(" (%s)", res->rcd_err.msg);
    printf("\n");
}

/* The diversions of a set that verified, in the order the call took them. */
static void print_links(const struct sks_verify_set *set)
{
    size_t i;
    unsigned int k;

    for (i = 0; i < set->nlinks; i++) {
        const struct sks_verify_link *l = &set->links[i];

        printf("diversion %zu: from %s to ", i + 1, l->div);
        for (k = 0; k < l->ndest; k++)
            printf("%s%s", k > 0 ? "," : "", l->dest[k]);
        if (l->chain_checked)
            printf(", certificate SPC %s", l->spc);
        printf("\n");
    }
}

/*
 * The values on stdin, one per line, when it holds more than one: a lone
 * value is verified as the whole of stdin, as it always was.
 */
static size_t split_lines(char *data, size_t len, struct sks_identity_value *v, size_t max)
{
    size_t n = 0, i = 0, start;

    while (i < len) {
        start = i;
        while (i < len && data[i] != '\n')
            i++;
        if (i - start > 0 && !(i - start == 1 && data[start] == '\r')) {
            if (n < max)
                v[n] = (struct sks_identity_value){data + start, i - start};
            n++;
        }
        i++;
    }
    return n;
}

static sks_status verify_set_up(const struct verify_args *a, struct sks_verify_opts *o,
                                struct fetch_source *fs, struct sks_error *err)
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
    if (a->pubkey != NULL && sks_pubkey_load(a->pubkey, &o->pubkey, err) != SKS_OK)
        return err->status;
    if (a->trust != NULL && sks_roots_load(a->trust, &o->roots, err) != SKS_OK)
        return err->status;
    if (a->fetch)
        return fetch_set_up(a, fs, o, err);
    return SKS_OK;
}

static void verify_tear_down(struct sks_verify_opts *o, struct fetch_source *fs)
{
    if (fs->cache != NULL)
        sks_fetch_cache_free(fs->cache);
    if (fs->crls != NULL)
        sks_fetch_cache_free(fs->crls);
    if (fs->content.cache != NULL)
        sks_fetch_cache_free(fs->content.cache);
    X509_free(o->cert);
    sk_X509_pop_free(o->chain, X509_free);
    EVP_PKEY_free(o->pubkey);
    X509_STORE_free(o->roots);
}

static int verify_one(const struct sks_verify_opts *o, const char *hdr, size_t len)
{
    struct sks_verify_result res;
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_identity_verify(hdr, len, o, &res, &err) != SKS_OK) {
        sks_error_prefix(&err, "%d %s", res.sip_code, res.sip_reason);
        return cli_report("verify", &err);
    }
    print_verified(&res, o->cert != NULL || o->source != NULL);
    return 0;
}

static int verify_several(const struct sks_verify_opts *o, const struct sks_identity_value *v,
                          size_t n)
{
    struct sks_verify_set *set = malloc(sizeof(*set));
    struct sks_error err;
    int rc;

    sks_error_clear(&err);
    if (set == NULL) {
        sks_fail(&err, SKS_ERR_SYSTEM, "out of memory");
        return cli_report("verify", &err);
    }
    if (sks_identities_verify(v, n, o, set, &err) != SKS_OK) {
        sks_error_prefix(&err, "%d %s", set->res.sip_code, set->res.sip_reason);
        rc = cli_report("verify", &err);
    } else {
        print_verified(&set->res, o->cert != NULL || o->source != NULL);
        print_links(set);
        rc = 0;
    }
    free(set);
    return rc;
}

static int verify_run(const struct verify_args *a)
{
    struct sks_verify_opts o = {0};
    struct fetch_source fs = {0};
    struct sks_identity_value v[SKS_VERIFY_IDENTITIES_MAX];
    struct sks_error err;
    char *stdin_data = NULL;
    size_t len = 0, n, i;
    int rc;

    sks_error_clear(&err);
    if (verify_set_up(a, &o, &fs, &err) != SKS_OK) {
        rc = cli_report("verify", &err);
        goto done;
    }
    if (a->nidentities == 1) {
        rc = verify_one(&o, a->identities[0], strlen(a->identities[0]));
        goto done;
    }
    if (a->nidentities > 1) {
        for (i = 0; i < a->nidentities && i < SKS_VERIFY_IDENTITIES_MAX; i++)
            v[i] = (struct sks_identity_value){a->identities[i], strlen(a->identities[i])};
        rc = verify_several(&o, v, a->nidentities);
        goto done;
    }
    if (read_stdin(&stdin_data, &len, &err) != SKS_OK) {
        rc = cli_report("verify", &err);
        goto done;
    }
    n = split_lines(stdin_data, len, v, SKS_VERIFY_IDENTITIES_MAX);
    rc = n > 1 ? verify_several(&o, v, n) : verify_one(&o, stdin_data, len);
done:
    free(stdin_data);
    verify_tear_down(&o, &fs);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_args a = {0};
    const struct cli_opt opts[] = {
        CLI_ARG("cert", 0, &a.cert),
        CLI_ARG("trust", 0, &a.trust),
        CLI_ARG("pubkey", 0, &a.pubkey),
        CLI_ARG("max-age", 0, &a.max_age),
        CLI_ARG("now", 0, &a.now),
        CLI_FLAG("fetch", &a.fetch),
        CLI_ARG("fetch-ca", 0, &a.fetch_ca),
        CLI_FLAG("fetch-private", &a.fetch_private),
        CLI_FLAG("no-crl", &a.no_crl),
        CLI_HELP('h'),
        CLI_END,
    };
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_verify, &rc))
        return rc;
    a.identities = argv + optind;
    a.nidentities = (size_t)(argc - optind);
    if ((a.cert != NULL) + (a.pubkey != NULL) + a.fetch != 1)
        return cli_usage_error("verify", "give one of --cert, --pubkey and --fetch");
    if (a.fetch && a.trust == NULL)
        return cli_usage_error("verify", "--fetch needs --trust: a certificate from the "
                                         "signer's own URL means nothing without a root");
    if (!a.fetch && (a.fetch_ca != NULL || a.fetch_private || a.no_crl))
        return cli_usage_error("verify", "--fetch-ca, --fetch-private and --no-crl need --fetch");
    if (a.trust != NULL && a.cert == NULL && !a.fetch)
        return cli_usage_error("verify", "--trust needs --cert or --fetch");
    return verify_run(&a);
}
