/* RFC 8224 section 8.3: the canonical form of a telephone number. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shaken/tn.h"

/* How much of a hostile input a message repeats. */
#define TN_QUOTE_MAX 44

static bool is_visual_separator(char c)
{
    return c == '-' || c == '.' || c == '(' || c == ')' || c == ' ';
}

static bool is_tn_char(char c)
{
    return (c >= '0' && c <= '9') || c == '#' || c == '*';
}

const char *sks_printable(const char *in, char *buf, size_t size)
{
    size_t i, max = size > 4 ? size - 4 : 0;

    for (i = 0; in[i] != '\0' && i < max; i++)
        buf[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    if (in[i] != '\0' && size >= 4) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    if (size > 0)
        buf[i] = '\0';
    return buf;
}

static sks_status bad_char(const char *in, size_t pos, struct sks_error *err)
{
    char q[TN_QUOTE_MAX], what[8];
    unsigned char c = (unsigned char)in[pos];

    if (c >= 0x20 && c < 0x7f)
        snprintf(what, sizeof(what), "'%c'", c);
    else
        snprintf(what, sizeof(what), "0x%02x", c);
    return sks_fail(err, SKS_ERR_INPUT,
                    "TN \"%s\" contains %s at position %zu: a TN is digits, '#' and '*', "
                    "with an optional leading '+' and the separators - . ( ) and space "
                    "(RFC 8224 section 8.3)",
                    sks_printable(in, q, sizeof(q)), what, pos + 1);
}

sks_status sks_tn_canonicalize(const char *in, char out[SKS_TN_MAX + 1], struct sks_error *err)
{
    char q[TN_QUOTE_MAX];
    size_t i = 0, n = 0;

    while (is_visual_separator(in[i]))
        i++;
    if (in[i] == '+')
        i++;
    for (; in[i] != '\0'; i++) {
        if (is_visual_separator(in[i]))
            continue;
        if (!is_tn_char(in[i])) {
            out[0] = '\0';
            return bad_char(in, i, err);
        }
        /* Count past the limit so that the message can say how long it is. */
        if (n < SKS_TN_MAX)
            out[n] = in[i];
        n++;
    }
    if (n == 0) {
        out[0] = '\0';
        return sks_fail(err, SKS_ERR_INPUT,
                        "TN \"%s\" is empty: it needs at least one digit, '#' or '*'",
                        sks_printable(in, q, sizeof(q)));
    }
    if (n > SKS_TN_MAX) {
        out[0] = '\0';
        return sks_fail(err, SKS_ERR_INPUT,
                        "TN \"%s\" has %zu digits; an E.164 number has at most %d",
                        sks_printable(in, q, sizeof(q)), n, SKS_TN_MAX);
    }
    out[n] = '\0';
    return SKS_OK;
}

sks_status sks_tn_check_canonical(const char *tn, struct sks_error *err)
{
    char canon[SKS_TN_MAX + 1], q[TN_QUOTE_MAX];

    if (sks_tn_canonicalize(tn, canon, err) != SKS_OK)
        return SKS_ERR_INPUT;
    if (strcmp(canon, tn) != 0)
        return sks_fail(err, SKS_ERR_INPUT,
                        "TN \"%s\" is not in canonical form; that would be \"%s\" "
                        "(RFC 8224 section 8.3)",
                        sks_printable(tn, q, sizeof(q)), canon);
    return SKS_OK;
}
