/* sksctl: the command table and what every subcommand shares. */
#ifndef SKS_TOOLS_SKSCTL_H
#define SKS_TOOLS_SKSCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"
#include "fetch/cache.h"
#include "keystore/conf.h"
#include "keystore/keystore.h"
#include "tools/opts.h"

/* Exit status for a command-line usage error; others come from sks_exit_code(). */
#define SKSCTL_EXIT_USAGE 1

struct sksctl_cmd {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name; returns the process exit status. */
    int (*run)(int argc, char **argv);
};

/* Subcommands, one file per family under tools/. */
/* cmd_token.c: setting up a token and naming its keys */
int cmd_init_token(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_keyref(int argc, char **argv);
/* cmd_pki.c: the test PKI and the SHAKEN certificate profile check */
int cmd_pki(int argc, char **argv);
int cmd_cert_check(int argc, char **argv);
/* cmd_formats.c: PASSporTs and Identity headers */
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
/* cmd_import.c: the ways a key version comes into the key store */
int cmd_generate(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_import_batch(int argc, char **argv);
/* cmd_wrap.c: wrapped imports */
int cmd_wrapping_key(int argc, char **argv);
int cmd_wrap(int argc, char **argv);
/* cmd_list.c */
int cmd_list(int argc, char **argv);
/* cmd_lifecycle.c: what happens to a key version once it is in */
int cmd_activate(int argc, char **argv);
int cmd_retire(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_protect(int argc, char **argv);
/* cmd_acme.c: the certificate lifecycle with an ACME server */
int cmd_acme(int argc, char **argv);
int cmd_publish(int argc, char **argv);

/*
 * Prints "sksctl CMD: message" on stderr ("sksctl CMD: CODE: message" for
 * the CRL codes: certificate-revoked, crl-*) and returns the exit status
 * for |err|.
 */
int cli_report(const char *cmd, const struct sks_error *err);

/* The options every token command takes: --module, --token, --pin-file. */
struct cli_token_opts {
    const char *module;   /* PKCS#11 module path; NULL: p11-kit's proxy */
    const char *token;    /* a token label or a pkcs11: URI; NULL: the first token */
    const char *pin_file; /* user PIN file */
};

struct p11_token;
/* Opens the token |opts| names and sets its PIN source. */
sks_status cli_open_token(const struct cli_token_opts *opts, struct p11_token **tok,
                          struct sks_error *err);

/*
 * An open key store and what it was opened with.  Every command that
 * changes the token sweeps first (sks_keystore_sweep), so that what an
 * interrupted command left behind is cleaned up by the next.
 */
struct cli_store {
    struct sks_config cfg;
    struct p11_token *tok;
    struct sks_keystore *ks;
    /* The CRLs an activation checks, through the guarded fetcher (o->crls). */
    struct sks_fetch_opts crl_fetch;
    struct sks_fetch_cache *crl_cache;
    struct sks_crl_source crl_source;
};

/*
 * Opens the token and the key store the configuration file and flags |o|
 * name.  |roots|: load the trust anchors (every way in needs them).
 * |mutating|: sweep first.  With o->crls, activations hold chains to their
 * CRLs (the trust anchors are loaded for it) unless crl_check = no or
 * --no-crl-check, which a warning on stderr names.
 */
sks_status cli_store_open(const struct cli_store_opts *o, bool roots, bool mutating,
                          struct cli_store *s, struct sks_error *err);
void cli_store_close(struct cli_store *s);
/* cli_report(), after closing |s| when it is not NULL. */
int cli_store_report(const char *cmd, const struct sks_error *err, struct cli_store *s);

#endif
