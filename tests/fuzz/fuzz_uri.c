/*
 * libFuzzer target: the provider's reading of PKCS#11 URIs (RFC 7512),
 * prov_parse_uri(), which every URI a user hands to OpenSSL goes through:
 * p11-kit's parser, then our refusals (attributes we do not know, pin-value).
 *
 * Besides "no crash, no leak", a URI that is taken must be one the rest of
 * the provider can trust: no pin-value, nothing unrecognised, and p11-kit's
 * own formatting of it must be taken again.  A refusal must say why, and
 * must not repeat a PIN the URI carried: error messages end up in logs.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "provider/prov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Formats |uri| with p11-kit and parses the result again: it must be taken. */
static void check_round_trip(P11KitUri *uri)
{
    struct sks_error err;
    P11KitUri *again = NULL;
    char *text = NULL;

    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_ANY, &text) != P11_KIT_URI_OK)
        return;
    sks_error_clear(&err);
    if (prov_parse_uri(text, &again, &err) != SKS_OK) {
        fprintf(stderr, "fuzz_uri: \"%s\", p11-kit's formatting of a URI we took, is refused: %s\n",
                text, err.msg);
        abort();
    }
    p11_kit_uri_free(again);
    free(text);
}

/*
 * A message that quotes "pin-value=" with a value after it repeats the PIN.
 * The refusal of pin-value itself names the attribute without '='.
 */
static void check_no_pin_in_message(const char *msg)
{
    const char *p;

    for (p = strstr(msg, "pin-value="); p != NULL; p = strstr(p + 1, "pin-value=")) {
        if (p[10] != '\0' && p[10] != ';' && p[10] != '&' && p[10] != '"') {
            fprintf(stderr, "fuzz_uri: a refusal repeats the PIN of the URI: %s\n", msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sks_error err;
    P11KitUri *uri = NULL;
    char *text;

    /* URIs reach the provider as C strings: an embedded NUL ends them. */
    text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sks_error_clear(&err);
    if (prov_parse_uri(text, &uri, &err) == SKS_OK) {
        if (uri == NULL || p11_kit_uri_get_pin_value(uri) != NULL ||
            p11_kit_uri_any_unrecognized(uri))
            abort();
        check_round_trip(uri);
        p11_kit_uri_free(uri);
    } else if (err.status == SKS_OK || err.msg[0] == '\0') {
        abort();
    } else {
        check_no_pin_in_message(err.msg);
    }
    free(text);
    return 0;
}
