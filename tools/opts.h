/*
 * sksctl's options: each command lists what it takes in one table and
 * cli_parse_opts() runs getopt_long over it, so that --help, unknown
 * options and missing arguments behave the same in every command.
 */
#ifndef SKS_TOOLS_OPTS_H
#define SKS_TOOLS_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "keystore/conf.h"

enum cli_opt_kind {
    CLI_OPT_ARG,  /* takes an argument, kept in *arg */
    CLI_OPT_FLAG, /* no argument; sets *flag */
    CLI_OPT_CALL, /* takes an argument, handed to call() at once */
    CLI_OPT_HELP, /* prints the usage on stdout and ends the command with 0 */
};

struct cli_opt {
    const char *name; /* the long option, without "--"; NULL ends the table */
    int letter;       /* its one-letter form, 0 for none */
    enum cli_opt_kind kind;
    const char **arg;
    bool *flag;
    /* 0 to go on, else the exit status to end the command with (it said why). */
    int (*call)(char *arg, void *ctx);
    void *ctx;
};

/* One line each: the tables read as lists. */
/* clang-format off */
#define CLI_ARG(n, l, p) {.name = (n), .letter = (l), .kind = CLI_OPT_ARG, .arg = (p)}
#define CLI_FLAG(n, p) {.name = (n), .kind = CLI_OPT_FLAG, .flag = (p)}
#define CLI_CALL(n, fn, c) {.name = (n), .kind = CLI_OPT_CALL, .call = (fn), .ctx = (c)}
#define CLI_HELP(l) {.name = "help", .letter = (l), .kind = CLI_OPT_HELP}
#define CLI_END {.name = NULL}
/* clang-format on */

/*
 * Takes the options of argv[1...] as |opts| lists them, in order; the
 * operands are left at argv[optind...].  False when the command ends here,
 * with *rc its exit status: 0 after --help (usage(stdout, 0)), the
 * callback's, or SKSCTL_EXIT_USAGE after an unknown option or a missing
 * argument (getopt_long's message, then usage(stderr, SKSCTL_EXIT_USAGE)).
 */
bool cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, int (*usage)(FILE *, int),
                    int *rc);

/* Prints "sksctl CMD: MSG (see sksctl CMD --help)" and returns SKSCTL_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *msg);

/* A key version number, 1 to 2^24 - 1, as the key store numbers them. */
bool cli_parse_version(const char *s, unsigned int *out);

/* ---- the options every key store command takes ----------------------------------------------- */

struct cli_store_opts {
    const char *cmd; /* the command, for messages */
    const char *config, *module, *token, *pin_file, *trust;
    bool crls;         /* the command activates: it checks CRLs (crl_check) */
    bool no_crl_check; /* --no-crl-check: it does not, and says so */
};

#define CLI_STORE_OPTS(o)                                                                          \
    CLI_ARG("config", 'c', &(o)->config), CLI_ARG("module", 0, &(o)->module),                      \
        CLI_ARG("token", 0, &(o)->token), CLI_ARG("pin-file", 0, &(o)->pin_file),                  \
        CLI_ARG("trust", 0, &(o)->trust), CLI_HELP('h')

#define CLI_STORE_USAGE                                                                            \
    "  -c, --config FILE  configuration file (default " SKS_CONFIG_DEFAULT ")\n"                   \
    "  --module PATH      PKCS#11 module (overrides pkcs11_module)\n"                              \
    "  --token LABEL|URI  token (overrides token)\n"                                               \
    "  --pin-file FILE    user PIN file (overrides pin_file)\n"

/* Commands that may activate a version: they check its CRLs unless told not to. */
#define CLI_CRL_OPTS(o) CLI_FLAG("no-crl-check", &(o)->no_crl_check)
#define CLI_CRL_USAGE                                                                              \
    "  --no-crl-check     an identity's first version, which becomes active, is\n"                 \
    "                     not checked against its CRLs (crl_check = no: none is);\n"               \
    "                     says so on stderr\n"

#define CLI_TRUST_USAGE "  --trust FILE       STI-PA trust anchors, PEM (overrides trust_anchors)\n"

#endif
