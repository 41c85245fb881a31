/*
 * The TN Authorization List certificate extension (RFC 8226 section 9,
 * OID 1.3.6.1.5.5.7.1.26): DER encoding and strict decoding.
 *
 *   TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
 *   TNEntry ::= CHOICE {
 *     spc   [0] ServiceProviderCode,
 *     range [1] TelephoneNumberRange,
 *     one   [2] TelephoneNumber }
 *   ServiceProviderCode ::= IA5String
 *   TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
 *   TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
 *
 * The module uses EXPLICIT tags, so SPC "1234" is 30 08 A0 06 16 04 31 32 33 34.
 */
#ifndef SKS_TNAUTHLIST_H
#define SKS_TNAUTHLIST_H

#include <stddef.h>

#include "common/error.h"

#define SKS_TNAUTHLIST_OID "1.3.6.1.5.5.7.1.26"

/* Longest SPC the summary keeps whole; longer ones are truncated there. */
#define SKS_TNAUTHLIST_SPC_KEEP 64

/* Longest TNAuthList extension value the decoder looks at. */
#define SKS_TNAUTHLIST_DER_MAX 4096

/* The CHOICE alternatives; the values are the context tags. */
enum sks_tn_type {
    SKS_TN_SPC = 0,
    SKS_TN_RANGE = 1,
    SKS_TN_ONE = 2,
};

struct sks_tn_entry {
    enum sks_tn_type type;
    const char *value; /* the SPC, the TN, or the first TN of a range */
    long count;        /* range only: how many numbers */
};

/*
 * Encodes |n| (at least one) entries as a TNAuthorizationList.  The values
 * are encoded as given, unchecked, so tests can build non-compliant lists.
 * *der is freed with OPENSSL_free().
 */
sks_status sks_tnauthlist_encode(const struct sks_tn_entry *entries, size_t n, unsigned char **der,
                                 size_t *len, struct sks_error *err);

/* What a well-formed TNAuthList holds. */
struct sks_tnauthlist_summary {
    size_t spcs;           /* number of spc entries */
    size_t ranges;         /* number of range entries */
    size_t ones;           /* number of one (single TN) entries */
    const char *first_spc; /* points into |spc_buf|; NULL when there is no SPC */
    size_t first_spc_len;  /* full length of the first SPC, even if longer than the buffer */
    char spc_buf[SKS_TNAUTHLIST_SPC_KEEP + 1]; /* the first SPC, truncated, NUL-terminated */
};

/*
 * Decodes a DER TNAuthorizationList strictly: DER only (no indefinite or
 * non-minimal lengths), no trailing data, no empty list, telephone numbers
 * of 1..15 characters from "0123456789#*", range counts of at least 2.
 * SKS_ERR_INPUT names what is malformed.
 */
sks_status sks_tnauthlist_decode(const unsigned char *der, size_t len,
                                 struct sks_tnauthlist_summary *sum, struct sks_error *err);

#endif
