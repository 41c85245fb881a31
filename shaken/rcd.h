/*
 * Rich Call Data (RFC 9795): the rcd claim (what the called party is shown:
 * nam, the caller's name; apn, an alternate presentation number; icn, the
 * URL of an icon; jcd, a jCard (RFC 7095), or jcl, the URL of one), crn
 * (the call reason) and rcdi, the integrity digests of what rcd points at.
 *
 * rcdi maps a JSON pointer (RFC 6901) into rcd to "ALG-BASE64DIGEST" (the
 * W3C Subresource Integrity form, ALG sha256, sha384 or sha512): a pointer
 * at a URL ("/icn", "/jcl", "/jcd/1/2/3" for a jCard property of type uri)
 * covers the bytes the URL serves; "/jcd" covers the jCard itself, as
 * canonical JSON (RFC 8785).  Once rcdi is there it must cover every URL in
 * rcd: content that no digest protects is content anyone can swap.
 */
#ifndef SKS_RCD_H
#define SKS_RCD_H

#include <jansson.h>
#include <openssl/evp.h>

#include "common/error.h"
#include "shaken/passport.h"

/* The longest nam kept (RFC 9795 sets none; a SIP display-name is far shorter). */
#define SKS_RCD_NAM_MAX 256
/* The most URLs (and jCard properties) in one rcd. */
#define SKS_RCD_URLS_MAX 16

/*
 * Reads the rcd, rcdi and crn members of |obj| (the claims of a PASSporT,
 * or sksd's signingRequest) into |pp|, checking them (an absent member
 * leaves its field ""): in SKS_CLAIMS_TO_SIGN mode apn is canonicalized and
 * a member rcd does not define is refused; in SKS_CLAIMS_RECEIVED mode apn
 * must be canonical and unknown members are kept (RFC 9795 lets rcd grow).
 * Errors name the member ("rcd.jcd[1][2]") with the code "invalid-rcd".
 */
sks_status sks_rcd_read(const json_t *obj, enum sks_claims_mode mode, struct sks_passport *pp,
                        struct sks_error *err);

/*
 * The digest with |md| of what |url| serves, in |out| (|*len| bytes), for
 * sks_rcdi_compute() and sks_rcdi_check(): fetched, or found in a cache.
 */
typedef sks_status (*sks_rcd_digest_fn)(void *ctx, const char *url, const EVP_MD *md,
                                        unsigned char out[EVP_MAX_MD_SIZE], unsigned int *len,
                                        struct sks_error *err);

/* Sets |pp|'s rcdi to SHA-256 digests of every URL in its rcd (through |digest|) and of its jcd. */
sks_status sks_rcdi_compute(struct sks_passport *pp, sks_rcd_digest_fn digest, void *ctx,
                            struct sks_error *err);

/*
 * Checks |pp|'s rcdi against its rcd: every URL in rcd has a digest, every
 * digest points at something in rcd, and each matches what it covers (a
 * URL's content through |digest|).  SKS_OK; SKS_ERR_VERIFY when a digest is
 * missing or differs; otherwise what |digest| failed with.  Without rcdi,
 * SKS_OK when rcd points at no URL, and SKS_ERR_NOT_FOUND ("... is not
 * integrity-protected") when it does.
 */
sks_status sks_rcdi_check(const struct sks_passport *pp, sks_rcd_digest_fn digest, void *ctx,
                          struct sks_error *err);

#endif
