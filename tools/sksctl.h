/* sksctl: the command table and what every subcommand shares. */
#ifndef SKS_TOOLS_SKSCTL_H
#define SKS_TOOLS_SKSCTL_H

#include <stdbool.h>
#include <stdbool.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"

/* Exit status for a command-line usage error; others come from sks_exit_code(). */
#define SKSCTL_EXIT_USAGE 1

struct sksctl_cmd {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name; returns the process exit status. */
    int (*run)(int argc, char **argv);
};

/* Subcommands, one file each under tools/. */
int cmd_init_token(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_keyref(int argc, char **argv);
int cmd_pki(int argc, char **argv);
int cmd_cert_check(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_wrapping_key(int argc, char **argv);
int cmd_wrap(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_import_batch(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_activate(int argc, char **argv);
int cmd_retire(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_protect(int argc, char **argv);

/*
 * For sksctl sign (tools/cmd_keystore.c): "identity:NAME", or a bare NAME
 * that is neither a pkcs11: URI nor a file, names a key store identity.
 * cli_resolve_identity() opens the key store the configuration file |config|
 * (NULL: the default) describes and returns the pkcs11: URI of the active
 * key, with module-path and pin-source so that the sks provider finds it,
 * and its x5u (free() both).
 */
bool cli_is_identity_ref(const char *spec);
sks_status cli_resolve_identity(const char *spec, const char *config, char **uri, char **x5u,
                                struct sks_error *err);

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
 * Loads a private key named by |spec|: a pkcs11: URI, a key-reference PEM
 * file or a plain PEM/DER key file.  HSM keys come from the sks provider.
 */
sks_status cli_load_private_key(const char *spec, EVP_PKEY **out, struct sks_error *err);
/* Every certificate in a PEM file (or, when |der_ok|, a single DER one). */
sks_status cli_load_certs(const char *path, bool der_ok, STACK_OF(X509) **out,
                          struct sks_error *err);
/* A trust store of every certificate in the PEM file |path|. */
sks_status cli_load_roots(const char *path, X509_STORE **out, struct sks_error *err);
/* Prints "sksctl CMD: message" on stderr and returns the exit status for |err|. */
int cli_report(const char *cmd, const struct sks_error *err);
/*
 * Reads a whole file of at most |max| bytes.  The buffer is NUL-terminated
 * (not counted in *len).  Oversized files are rejected, not truncated.
 */
sks_status cli_read_file(const char *path, size_t max, unsigned char **data, size_t *len,
                         struct sks_error *err);

#endif
