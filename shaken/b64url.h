/* base64url without padding (RFC 7515 section 2, RFC 4648 section 5). */
#ifndef SKS_B64URL_H
#define SKS_B64URL_H

#include <stddef.h>

/* Encoded length for |len| input bytes, excluding the terminating NUL. */
size_t b64url_encoded_len(size_t len);
/*
 * Encodes |len| bytes into |out|, which holds b64url_encoded_len(len) + 1
 * bytes, and NUL-terminates it.  Returns the encoded length.
 */
size_t b64url_encode(const unsigned char *in, size_t len, char *out);
/*
 * Decodes |len| characters of unpadded base64url into |out|, which holds at
 * least len * 3 / 4 bytes.  Padding, whitespace and characters outside the
 * base64url alphabet are rejected, as are non-canonical trailing bits.
 * Returns 0 and sets *outlen, or -1 on malformed input.
 */
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif
