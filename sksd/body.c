/*
 * Request bodies of sksd: the size limits and the framing of RFC 9112
 * section 6.3.  Bodies over the limit are refused by Content-Length before
 * they are read, or while they stream; a request whose body length is
 * ambiguous is refused before routing, on every listener, and its
 * connection closed: whatever follows it on the connection cannot be told
 * apart from its body.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sksd/sksd.h"

/* A chunked body past the limit is read and dropped up to this much more, then cut. */
#define DISCARD_MAX (1024 * 1024)

bool sksd_body_declared_too_big(struct MHD_Connection *c, size_t max)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared;
    char *end;

    if (cl == NULL)
        return false;
    errno = 0;
    declared = strtoull(cl, &end, 10);
    return errno != 0 || *end != '\0' || declared > max;
}

bool sksd_body_take(struct sksd_req *r, const char *data, size_t len)
{
    if (!r->too_big && len <= r->body_cap - r->body_len) {
        memcpy(r->body + r->body_len, data, len);
        r->body_len += len;
        return true;
    }
    r->too_big = true;
    r->discarded += len;
    return r->discarded <= DISCARD_MAX;
}

enum MHD_Result sksd_body_too_big(struct sksd_req *r, struct MHD_Connection *c, size_t max)
{
    r->close = true;
    return sksd_reply_errorf(r, c, 413, "body-too-large", "body",
                             "the request body is larger than the limit of %zu bytes", max);
}

struct framing {
    unsigned int n_length, n_encoding;
    const char *encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;

    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->n_length++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->n_encoding++;
        f->encoding = value;
    }
    return MHD_YES;
}

/*
 * Refuses a request whose body length two parsers could read differently:
 * repeated Content-Length, any Transfer-Encoding but one "chunked", or both
 * headers (RFC 9112 6.3 items 3 and 5: 400, then close).  libmicrohttpd
 * reads only the first of each, and none of Content-Length once there is a
 * Transfer-Encoding; a lone Content-Length that is not digits it refuses
 * itself (400, or 413 past 64 bits) before sksd sees the request.  Returns
 * true when it queued the refusal (|*ret|).
 */
bool sksd_body_framing_refused(struct sksd_req *r, struct MHD_Connection *c, enum MHD_Result *ret)
{
    struct framing f = {0};
    char msg[160];

    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.n_encoding > 1)
        snprintf(msg, sizeof(msg), "repeated Transfer-Encoding header: send one, chunked");
    else if (f.n_encoding == 1 && f.n_length > 0)
        snprintf(msg, sizeof(msg),
                 "both Transfer-Encoding and Content-Length headers: send one of them");
    else if (f.n_encoding == 1 && strcasecmp(f.encoding, "chunked") != 0)
        snprintf(msg, sizeof(msg), "Transfer-Encoding must be chunked alone, not %.64s",
                 f.encoding);
    else if (f.n_length > 1)
        snprintf(msg, sizeof(msg), "repeated Content-Length header: send one");
    else
        return false;
    r->close = true;
    *ret = sksd_reply_error(
        r, c, 400, "invalid-framing",
        f.n_encoding > 0 ? MHD_HTTP_HEADER_TRANSFER_ENCODING : MHD_HTTP_HEADER_CONTENT_LENGTH, msg);
    return true;
}
