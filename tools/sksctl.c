/*
 * sksctl: the administrator's and SP-KMS scripts' front end to shaken-sks.
 * Each subcommand lives in its own file; this one only dispatches.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/provider.h>

#include "tools/sksctl.h"

static const struct sksctl_cmd commands[] = {
    {"init-token", "initialise a token and set its user PIN (PINs from files)", cmd_init_token},
    {"keygen", "generate a P-256 signing key pair in the token", cmd_keygen},
    {"keyref", "write a key-reference PEM file for a token key", cmd_keyref},
    {"pki", "create a test STI-PA/STI-CA PKI and SP certificates", cmd_pki},
    {"cert-check", "check an SP certificate against the SHAKEN profile", cmd_cert_check},
    {"sign", "sign a PASSporT and print the SIP Identity header", cmd_sign},
    {"verify", "verify a SIP Identity header and say why it fails", cmd_verify},
    {"generate", "generate a key version in the token and write its CSR", cmd_generate},
    {"attach", "complete a generated key version with its certificate", cmd_attach},
    {"wrapping-key", "print the token's public key for wrapped imports", cmd_wrapping_key},
    {"wrap", "wrap a private key for a token's wrapping key (no token needed)", cmd_wrap},
    {"import", "import a key version: a software key or a wrapped one", cmd_import},
    {"import-batch", "import one key version per subdirectory of a directory", cmd_import_batch},
    {"list", "list identities and their key versions", cmd_list},
    {"activate", "make a key version the one an identity signs with", cmd_activate},
    {"retire", "destroy replaced key versions whose grace period is over", cmd_retire},
    {"destroy", "destroy one key version", cmd_destroy},
    {"sweep", "remove what interrupted commands left in the token", cmd_sweep},
    {"protect", "make keys that are still modifiable non-modifiable", cmd_protect},
    {"acme", "register with an ACME server, issue, revoke (sksctl acme --help)", cmd_acme},
    {"publish", "publish a key version's chain in the STI-CR and check its x5u", cmd_publish},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: sksctl COMMAND [OPTIONS]\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'sksctl COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return SKSCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sksctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return 0;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "sksctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SKSCTL_EXIT_USAGE;
}
