/*
 * The one curve of STIR/SHAKEN (RFC 8225 ES256): P-256 sizes and its OID,
 * shared by the PKCS#11 layer, the provider, the key store and the tools.
 * Here, at the bottom of the tree, because the layers that use them do not
 * depend on each other.
 */
#ifndef SKS_COMMON_P256_H
#define SKS_COMMON_P256_H

/* SEC 1 2.3.3: an uncompressed point, 0x04 || X || Y, 32 bytes each. */
#define SKS_P256_POINT_LEN 65

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7): CKA_EC_PARAMS of a P-256 key. */
/* clang-format off */
#define SKS_P256_OID_DER {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
/* clang-format on */
#define SKS_P256_OID_DER_LEN 10

#endif
