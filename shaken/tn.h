/* Telephone numbers in PASSporT claims: the canonical form of RFC 8224 8.3. */
#ifndef SKS_TN_H
#define SKS_TN_H

#include <stddef.h>

#include "common/error.h"

/* E.164 numbers have at most 15 digits (ITU-T E.164 section 6.1). */
#define SKS_TN_MAX 15

/*
 * Writes the canonical form of |in| to |out|: the visual separators
 * "-", ".", "(", ")" and space and a leading "+" are dropped; what is left
 * must be 1 to SKS_TN_MAX digits, "#" or "*".  Anything else fails with
 * SKS_ERR_INPUT and a message that names the TN and the problem.
 */
sks_status sks_tn_canonicalize(const char *in, char out[SKS_TN_MAX + 1], struct sks_error *err);

/*
 * SKS_OK when |tn| is already in canonical form, as the TNs of a received
 * PASSporT must be (RFC 8225 section 5.2.1); otherwise SKS_ERR_INPUT with a
 * message that says what is wrong.
 */
sks_status sks_tn_check_canonical(const char *tn, struct sks_error *err);

/*
 * A printable, bounded copy of untrusted |in| for error messages: bytes
 * outside printable ASCII become '?', and more than |size| - 4 bytes end
 * in "...".  Returns |buf|.
 */
const char *sks_printable(const char *in, char *buf, size_t size);

#endif
