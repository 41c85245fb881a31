/* Content negotiation of sksd (RFC 9110 section 12): Content-Type and Accept. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sksd/sksd.h"

bool sksd_media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);

    while (*value == ' ' || *value == '\t')
        value++;
    if (strncasecmp(value, type, n) != 0)
        return false;
    value += n;
    while (*value == ' ' || *value == '\t')
        value++;
    return *value == '\0' || *value == ';' || *value == ',';
}

/* q=0 means "not this one" (RFC 9110 section 12.4.2). */
static bool range_refused(const char *range, size_t len)
{
    const char *q = range;

    while ((q = memchr(q, ';', len - (size_t)(q - range))) != NULL) {
        q++;
        while (*q == ' ')
            q++;
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
            return strtod(q + 2, NULL) <= 0.0;
    }
    return false;
}

bool sksd_accepts_json(struct MHD_Connection *c)
{
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    const char *p;

    if (accept == NULL || accept[0] == '\0')
        return true;
    for (p = accept; p != NULL; p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 : NULL) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

        if ((sksd_media_type_is(p, "application/json") || sksd_media_type_is(p, "application/*") ||
             sksd_media_type_is(p, "*/*")) &&
            !range_refused(p, len))
            return true;
    }
    return false;
}
