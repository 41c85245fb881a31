/*
 * The SHAKEN certificate profile (ATIS-1000080, RFC 8226) and chain
 * validation to the STI-PA trust anchors.
 */
#ifndef SKS_PROFILE_H
#define SKS_PROFILE_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/error.h"
#include "shaken/rules.h" /* SKS_SPC_MAX */

/* Every rule a SHAKEN end-entity certificate must meet; one bit each. */
enum sks_profile_rule {
    SKS_RULE_KEY_P256 = 1u << 0,          /* public key is EC P-256 */
    SKS_RULE_SIG_ALG = 1u << 1,           /* signed with ecdsa-with-SHA256 */
    SKS_RULE_KEY_USAGE = 1u << 2,         /* KeyUsage critical, digitalSignature only */
    SKS_RULE_BASIC_CONSTRAINTS = 1u << 3, /* BasicConstraints CA:FALSE */
    SKS_RULE_TNAUTHLIST = 1u << 4,        /* TNAuthList with exactly one SPC, [0-9A-Z]+ */
    SKS_RULE_SUBJECT_CN = 1u << 5,        /* CN is "SHAKEN <SPC>" */
    SKS_RULE_POLICY = 1u << 6,            /* a certificate policy OID */
    SKS_RULE_CRL_DP = 1u << 7,            /* a CRL distribution point */
    SKS_RULE_VALIDITY = 1u << 8,          /* notBefore <= now <= notAfter */
    SKS_RULE_CHAIN = 1u << 9,             /* chains to a configured STI-PA root */
};

struct sks_profile_result {
    unsigned int broken;       /* OR of the sks_profile_rule bits that failed */
    char spc[SKS_SPC_MAX + 1]; /* the SPC from the TNAuthList, "" if none */
    time_t not_after;
    char detail[1024]; /* one line per broken rule: "rule: what is wrong" */
    char warning[384]; /* what breaks no rule but needs a look; "" if nothing */
};

/*
 * SHAKEN certificate policy OIDs (the US SHAKEN CP, under the STI-GA arc):
 * ATIS-1000080 asks STI certificates for a single SHAKEN CP OID.  CP v1.3
 * and v1.4 are current; v1.1 and v1.2 are superseded, and linters of the
 * SHAKEN PKI refuse SP certificates that carry them.
 */
#define SKS_SHAKEN_CP_ARC "2.16.840.1.114569.1.1."
#define SKS_SHAKEN_CP_V1_3_OID SKS_SHAKEN_CP_ARC "3"
#define SKS_SHAKEN_CP_V1_4_OID SKS_SHAKEN_CP_ARC "4"

/* Short, stable name of one rule, e.g. "tnauthlist". */
const char *sks_profile_rule_name(enum sks_profile_rule rule);

/*
 * Checks |ee| against every rule (none stops the others) and, when |roots|
 * is not NULL, its chain through |intermediates| (may be NULL) to |roots|.
 * |now| is the validation time.  Returns SKS_OK when nothing is broken,
 * otherwise SKS_ERR_POLICY with |res| listing every broken rule and |err|
 * summarising them.  The SPC is filled in whenever the TNAuthList yields one
 * valid SPC, even when other rules are broken.
 */
sks_status sks_profile_check(X509 *ee, STACK_OF(X509) * intermediates, X509_STORE *roots,
                             time_t now, struct sks_profile_result *res, struct sks_error *err);
/*
 * sks_profile_check() that also holds the chain to |crls| (with |roots|):
 * |ee| and every certificate of its path that names a CRL distribution
 * point (the STI-CA, whose CRL the STI-PA publishes, ATIS-1000080) must
 * find the CRL of its issuer among them, signed by that issuer, not past
 * its nextUpdate at |now|, and not listing it.  A CRL whose lastUpdate is
 * after |now| (a call judged at its own time, a CRL published a moment
 * later) is the issuer's newest word and is held to.  A CA
 * certificate that names none (a root; an STI-CA issued without one) is
 * not held to a CRL: nothing says where its issuer publishes one, and a
 * revoked STI-CA cannot shed the distribution point it was issued with.
 * |ee| must name one (SKS_RULE_CRL_DP).  A revoked certificate, the
 * signer's or an STI-CA's, breaks SKS_RULE_CHAIN with "is revoked" and its
 * depth and subject.
 */
sks_status sks_profile_check_crls(X509 *ee, STACK_OF(X509) * intermediates, X509_STORE *roots,
                                  STACK_OF(X509_CRL) * crls, time_t now,
                                  struct sks_profile_result *res, struct sks_error *err);

/*
 * Extracts the single SPC from a TNAuthList extension (OID
 * 1.3.6.1.5.5.7.1.26, EXPLICIT tags).  SKS_ERR_POLICY if absent, not one SPC
 * or not [0-9A-Z]+.
 */
sks_status sks_cert_spc(X509 *cert, char spc[SKS_SPC_MAX + 1], struct sks_error *err);

/*
 * Checks that |pk| is an EC key on the named curve P-256, the only key a
 * SHAKEN certificate may carry (ATIS-1000080).  SKS_ERR_POLICY
 * names the key type or curve found otherwise.
 */
sks_status sks_profile_check_key(EVP_PKEY *pk, struct sks_error *err);

#endif
