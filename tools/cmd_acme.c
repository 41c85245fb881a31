/*
 * sksctl acme: the certificate lifecycle with an ACME server (RFC 8555):
 * register an account whose key is generated in the token, roll the key
 * over, issue a certificate for a new key version, revoke one.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "acme/acme.h"
#include "acme/issue.h"
#include "acme/publish.h"
#include "acme/renew.h"
#include "acme/spc.h"
#include "acme/store.h"
#include "common/file.h"
#include "keystore/renewal.h"
#include "shaken/b64url.h"
#include "tools/acme_shaken.h"
#include "tools/opts.h"
#include "tools/sksctl.h"

/* What every acme subcommand takes besides the key store's options. */
struct acme_opts {
    const char *directory, *ca_file;
    bool allow_private;
    long retries;  /* badNonce retries; -1: the default */
    long poll_max; /* seconds; -1: the default */
    long timeout;  /* milliseconds a call; -1: the default */
};

/* A count from |min| to |max| into *out, or the usage error naming |opt|. */
static int opt_count(const char *opt, char *arg, long min, long max, long *out)
{
    char *end;
    long n = strtol(arg, &end, 10);
    char msg[96];

    if (end == arg || *end != '\0' || n < min || n > max) {
        snprintf(msg, sizeof(msg), "--%s takes a count from %ld to %ld", opt, min, max);
        return cli_usage_error("acme", msg);
    }
    *out = n;
    return 0;
}

static int opt_retries(char *arg, void *ctx)
{
    return opt_count("bad-nonce-retries", arg, 0, 100, &((struct acme_opts *)ctx)->retries);
}

static int opt_poll_max(char *arg, void *ctx)
{
    return opt_count("poll-max-seconds", arg, 1, 3600, &((struct acme_opts *)ctx)->poll_max);
}

static int opt_timeout(char *arg, void *ctx)
{
    return opt_count("timeout-ms", arg, 100, 600000, &((struct acme_opts *)ctx)->timeout);
}

/* clang-format off */
#define ACME_OPTS(a)                                                                               \
    CLI_ARG("directory", 0, &(a)->directory), CLI_ARG("ca-file", 0, &(a)->ca_file),                \
        CLI_FLAG("allow-private", &(a)->allow_private),                                            \
        CLI_CALL("bad-nonce-retries", opt_retries, (a)),                                           \
        CLI_CALL("poll-max-seconds", opt_poll_max, (a)), CLI_CALL("timeout-ms", opt_timeout, (a))
/* clang-format on */

#define ACME_USAGE                                                                                 \
    "  --directory URL    the ACME server's directory (https)\n"                                   \
    "  --ca-file FILE     trust anchors for the server's TLS certificate (PEM;\n"                  \
    "                     default: the system's)\n"                                                \
    "  --allow-private    let the server be on a loopback or private address\n"                    \
    "  --bad-nonce-retries N  how often a request the server refused for its nonce\n"              \
    "                     is sent again with a fresh one (default 3)\n"                            \
    "  --poll-max-seconds N  the longest wait for an authorization or an order (120)\n"            \
    "  --timeout-ms N     the longest one HTTP call may take (10000)\n"

static void acme_config_from(const struct acme_opts *a, const char *directory,
                             struct acme_config *cfg)
{
    acme_config_init(cfg);
    cfg->directory_url = directory;
    cfg->ca_file = a->ca_file;
    cfg->allow_private = a->allow_private;
    if (a->retries >= 0)
        cfg->bad_nonce_retries = (unsigned int)a->retries;
    if (a->poll_max >= 0)
        cfg->poll_max_seconds = a->poll_max;
    if (a->timeout >= 0)
        cfg->timeout_ms = a->timeout;
}

/* The account of --directory (or the only one), its key and a client signing with it. */
static sks_status open_account(struct cli_store *s, const struct acme_opts *a,
                               struct acme_account *acct, struct p11_key **key,
                               struct acme_client **c, struct sks_error *err)
{
    struct acme_config cfg;
    sks_status st;

    *key = NULL;
    *c = NULL;
    st = acme_account_find(s->tok, a->directory, acct, err);
    if (st == SKS_OK)
        st = acme_key_load(s->tok, acct->key_id, key, err);
    if (st == SKS_OK) {
        acme_config_from(a, acct->directory, &cfg);
        st = acme_client_new(&cfg, *key, acct->url, c, err);
    }
    if (st != SKS_OK) {
        p11_key_put(*key);
        *key = NULL;
    }
    return st;
}

/* The end of every acme command: what it opened released, its status reported. */
static int acme_finish(const char *cmd, sks_status st, const struct sks_error *err,
                       struct cli_store *s, struct p11_key *key, struct acme_client *c)
{
    p11_key_put(key);
    acme_client_free(c);
    if (st != SKS_OK)
        return cli_store_report(cmd, err, s);
    cli_store_close(s);
    return 0;
}

/* What register and key-rollover print: the account and its key's thumbprint. */
static void print_account(const struct acme_account *acct, struct p11_key *key)
{
    char thumb[ACME_THUMBPRINT_LEN + 1] = "";

    acme_jwk_thumbprint(key, thumb, NULL);
    printf("account %s\nkey %s (JWK thumbprint %s)\n", acct->url, ACME_KEY_LABEL, thumb);
}

/* ---- register -------------------------------------------------------------------------------- */

static int usage_register(FILE *f, int status)
{
    fprintf(f, "usage: sksctl acme register --directory URL [--contact mailto:...]\n"
               "                            [--agree-tos] [--eab-kid KID --eab-hmac-file FILE]\n"
               "                            [OPTIONS]\n"
               "\n"
               "Creates an ACME account whose key is a P-256 key generated in the token\n"
               "(sign-only, never extractable) and keeps the account URL and the key's\n"
               "reference in the token, where the other acme commands find them.\n"
               "\n"
               "  --contact URL      a contact (mailto:...); may be repeated\n"
               "  --agree-tos        agree to the server's terms of service (required when\n"
               "                     its directory names terms)\n"
               "  --eab-kid KID      External Account Binding key identifier (RFC 8555 7.3.4)\n"
               "  --eab-hmac-file FILE  the CA's HMAC key for it, base64url, in a file\n" ACME_USAGE
                   CLI_STORE_USAGE);
    return status;
}

#define CONTACTS_MAX 8

struct contacts {
    const char *v[CONTACTS_MAX];
    size_t n;
};

static int opt_contact(char *arg, void *ctx)
{
    struct contacts *c = ctx;

    if (c->n == CONTACTS_MAX)
        return cli_usage_error("acme register", "at most 8 --contact");
    if (strncmp(arg, "mailto:", 7) != 0)
        return cli_usage_error("acme register", "--contact takes a mailto: URL");
    c->v[c->n++] = arg;
    return 0;
}

/* The EAB HMAC key from |path|: base64url, blanks around it ignored; cleansed by the caller. */
static sks_status read_hmac_key(const char *path, unsigned char **key, size_t *len,
                                struct sks_error *err)
{
    unsigned char *raw = NULL;
    size_t n = 0, start = 0, size;
    sks_status st = sks_file_read(path, 4096, &raw, &n, err);

    *key = NULL;
    if (st != SKS_OK) {
        sks_error_prefix(err, "--eab-hmac-file");
        return st;
    }
    size = n + 1;
    while (start < n && strchr(" \t\r\n", raw[start]) != NULL)
        start++;
    while (n > start && strchr(" \t\r\n", raw[n - 1]) != NULL)
        n--;
    if ((*key = OPENSSL_malloc(n - start + 1)) == NULL)
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    else if (n == start || b64url_decode((const char *)raw + start, n - start, *key, len) != 0 ||
             *len < 16)
        st = sks_fail_field(err, SKS_ERR_INPUT, "acme-eab-key", "eab-hmac-file",
                            "--eab-hmac-file %s: not a base64url HMAC key of at least 16 bytes",
                            path);
    if (st != SKS_OK && *key != NULL) {
        OPENSSL_clear_free(*key, n - start + 1);
        *key = NULL;
    }
    OPENSSL_clear_free(raw, size);
    return st;
}

static int acme_register(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "acme register"};
    struct acme_opts a = {.retries = -1, .poll_max = -1, .timeout = -1};
    struct contacts contacts = {0};
    const char *eab_kid = NULL, *eab_file = NULL;
    bool agree = false;
    const struct cli_opt opts[] = {
        CLI_CALL("contact", opt_contact, &contacts),
        CLI_FLAG("agree-tos", &agree),
        CLI_ARG("eab-kid", 0, &eab_kid),
        CLI_ARG("eab-hmac-file", 0, &eab_file),
        ACME_OPTS(&a),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct acme_account acct = {.handle = P11_NO_HANDLE};
    struct acme_eab eab = {0};
    unsigned char *hmac = NULL;
    size_t hmac_len = 0;
    struct acme_client *c = NULL;
    struct p11_key *key = NULL;
    struct acme_config cfg;
    struct sks_error err;
    struct cli_store s;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_register, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error(o.cmd, "takes no operands");
    if (a.directory == NULL)
        return cli_usage_error(o.cmd, "--directory is required");
    if ((eab_kid == NULL) != (eab_file == NULL))
        return cli_usage_error(o.cmd, "--eab-kid and --eab-hmac-file go together");
    if (strlen(a.directory) >= sizeof(acct.directory))
        return cli_usage_error(o.cmd, "--directory is too long");
    if (eab_file != NULL && read_hmac_key(eab_file, &hmac, &hmac_len, &err) != SKS_OK)
        return cli_report(o.cmd, &err);
    eab = (struct acme_eab){eab_kid, hmac, hmac_len};
    st = cli_store_open(&o, false, true, &s, &err);
    if (st != SKS_OK) {
        OPENSSL_clear_free(hmac, hmac_len);
        return cli_store_report(o.cmd, &err, NULL);
    }
    if (acme_account_find(s.tok, a.directory, &acct, NULL) == SKS_OK) {
        st = sks_fail_field(&err, SKS_ERR_POLICY, "acme-account-exists", "directory",
                            "the token already holds an account for %s: %s", a.directory, acct.url);
        goto done;
    }
    acct.handle = P11_NO_HANDLE;
    acme_config_from(&a, a.directory, &cfg);
    /* The directory first: a wrong URL or server fails before the token is written. */
    if ((st = acme_client_new(&cfg, NULL, NULL, &c, &err)) != SKS_OK)
        goto done;
    if (acme_terms_of_service(c) != NULL && !agree) {
        st = sks_fail_field(&err, SKS_ERR_INPUT, "acme-tos", "agree-tos",
                            "the ACME server asks to agree to its terms of service (%s): read "
                            "them, then give --agree-tos",
                            acme_terms_of_service(c));
        goto done;
    }
    if (acme_eab_required(c) && eab_kid == NULL) {
        st = sks_fail_field(&err, SKS_ERR_INPUT, "acme-eab-required", "eab-kid",
                            "the ACME server %s requires an External Account Binding: give "
                            "--eab-kid and --eab-hmac-file",
                            a.directory);
        goto done;
    }
    if ((st = acme_key_generate(s.tok, acct.key_id, &key, &err)) != SKS_OK)
        goto done;
    acme_client_set_key(c, key);
    st = acme_account_new(c, contacts.v, contacts.n, agree, eab_kid != NULL ? &eab : NULL, &err);
    if (st == SKS_OK && strlen(acme_account_url(c)) >= sizeof(acct.url))
        st = sks_fail_field(&err, SKS_ERR_POLICY, "acme-protocol", "acme",
                            "the account URL the server gave is longer than %zu bytes",
                            sizeof(acct.url) - 1);
    if (st == SKS_OK) {
        snprintf(acct.directory, sizeof(acct.directory), "%s", a.directory);
        snprintf(acct.url, sizeof(acct.url), "%s", acme_account_url(c));
        st = acme_account_save(s.tok, &acct, &err);
        if (st != SKS_OK)
            sks_error_prefix(&err, "the account %s was created but its record was not kept",
                             acct.url);
    }
    if (st != SKS_OK) {
        acme_key_destroy(s.tok, acct.key_id, NULL);
        goto done;
    }
    print_account(&acct, key);
done:
    OPENSSL_clear_free(hmac, hmac_len);
    return acme_finish(o.cmd, st, &err, &s, key, c);
}

/* ---- key-rollover ---------------------------------------------------------------------------- */

static int usage_rollover(FILE *f, int status)
{
    fprintf(f, "usage: sksctl acme key-rollover [--directory URL] [OPTIONS]\n"
               "\n"
               "Replaces the ACME account's key (RFC 8555 7.3.5) with a new P-256 key\n"
               "generated in the token.  The old key is destroyed only once the server\n"
               "took the new one; on any failure the account keeps the old key.\n"
               "\n" ACME_USAGE CLI_STORE_USAGE);
    return status;
}

static int acme_rollover(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "acme key-rollover"};
    struct acme_opts a = {.retries = -1, .poll_max = -1, .timeout = -1};
    const struct cli_opt opts[] = {ACME_OPTS(&a), CLI_STORE_OPTS(&o), CLI_END};
    unsigned char old_id[ACME_KEY_ID_LEN], new_id[ACME_KEY_ID_LEN];
    struct p11_key *key = NULL, *next = NULL;
    struct acme_client *c = NULL;
    struct acme_account acct;
    struct sks_error err;
    struct cli_store s;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_rollover, &rc))
        return rc;
    if (optind != argc)
        return cli_usage_error(o.cmd, "takes no operands");
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if ((st = open_account(&s, &a, &acct, &key, &c, &err)) != SKS_OK)
        goto done;
    if ((st = acme_key_generate(s.tok, new_id, &next, &err)) != SKS_OK)
        goto done;
    if ((st = acme_key_change(c, next, &err)) != SKS_OK) {
        acme_key_destroy(s.tok, new_id, NULL);
        goto done;
    }
    memcpy(old_id, acct.key_id, sizeof(old_id));
    memcpy(acct.key_id, new_id, sizeof(new_id));
    if ((st = acme_account_save(s.tok, &acct, &err)) != SKS_OK) {
        sks_error_prefix(&err, "the server took the new key but the token's record still names the "
                               "old one; both keys are kept");
        goto done;
    }
    if (acme_key_destroy(s.tok, old_id, &err) != SKS_OK)
        fprintf(stderr, "sksctl %s: the old key was not destroyed: %s\n", o.cmd, err.msg);
    print_account(&acct, next);
done:
    p11_key_put(next);
    return acme_finish(o.cmd, st, &err, &s, key, c);
}

/* ---- issue ----------------------------------------------------------------------------------- */

/* The publisher of the configuration's [publish] section, which --publish requires. */
static sks_status publisher_open(const struct cli_store *s, struct acme_publisher **pub,
                                 struct sks_error *err)
{
    sks_status st = acme_publisher_from_config(&s->cfg, pub, err);

    if (st == SKS_OK && *pub == NULL)
        st = sks_fail_field(err, SKS_ERR_INPUT, "publish-config", "publish",
                            "%s has no [publish] section: it says how chains reach the STI-CR "
                            "(sksctl(1), PUBLICATION)",
                            s->cfg.path != NULL ? s->cfg.path : "the configuration");
    return st;
}

static int usage_issue(FILE *f, int status)
{
    fprintf(f, "usage: sksctl acme issue IDENTITY [--spc SPC] TOKEN-SOURCE [--x5u URL]\n"
               "                         [--chain-out FILE] [--no-attach | --publish]\n"
               "                         [OPTIONS]\n"
               "       sksctl acme issue IDENTITY --spc SPC --dns NAME [--challenge TYPE] ...\n"
               "\n"
               "Generates a new key version of IDENTITY in the token (pending) and its CSR,\n"
               "orders its certificate from the ACME server, answers the challenge, downloads\n"
               "the chain, checks that its leaf is for the new key, and only then attaches\n"
               "it (which holds it to the SHAKEN profile and the trust anchors).  On any\n"
               "failure the pending version is destroyed.\n"
               "\n"
               "  --spc SPC          the identity's Service Provider Code (default: the\n"
               "                     existing identity's)\n"
               "  --dns NAME         order a \"dns\" identifier NAME, also named in the CSR\n"
               "                     (an ACME test server such as pebble)\n"
               "  --challenge TYPE   the challenge to answer with --dns (default http-01)\n"
               "  --x5u URL          where verifiers fetch the chain (required to attach)\n"
               "  --chain-out FILE   also write the checked chain here (PEM)\n"
               "  --no-attach        stop before attach: the version stays pending for\n"
               "                     sksctl attach with the chain of --chain-out\n"
               "  --publish          publish the chain in the STI-CR as the configuration's\n"
               "                     [publish] section says (the x5u from its template\n"
               "                     unless --x5u), fetch it back from the x5u, and only\n"
               "                     then activate the new version (CRLs checked first;\n"
               "                     --no-crl-check skips that)\n"
               "\n" ACME_SHAKEN_USAGE "\n" ACME_USAGE CLI_STORE_USAGE CLI_TRUST_USAGE);
    return status;
}

static int acme_issue_cmd(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "acme issue"};
    struct acme_opts a = {.retries = -1, .poll_max = -1, .timeout = -1};
    const char *spc = NULL, *dns = NULL, *x5u = NULL, *challenge = NULL, *chain = NULL;
    struct acme_token_source shaken = {0};
    char *token = NULL, *tkvalue = NULL, spc_buf[SKS_SPC_MAX + 1];
    struct sks_acme_tkauth tkauth;
    bool no_attach = false, publish = false, found;
    const struct cli_opt opts[] = {
        ACME_SHAKEN_OPTS(&shaken),
        CLI_FLAG("publish", &publish),
        CLI_CRL_OPTS(&o),
        CLI_ARG("spc", 0, &spc),
        CLI_ARG("dns", 0, &dns),
        CLI_ARG("x5u", 0, &x5u),
        CLI_ARG("challenge", 0, &challenge),
        CLI_ARG("chain-out", 0, &chain),
        CLI_FLAG("no-attach", &no_attach),
        ACME_OPTS(&a),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct acme_identifier id;
    struct acme_issue_request req;
    struct acme_publisher *pub = NULL;
    char published[SKS_X5U_MAX + 1];
    struct acme_client *c = NULL;
    struct p11_key *key = NULL;
    struct acme_account acct;
    struct sks_error err;
    struct cli_store s;
    unsigned int version = 0;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_issue, &rc))
        return rc;
    if (optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one IDENTITY");
    if (dns != NULL && (spc == NULL || acme_shaken_wanted(&shaken)))
        return cli_usage_error(o.cmd, "--dns takes --spc and no SPC token option");
    if (dns == NULL && acme_shaken_opts_problem(&shaken) != NULL)
        return cli_usage_error(o.cmd, acme_shaken_opts_problem(&shaken));
    if (dns == NULL && challenge != NULL)
        return cli_usage_error(o.cmd,
                               "a SHAKEN order answers tkauth-01; --challenge goes with --dns");
    if (publish && no_attach)
        return cli_usage_error(o.cmd, "--publish activates: it does not go with --no-attach");
    if (!no_attach && !publish && x5u == NULL)
        return cli_usage_error(o.cmd, "--x5u is required to attach (or give --no-attach)");
    if (no_attach && chain == NULL)
        return cli_usage_error(o.cmd, "--no-attach needs --chain-out for the later attach");
    o.crls = publish;
    if (cli_store_open(&o, !no_attach, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if (publish && (st = publisher_open(&s, &pub, &err)) != SKS_OK)
        goto done;
    if ((st = open_account(&s, &a, &acct, &key, &c, &err)) != SKS_OK)
        goto done;
    if (dns == NULL) {
        /* SHAKEN: the identity's SPC; the token got and checked before anything is made. */
        if ((st = acme_identity_spc(s.ks, argv[optind], spc_buf, sizeof(spc_buf), &found, &err)) !=
            SKS_OK)
            goto done;
        if (found && spc != NULL && strcmp(spc, spc_buf) != 0) {
            st = sks_fail_field(&err, SKS_ERR_INPUT, "spc-mismatch", "spc",
                                "identity %s has SPC %s, not %s", argv[optind], spc_buf, spc);
            goto done;
        }
        if (!found && spc == NULL) {
            st = sks_fail_field(&err, SKS_ERR_INPUT, "missing-field", "spc",
                                "identity %s does not exist yet: give its --spc", argv[optind]);
            goto done;
        }
        if (found)
            spc = spc_buf;
        if ((st = acme_shaken_token(&shaken, a.allow_private, spc, key, &token, &tkvalue, &err)) !=
            SKS_OK)
            goto done;
        tkauth = (struct sks_acme_tkauth){token, tkvalue};
        id = (struct acme_identifier){SKS_ACME_ID_TNAUTHLIST, tkvalue};
        challenge = SKS_ACME_TKAUTH_01;
    } else {
        id = (struct acme_identifier){"dns", dns};
        if (challenge == NULL)
            challenge = "http-01";
    }
    req = (struct acme_issue_request){.identity = argv[optind],
                                      .spc = spc,
                                      .csr_dns = dns,
                                      .identifiers = &id,
                                      .nidentifiers = 1,
                                      .challenge_type = challenge,
                                      .answer = "{}",
                                      .answer_fn = dns != NULL ? NULL : sks_acme_tkauth_answer,
                                      .answer_arg = &tkauth,
                                      .x5u = x5u,
                                      .chain_out = chain,
                                      .attach = !no_attach,
                                      .publisher = pub};
    st = acme_issue(c, s.ks, &req, &version, &err);
    if (st == SKS_OK && publish) {
        if (x5u == NULL)
            acme_publisher_x5u(pub, argv[optind], version, published, sizeof(published), NULL);
        else
            snprintf(published, sizeof(published), "%s", x5u);
        fprintf(stderr, "%s/%u issued, published at %s and activated\n", argv[optind], version,
                published);
    } else if (st == SKS_OK && no_attach)
        fprintf(stderr,
                "%s/%u pending with its certificate in %s: sksctl attach %s --version %u "
                "--cert %s --x5u URL\n",
                argv[optind], version, chain, argv[optind], version, chain);
    else if (st == SKS_OK)
        fprintf(stderr, "%s/%u issued and attached\n", argv[optind], version);
done:
    acme_publisher_free(pub);
    free(token);
    free(tkvalue);
    return acme_finish(o.cmd, st, &err, &s, key, c);
}

/* ---- revoke ---------------------------------------------------------------------------------- */

static int usage_revoke(FILE *f, int status)
{
    fprintf(
        f, "usage: sksctl acme revoke IDENTITY/VERSION [--reason R] [OPTIONS]\n"
           "       sksctl acme revoke --cert FILE [--reason R] [OPTIONS]\n"
           "\n"
           "Revokes a certificate at the ACME server (RFC 8555 7.6), signed with the\n"
           "account key (or the certificate's own key in the token): the certificate of\n"
           "key version IDENTITY/VERSION, which is then destroyed, or the certificate in\n"
           "FILE.\n"
           "\n"
           "  --reason R         an RFC 5280 reason: unspecified (default), keyCompromise,\n"
           "                     superseded, cessationOfOperation, affiliationChanged, ...\n"
           "  --cert FILE        the certificate to revoke (PEM)\n"
           "  --with-cert-key    sign with the certificate's own key in the token, not\n"
           "                     the account key (no account needed)\n" ACME_USAGE CLI_STORE_USAGE);
    return status;
}

/* "IDENTITY/VERSION" split; false when it is not of that form. */
static bool parse_version_ref(char *ref, const char **identity, unsigned int *version)
{
    char *slash = strrchr(ref, '/');

    if (slash == NULL || slash == ref || !cli_parse_version(slash + 1, version))
        return false;
    *slash = '\0';
    *identity = ref;
    return true;
}

static sks_status read_cert(const char *path, X509 **cert, struct sks_error *err)
{
    BIO *b = BIO_new_file(path, "r");

    *cert = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (*cert == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "--cert %s: %s", path,
                        b == NULL ? strerror(errno) : "not a PEM certificate");
    return SKS_OK;
}

/*
 * For a revocation signed with the certificate's key: that key, and a client
 * of --directory (or of the only account's directory) that needs no account.
 */
static sks_status cert_key_client(struct cli_store *s, const struct acme_opts *a, X509 *cert,
                                  struct p11_key **key, struct acme_client **c,
                                  struct sks_error *err)
{
    struct acme_account acct;
    struct acme_config cfg;
    const char *dir = a->directory;
    sks_status st = SKS_OK;

    if (dir == NULL && (st = acme_account_find(s->tok, NULL, &acct, err)) == SKS_OK)
        dir = acct.directory;
    if (st == SKS_OK)
        st = acme_cert_key(s->tok, cert, key, err);
    if (st == SKS_OK) {
        acme_config_from(a, dir, &cfg);
        st = acme_client_new(&cfg, NULL, NULL, c, err);
    }
    return st;
}

static int acme_revoke_cmd(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "acme revoke"};
    struct acme_opts a = {.retries = -1, .poll_max = -1, .timeout = -1};
    const char *reason_name = "unspecified", *cert_file = NULL, *identity = NULL;
    bool with_cert_key = false;
    const struct cli_opt opts[] = {
        CLI_ARG("reason", 0, &reason_name),
        CLI_ARG("cert", 0, &cert_file),
        CLI_FLAG("with-cert-key", &with_cert_key),
        ACME_OPTS(&a),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct acme_client *c = NULL;
    struct p11_key *key = NULL, *cert_key = NULL;
    struct acme_account acct;
    unsigned int version = 0;
    struct sks_error err;
    struct cli_store s;
    X509 *cert = NULL;
    sks_status st;
    int rc, reason;

    if (!cli_parse_opts(argc, argv, opts, usage_revoke, &rc))
        return rc;
    if (cert_file == NULL && optind + 1 != argc)
        return cli_usage_error(o.cmd, "give one IDENTITY/VERSION, or --cert FILE");
    if (cert_file != NULL && optind != argc)
        return cli_usage_error(o.cmd, "give IDENTITY/VERSION or --cert FILE, not both");
    if (cert_file == NULL && !parse_version_ref(argv[optind], &identity, &version))
        return cli_usage_error(o.cmd, "name the version as IDENTITY/VERSION (sp-main/2)");
    if ((reason = acme_reason_code(reason_name)) < 0)
        return cli_usage_error(o.cmd, "--reason takes an RFC 5280 reason name (keyCompromise)");
    if (cert_file != NULL && read_cert(cert_file, &cert, &err) != SKS_OK)
        return cli_report(o.cmd, &err);
    if (cli_store_open(&o, false, true, &s, &err) != SKS_OK) {
        X509_free(cert);
        return cli_store_report(o.cmd, &err, NULL);
    }
    st =
        identity != NULL ? acme_version_certificate(s.tok, identity, version, &cert, &err) : SKS_OK;
    if (st == SKS_OK && with_cert_key)
        st = cert_key_client(&s, &a, cert, &cert_key, &c, &err);
    else if (st == SKS_OK)
        st = open_account(&s, &a, &acct, &key, &c, &err);
    if (st == SKS_OK)
        st = acme_revoke(c, cert, reason, cert_key, &err);
    if (st == SKS_OK && identity != NULL &&
        (st = sks_keystore_destroy(s.ks, identity, version, &err)) != SKS_OK)
        sks_error_prefix(&err, "the certificate of %s/%u is revoked, but the version stays",
                         identity, version);
    if (st == SKS_OK && identity != NULL)
        fprintf(stderr, "%s/%u revoked (%s) and destroyed\n", identity, version, reason_name);
    else if (st == SKS_OK)
        fprintf(stderr, "%s revoked (%s)\n", cert_file, reason_name);
    X509_free(cert);
    p11_key_put(cert_key);
    return acme_finish(o.cmd, st, &err, &s, key, c);
}

/* ---- renew ----------------------------------------------------------------------------------- */

static int usage_renew(FILE *f, int status)
{
    fprintf(f, "usage: sksctl acme renew IDENTITY|--all [--force] [TOKEN-SOURCE] [OPTIONS]\n"
               "\n"
               "Renews each identity (IDENTITY, or every identity with an active version)\n"
               "whose active certificate is inside its renewal window (the [acme] section's\n"
               "renew_fraction of its lifetime at its end), or whose server's renewal\n"
               "information (RFC 9773) suggests a window that has begun: issues a new version as\n"
               "sksctl acme issue does, with the active version's x5u, and activates it;\n"
               "the old version stays usable for the grace period.  An identity whose last\n"
               "attempt failed is not tried again before its back-off ends; an interrupted\n"
               "renewal continues its order with the key version it generated.  One line\n"
               "per identity on stdout; the exit status is 1 when any renewal failed.\n"
               "Settings come from the configuration file's [acme] section; options given\n"
               "here override it.\n"
               "\n"
               "  --all              every identity that has an active version\n"
               "  --force            renew now: ignore the window and the back-off\n"
               "  --no-crl-check     activate without checking the new chain's CRLs\n"
               "\n"
               "With a [publish] section, each new version gets the x5u of its template and\n"
               "is activated only once the STI-CR serves its chain (sksctl(1), PUBLICATION).\n"
               "\n" ACME_SHAKEN_USAGE "\n" ACME_USAGE CLI_STORE_USAGE CLI_TRUST_USAGE);
    return status;
}

struct renew_target {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    char spc[SKS_SPC_MAX + 1];
    char x5u[SKS_X5U_MAX + 1];
    unsigned int active;
    unsigned int highest; /* the highest version number it has, 0 when none */
};

struct renew_targets {
    const char *only; /* NULL: all */
    struct renew_target *v;
    size_t n, cap;
    bool oom;
};

static int collect_target(const struct sks_identity_info *info, void *arg)
{
    struct renew_targets *t = arg;
    struct renew_target *one;

    if (t->only != NULL && strcmp(t->only, info->name) != 0)
        return 0;
    if (t->only == NULL && info->active == 0)
        return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        struct renew_target *v = realloc(t->v, cap * sizeof(*v));

        if (v == NULL) {
            t->oom = true;
            return 1;
        }
        t->v = v;
        t->cap = cap;
    }
    one = &t->v[t->n++];
    memset(one, 0, sizeof(*one));
    snprintf(one->name, sizeof(one->name), "%s", info->name);
    snprintf(one->spc, sizeof(one->spc), "%s", info->spc);
    one->active = info->active;
    for (size_t i = 0; i < info->nversions; i++)
        if (info->versions[i].version > one->highest)
            one->highest = info->versions[i].version;
    for (size_t i = 0; i < info->nversions; i++)
        if (info->versions[i].version == info->active)
            snprintf(one->x5u, sizeof(one->x5u), "%s", info->versions[i].x5u);
    return 0;
}

struct renew_run {
    struct cli_store *s;
    struct acme_client *c;
    struct p11_key *key;
    const struct acme_renew_config *cfg;
    const struct acme_publisher *pub; /* NULL: no [publish] section */
    bool force;
};

/* created: the order in flight, its pending version and CSR, durable before any challenge. */
static sks_status keep_order(void *arg, const char *order_url, unsigned int version,
                             const unsigned char *csr, size_t len, struct sks_error *err)
{
    struct renew_run *run = ((void **)arg)[0];
    struct sks_renewal *rec = ((void **)arg)[1];

    if ((order_url != NULL && strlen(order_url) >= sizeof(rec->order)) ||
        b64url_encoded_len(len) >= sizeof(rec->csr))
        return sks_fail_field(err, SKS_ERR_POLICY, "acme-protocol", "acme",
                              "ACME server: the order URL is too long to keep");
    snprintf(rec->order, sizeof(rec->order), "%s", order_url != NULL ? order_url : "");
    rec->pending = version;
    rec->generating = 0;
    b64url_encode(csr, len, rec->csr);
    return sks_renewal_put(run->s->ks, rec, err);
}

/* One issuance for |t|: resumed from |rec|'s order when it has one. */
static sks_status renew_issue(struct renew_run *run, const struct renew_target *t,
                              struct sks_renewal *rec, unsigned int *version, struct sks_error *err)
{
    char *token = NULL, *tkvalue = NULL;
    unsigned char csr[SKS_RENEWAL_CSR_MAX];
    struct acme_issue_resume resume = {0};
    struct sks_acme_tkauth tkauth;
    struct acme_identifier id;
    struct acme_issue_request req;
    void *created_arg[2] = {run, rec};
    size_t csr_len = 0;
    sks_status st;

    if (rec->order[0] != '\0') {
        if (b64url_decode(rec->csr, strlen(rec->csr), csr, &csr_len) != 0)
            csr_len = 0;
        resume = (struct acme_issue_resume){rec->order, rec->pending, csr, csr_len};
    }
    st = acme_shaken_token(&run->cfg->source, run->cfg->allow_private, t->spc, run->key, &token,
                           &tkvalue, err);
    if (st != SKS_OK)
        return st;
    tkauth = (struct sks_acme_tkauth){token, tkvalue};
    id = (struct acme_identifier){SKS_ACME_ID_TNAUTHLIST, tkvalue};
    req = (struct acme_issue_request){.identity = t->name,
                                      .spc = t->spc,
                                      .identifiers = &id,
                                      .nidentifiers = 1,
                                      .challenge_type = SKS_ACME_TKAUTH_01,
                                      .answer = "{}",
                                      .answer_fn = sks_acme_tkauth_answer,
                                      .answer_arg = &tkauth,
                                      /* With a publisher, the new version's own x5u. */
                                      .x5u = run->pub != NULL ? NULL : t->x5u,
                                      .publisher = run->pub,
                                      .attach = true,
                                      .resume = rec->order[0] != '\0' ? &resume : NULL,
                                      .created = keep_order,
                                      .created_arg = created_arg};
    st = acme_issue(run->c, run->s->ks, &req, version, err);
    free(token);
    free(tkvalue);
    return st;
}

/* The pending versions of |identity| an interrupted renewal's record points at (drop_unordered). */
#define ORPHANS_MAX 8
struct version_find {
    const char *identity;
    const struct sks_renewal *rec;
    unsigned int found[ORPHANS_MAX];
    size_t n;
};

static int version_find_cb(const struct sks_identity_info *info, void *arg)
{
    struct version_find *f = arg;

    if (strcmp(info->name, f->identity) != 0)
        return 0;
    for (size_t i = 0; i < info->nversions && f->n < ORPHANS_MAX; i++) {
        unsigned int v = info->versions[i].version;

        if (info->versions[i].state == SKS_VERSION_PENDING &&
            (v == f->rec->pending || (f->rec->generating != 0 && v >= f->rec->generating)))
            f->found[f->n++] = v;
    }
    return 1;
}

/*
 * A renewal killed after it generated its version but before the server
 * made the order leaves a pending version no order will complete: the one
 * the record names, or, killed before the record named it, those from the
 * number the record says it would get.  They are destroyed (only while
 * still pending) and the record forgets them.
 */
static sks_status drop_unordered(struct renew_run *run, const char *identity,
                                 struct sks_renewal *rec, struct sks_error *err)
{
    struct version_find f = {identity, rec, {0}, 0};
    sks_status st = sks_keystore_list_one(run->s->ks, identity, version_find_cb, &f, err);

    for (size_t i = 0; st == SKS_OK && i < f.n; i++) {
        st = sks_keystore_destroy(run->s->ks, identity, f.found[i], err);
        if (st == SKS_OK)
            fprintf(stderr,
                    "sksctl acme renew: %s: version %u of an interrupted renewal had no order: "
                    "destroyed\n",
                    identity, f.found[i]);
    }
    if (st == SKS_OK) {
        rec->pending = 0;
        rec->generating = 0;
        rec->csr[0] = '\0';
    }
    return st;
}

static void print_time(const char *what, time_t t)
{
    char buf[32];
    struct tm tm;

    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    printf("%s %s", what, buf);
}

/* Renews |t| if it is due, its renewal lock held; false when an attempt failed. */
static bool renew_locked(struct renew_run *run, const struct renew_target *t)
{
    struct sks_renewal rec;
    struct sks_error err = {0};
    unsigned int version = 0;
    time_t now = time(NULL), open = 0;
    X509 *cert = NULL;
    bool resumed = false, by_ari = false;
    sks_status st;

    if ((st = sks_renewal_get(run->s->ks, t->name, &rec, &err)) != SKS_OK)
        goto failed_no_record;
    if (rec.order[0] == '\0' && (rec.pending != 0 || rec.generating != 0)) {
        /* Interrupted between the new version and its order: nothing to continue. */
        if ((st = drop_unordered(run, t->name, &rec, &err)) != SKS_OK)
            goto failed;
    }
    resumed = rec.order[0] != '\0' && rec.pending != 0;
    if (!resumed && t->active == 0) {
        st = sks_fail(&err, SKS_ERR_NOT_FOUND, "%s has no active version to renew", t->name);
        goto failed;
    }
    if (!resumed && !run->force) {
        if (rec.result == SKS_RENEWAL_FAILED && rec.next > now) {
            printf("%s: backing off after %u failure%s (%s);", t->name, rec.failures,
                   rec.failures == 1 ? "" : "s", rec.code);
            print_time(" next attempt after", rec.next);
            printf("\n");
            return true;
        }
        if ((st = acme_version_certificate(run->s->tok, t->name, t->active, &cert, &err)) != SKS_OK)
            goto failed;
        {
            time_t nb = 0, na = 0;
            const ASN1_TIME *b = X509_get0_notBefore(cert), *a = X509_get0_notAfter(cert);
            struct tm tb, ta;

            if (ASN1_TIME_to_tm(b, &tb) != 1 || ASN1_TIME_to_tm(a, &ta) != 1) {
                st = sks_fail(&err, SKS_ERR_INPUT, "the certificate of %s/%u has no valid dates",
                              t->name, t->active);
                goto failed;
            }
            nb = timegm(&tb);
            na = timegm(&ta);
            open = acme_renew_window(run->cfg, t->name, nb, na);
        }
        /* RFC 9773: the server's suggested window, when it offers one, may open it earlier. */
        if (now < open) {
            struct sks_error aerr;
            bool offered = false;
            time_t as = 0, ae = 0;

            if (acme_renewal_info(run->c, cert, &offered, &as, &ae, &aerr) != SKS_OK)
                fprintf(stderr,
                        "sksctl acme renew: %s: no renewal information (%s): the configured "
                        "window decides\n",
                        t->name, aerr.msg);
            else if (offered && now >= as)
                by_ari = true;
            else if (offered && as < open)
                open = as;
        }
        X509_free(cert);
        cert = NULL;
        if (now < open && !by_ari) {
            printf("%s: not due: version %u", t->name, t->active);
            print_time(" renews after", open);
            printf("\n");
            return true;
        }
    }
    rec.attempt = now;
    rec.result = SKS_RENEWAL_RUNNING;
    /* Durable before the version exists: a kill right after generating it leaves no orphan. */
    if (!resumed)
        rec.generating = t->highest + 1;
    if ((st = sks_renewal_put(run->s->ks, &rec, &err)) != SKS_OK)
        goto failed;
    st = renew_issue(run, t, &rec, &version, &err);
    if (st != SKS_OK && resumed) {
        /* The order could not be continued (gone invalid, expired): its version was destroyed. */
        fprintf(stderr,
                "sksctl acme renew: %s: the interrupted order %s was not continued (%s): "
                "starting over\n",
                t->name, rec.order, err.msg);
        rec.order[0] = rec.csr[0] = '\0';
        rec.pending = 0;
        resumed = false;
        rec.generating = t->highest + 1;
        if ((st = sks_renewal_put(run->s->ks, &rec, &err)) == SKS_OK)
            st = renew_issue(run, t, &rec, &version, &err);
    }
    /* With a publisher, acme_issue activated it once the STI-CR served its chain. */
    if (st == SKS_OK && run->pub == NULL &&
        (st = sks_keystore_activate(run->s->ks, t->name, version, &err)) != SKS_OK)
        sks_error_prefix(&err, "%s/%u was issued but not activated", t->name, version);
    rec.order[0] = rec.csr[0] = '\0';
    rec.pending = 0;
    rec.generating = 0;
    if (st != SKS_OK)
        goto failed;
    rec.result = SKS_RENEWAL_OK;
    rec.failures = 0;
    rec.next = 0;
    rec.code[0] = '\0';
    if (sks_renewal_put(run->s->ks, &rec, &err) != SKS_OK)
        fprintf(stderr, "sksctl acme renew: %s: renewed, but its record was not written: %s\n",
                t->name, err.msg);
    if (t->active != 0)
        printf("%s: renewed: version %u active, version %u usable for the grace period%s\n",
               t->name, version, t->active, by_ari ? " (the server's suggested window)" : "");
    else
        printf("%s: renewed: version %u active\n", t->name, version);
    return true;

failed : {
    struct sks_error ignored;

    rec.result = SKS_RENEWAL_FAILED;
    rec.failures++;
    rec.next = now + acme_renew_backoff(run->cfg, rec.failures);
    snprintf(rec.code, sizeof(rec.code), "%s", sks_error_code(&err));
    if (rec.identity[0] != '\0')
        sks_renewal_put(run->s->ks, &rec, &ignored);
}
failed_no_record:
    X509_free(cert);
    printf("%s: failed (%s): %s\n", t->name, sks_error_code(&err), err.msg);
    return false;
}

/*
 * Renews |t| if it is due and no other run is renewing it: a timer's run and
 * an operator's on the same identity would otherwise both issue.  The other
 * run is not waited for; it does the renewal.  Under the lock the identity
 * is read again: a run that finished just before may have renewed it.
 */
static bool renew_one(struct renew_run *run, const struct renew_target *t)
{
    struct renew_targets now = {.only = t->name};
    struct sks_error err = {0};
    long holder = 0;
    bool ok;
    int fd;

    if (sks_renewal_lock(run->s->ks, t->name, &fd, &holder, &err) != SKS_OK) {
        printf("%s: failed (%s): %s\n", t->name, sks_error_code(&err), err.msg);
        return false;
    }
    if (fd < 0) {
        if (holder > 0)
            printf("%s: skipped: another renewal is running (pid %ld)\n", t->name, holder);
        else
            printf("%s: skipped: another renewal is running\n", t->name);
        return true;
    }
    if (sks_keystore_list_one(run->s->ks, t->name, collect_target, &now, &err) != SKS_OK ||
        now.oom) {
        if (now.oom)
            sks_fail(&err, SKS_ERR_SYSTEM, "out of memory");
        printf("%s: failed (%s): %s\n", t->name, sks_error_code(&err), err.msg);
        ok = false;
    } else if (now.n == 0) {
        printf("%s: skipped: removed while this run started\n", t->name);
        ok = true;
    } else {
        ok = renew_locked(run, &now.v[0]);
    }
    free(now.v);
    sks_renewal_unlock(fd);
    return ok;
}

/* The [acme] section's settings, then the command line's over them. */
static sks_status renew_settings(const struct cli_store *s, const struct acme_opts *a,
                                 const struct acme_token_source *src, struct acme_renew_config *cfg,
                                 struct sks_error *err)
{
    char *dir = NULL, *slash;
    sks_status st;

    if (s->cfg.path != NULL && (dir = strdup(s->cfg.path)) != NULL &&
        (slash = strrchr(dir, '/')) != NULL)
        *slash = '\0';
    else if (dir != NULL) {
        free(dir);
        dir = NULL;
    }
    st = acme_renew_config_load(cfg, sks_config_conf(&s->cfg), dir, err);
    free(dir);
    if (st != SKS_OK)
        return st;
    if (a->directory != NULL)
        cfg->directory = a->directory;
    if (a->ca_file != NULL)
        cfg->ca_file = a->ca_file;
    if (a->allow_private)
        cfg->allow_private = true;
    if (acme_shaken_wanted(src))
        cfg->source = *src;
    if (acme_shaken_opts_problem(&cfg->source) != NULL)
        return sks_fail_field(err, SKS_ERR_INPUT, "config", "spc_token", "%s (or in [acme]: %s)",
                              acme_shaken_opts_problem(&cfg->source),
                              "spc_token, spc_token_command or stipa_url");
    return SKS_OK;
}

static int acme_renew_cmd(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "acme renew"};
    struct acme_opts a = {.retries = -1, .poll_max = -1, .timeout = -1};
    struct acme_token_source src = {0};
    bool all = false, force = false;
    const struct cli_opt opts[] = {
        CLI_FLAG("all", &all), CLI_FLAG("force", &force), ACME_SHAKEN_OPTS(&src),
        ACME_OPTS(&a),         CLI_STORE_OPTS(&o),        CLI_END,
    };
    struct renew_targets targets = {0};
    struct acme_renew_config cfg;
    struct acme_publisher *pub = NULL;
    struct acme_opts merged;
    struct acme_client *c = NULL;
    struct p11_key *key = NULL;
    struct acme_account acct;
    struct sks_error err;
    struct cli_store s;
    size_t failed = 0;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_renew, &rc))
        return rc;
    if (all ? optind != argc : optind != argc - 1)
        return cli_usage_error(o.cmd, "give one IDENTITY or --all");
    acme_renew_config_init(&cfg);
    /* Each renewal activates: the new chain is held to its CRLs first. */
    o.crls = true;
    if (cli_store_open(&o, true, true, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if ((st = renew_settings(&s, &a, &src, &cfg, &err)) != SKS_OK ||
        (st = acme_publisher_from_config(&s.cfg, &pub, &err)) != SKS_OK)
        goto done;
    merged = a;
    merged.directory = cfg.directory;
    merged.ca_file = cfg.ca_file;
    merged.allow_private = cfg.allow_private;
    if ((st = open_account(&s, &merged, &acct, &key, &c, &err)) != SKS_OK)
        goto done;
    targets.only = all ? NULL : argv[optind];
    st = all ? sks_keystore_list(s.ks, collect_target, &targets, &err)
             : sks_keystore_list_one(s.ks, targets.only, collect_target, &targets, &err);
    if (st != SKS_OK)
        goto done;
    if (targets.oom) {
        st = sks_fail(&err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    if (!all && targets.n == 0) {
        st = sks_fail(&err, SKS_ERR_NOT_FOUND, "no identity %s on %s", argv[optind],
                      p11_token_uri(s.tok));
        goto done;
    }
    {
        struct renew_run run = {&s, c, key, &cfg, pub, force};

        /*
         * Each line out as it is decided: a journal shows it at once, a kill
         * loses none, and no child the token layer forks inherits it.
         */
        for (size_t i = 0; i < targets.n; i++) {
            if (!renew_one(&run, &targets.v[i]))
                failed++;
            fflush(stdout);
        }
    }
    fflush(stdout);
done:
    free(targets.v);
    acme_publisher_free(pub);
    rc = acme_finish(o.cmd, st, &err, &s, key, c);
    acme_renew_config_free(&cfg);
    return rc != 0 ? rc : failed != 0 ? 1 : 0;
}

/* ---- publish ------------------------------------------------------------------------------------
 */

static int usage_publish(FILE *f, int status)
{
    fprintf(f, "usage: sksctl publish IDENTITY/VERSION [--activate] [OPTIONS]\n"
               "\n"
               "Publishes the certificate chain of key version IDENTITY/VERSION (as the token\n"
               "holds it) in the STI-CR at the version's x5u, as the configuration's\n"
               "[publish] section says, then fetches the x5u over HTTPS until it serves\n"
               "exactly that chain.  With --activate the version is then activated: what\n"
               "acme issue --publish does, for a version attached another way or whose\n"
               "publication is to be retried.\n"
               "\n"
               "  --activate         activate the version once the STI-CR serves its chain\n"
               "  --no-crl-check     with --activate: do not check CRLs first\n" CLI_STORE_USAGE);
    return status;
}

int cmd_publish(int argc, char **argv)
{
    struct cli_store_opts o = {.cmd = "publish"};
    bool activate = false;
    const struct cli_opt opts[] = {
        CLI_FLAG("activate", &activate),
        CLI_CRL_OPTS(&o),
        CLI_STORE_OPTS(&o),
        CLI_END,
    };
    struct acme_publisher *pub = NULL;
    char x5u[SKS_X5U_MAX + 1] = "", *chain = NULL;
    const char *identity = NULL;
    unsigned int version = 0;
    struct sks_error err;
    struct cli_store s;
    size_t len = 0;
    sks_status st;
    int rc;

    if (!cli_parse_opts(argc, argv, opts, usage_publish, &rc))
        return rc;
    if (optind + 1 != argc || !parse_version_ref(argv[optind], &identity, &version))
        return cli_usage_error(o.cmd, "name the version as IDENTITY/VERSION (sp-main/2)");
    o.crls = activate;
    if (cli_store_open(&o, false, activate, &s, &err) != SKS_OK)
        return cli_store_report(o.cmd, &err, NULL);
    if ((st = publisher_open(&s, &pub, &err)) == SKS_OK)
        st = acme_version_chain(s.ks, s.tok, identity, version, &chain, &len, x5u, &err);
    if (st == SKS_OK && x5u[0] == '\0')
        st = sks_fail_field(&err, SKS_ERR_INPUT, "missing-field", "x5u", "%s/%u has no x5u",
                            identity, version);
    if (st == SKS_OK)
        st = acme_publish(pub, identity, version, x5u, chain, len, &err);
    if (st == SKS_OK && activate)
        st = sks_keystore_activate(s.ks, identity, version, &err);
    if (st == SKS_OK)
        printf("%s/%u published at %s%s\n", identity, version, x5u, activate ? " and active" : "");
    free(chain);
    acme_publisher_free(pub);
    if (st != SKS_OK)
        return cli_store_report(o.cmd, &err, &s);
    cli_store_close(&s);
    return 0;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static const struct sksctl_cmd acme_commands[] = {
    {"register", "create an ACME account whose key is generated in the token", acme_register},
    {"key-rollover", "replace the account key with a new one generated in the token",
     acme_rollover},
    {"issue", "order a certificate for a new key version and attach it", acme_issue_cmd},
    {"renew", "renew the certificates inside their renewal window", acme_renew_cmd},
    {"revoke", "revoke a key version's certificate, then destroy the version", acme_revoke_cmd},
};

static void usage_acme(FILE *f)
{
    fprintf(f, "usage: sksctl acme COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(acme_commands) / sizeof(acme_commands[0]); i++)
        fprintf(f, "  %-14s %s\n", acme_commands[i].name, acme_commands[i].summary);
    fprintf(f, "\nRun 'sksctl acme COMMAND --help' for the options of a command.\n");
}

int cmd_acme(int argc, char **argv)
{
    if (argc < 2) {
        usage_acme(stderr);
        return SKSCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_acme(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(acme_commands) / sizeof(acme_commands[0]); i++)
        if (strcmp(argv[1], acme_commands[i].name) == 0)
            return acme_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sksctl acme: unknown command '%s'\n", argv[1]);
    usage_acme(stderr);
    return SKSCTL_EXIT_USAGE;
}
