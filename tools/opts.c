/* sksctl's option tables, turned into getopt_long's (see opts.h). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/opts.h"
#include "tools/sksctl.h"

/* More than any command takes; a longer table is a bug caught by its first run. */
#define OPTS_MAX 32

/* getopt_long's value for the long form of opts[i]: above every letter. */
#define LONG_VAL(i) (0x100 + (i))

/* The entry getopt_long's |c| stands for; NULL for '?' and ':'. */
static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t n, int c)
{
    size_t i;

    if (c >= LONG_VAL(0) && c < LONG_VAL((int)n))
        return &opts[c - LONG_VAL(0)];
    for (i = 0; i < n; i++)
        if (opts[i].letter != 0 && opts[i].letter == c)
            return &opts[i];
    return NULL;
}

bool cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, int (*usage)(FILE *, int),
                    int *rc)
{
    struct option longopts[OPTS_MAX + 1];
    char letters[2 * OPTS_MAX + 1];
    const struct cli_opt *o;
    size_t n, len = 0;
    int c;

    for (n = 0; opts[n].name != NULL; n++) {
        if (n == OPTS_MAX) {
            fprintf(stderr, "sksctl %s: more than %d options in one command (a bug)\n", argv[0],
                    OPTS_MAX);
            *rc = sks_exit_code(SKS_ERR_INTERNAL);
            return false;
        }
        longopts[n].name = opts[n].name;
        longopts[n].has_arg = opts[n].kind == CLI_OPT_ARG || opts[n].kind == CLI_OPT_CALL
                                  ? required_argument
                                  : no_argument;
        longopts[n].flag = NULL;
        longopts[n].val = LONG_VAL((int)n);
        if (opts[n].letter != 0) {
            letters[len++] = (char)opts[n].letter;
            if (longopts[n].has_arg == required_argument)
                letters[len++] = ':';
        }
    }
    memset(&longopts[n], 0, sizeof(longopts[n]));
    letters[len] = '\0';

    while ((c = getopt_long(argc, argv, letters, longopts, NULL)) != -1) {
        if ((o = find_opt(opts, n, c)) == NULL) {
            *rc = usage(stderr, SKSCTL_EXIT_USAGE);
            return false;
        }
        switch (o->kind) {
        case CLI_OPT_ARG:
            *o->arg = optarg;
            break;
        case CLI_OPT_FLAG:
            *o->flag = true;
            break;
        case CLI_OPT_CALL:
            if ((*rc = o->call(optarg, o->ctx)) != 0)
                return false;
            break;
        case CLI_OPT_HELP:
            *rc = usage(stdout, 0);
            return false;
        }
    }
    return true;
}

int cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "sksctl %s: %s (see sksctl %s --help)\n", cmd, msg, cmd);
    return SKSCTL_EXIT_USAGE;
}

bool cli_parse_version(const char *s, unsigned int *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 0xffffff || s[0] == '-')
        return false;
    *out = (unsigned int)v;
    return true;
}
