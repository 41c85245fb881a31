/*
 * The shaken-sks configuration file, shared by sksctl and sksd.
 *
 * An openssl.cnf-style file read with OpenSSL's NCONF.  The [sks] section
 * says where the key store is:
 *
 *   [sks]
 *   pkcs11_module = /usr/lib/softhsm/libsofthsm2.so
 *   pkcs11_module_env = sks_module_env   # a section of variables for the module
 *   token = sks-prod                 # a token label or a pkcs11: URI
 *   pin_file = /etc/shaken-sks/user.pin
 *   trust_anchors = /etc/shaken-sks/sti-pa-roots.pem
 *   grace_period = 86400             # seconds a replaced key version stays usable
 *   expiry_warn_days = 30            # warn on imports of certificates expiring sooner
 *   pending_max_age = 2592000        # seconds a generated key may wait for its certificate
 *   sweep_after = 600                # seconds after which an unfinished write is abandoned
 *   crl_check = yes                  # activations hold the chain to its CRLs (no: never)
 *   crl_ca_file = /etc/ssl/certs/ca-certificates.crt  # TLS roots of the CRL servers
 *   crl_allow_private = no           # CRLs may be fetched from private addresses
 *   crl_max_bytes = 1048576          # the largest CRL fetched
 *
 *
 *   [sks_module_env]
 *   SOFTHSM2_CONF = softhsm2.conf
 *
 * Relative paths are taken relative to the directory of the file.  Other
 * programs keep their own settings in their own sections; sks_config_conf()
 * gives them the parsed file.  A misspelt key in [sks] is an error, not a
 * silent default.
 */
#ifndef SKS_CONF_H
#define SKS_CONF_H

#include <stdbool.h>

#include <openssl/conf.h>
#include <openssl/x509.h>

#include "common/error.h"

/* The configuration file used when none is named: $(sysconfdir)/shaken-sks/sks.conf. */
#define SKS_CONFIG_DEFAULT SKS_SYSCONFDIR "/shaken-sks/sks.conf"

/* The largest CRL fetched unless crl_max_bytes says otherwise. */
#define SKS_CONFIG_CRL_MAX_BYTES_DEFAULT (1024 * 1024)

/* The longest configuration file read; a larger one is refused. */
#define SKS_CONFIG_MAX_BYTES (1024 * 1024)

/* One environment variable set for the PKCS#11 module before it is loaded. */
struct sks_config_env {
    char *name;
    char *value;
};

struct sks_config {
    char *path;                        /* the file read; NULL when none was */
    char *pkcs11_module;               /* NULL: p11-kit's proxy module */
    char *module_env_section;          /* pkcs11_module_env: the section's name */
    struct sks_config_env *module_env; /* that section's variables */
    size_t nmodule_env;
    char *token; /* a token label or a pkcs11: URI; NULL: the first token */
    char *pin_file;
    char *trust_anchors; /* PEM file of STI-PA root certificates */
    long grace_period;   /* seconds; SKS_GRACE_DEFAULT unless set */
    long expiry_warn_days;
    long pending_max_age; /* seconds a generated key may wait for its certificate */
    long sweep_after;     /* seconds after which an unfinished write is abandoned */
    bool crl_check;       /* activation checks the CRLs a chain names (default yes) */
    char *crl_ca_file;    /* TLS roots of CRL servers; NULL: the system's */
    bool crl_allow_private;
    long crl_max_bytes;
    CONF *conf; /* the whole file, for other sections; NULL without a file */
};

/*
 * Reads |path| (NULL: SKS_CONFIG_DEFAULT).  A missing file is an error when
 * |path| was given and an empty configuration when the default is missing,
 * so that sksctl works from flags alone.  Free with sks_config_free().
 */
sks_status sks_config_load(const char *path, struct sks_config *cfg, struct sks_error *err);
void sks_config_free(struct sks_config *cfg);

/* Replaces one string setting (a command-line flag overriding the file). */
sks_status sks_config_set(char **field, const char *value, struct sks_error *err);

struct p11_token;
/*
 * Opens the token the configuration names, the one way sksctl and sksd do:
 * sets the module's environment (pkcs11_module_env), loads the module,
 * finds the token (a label or a pkcs11: URI) and sets the PIN source from
 * pin_file, when set.  A failure names the configuration file and token.
 */
sks_status sks_config_open_token(const struct sks_config *cfg, struct p11_token **tok,
                                 struct sks_error *err);

/* The parsed file, for sections the key store does not know (sksd). NULL without a file. */
CONF *sks_config_conf(const struct sks_config *cfg);

#endif
