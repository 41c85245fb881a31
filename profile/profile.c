/*
 * The SHAKEN end-entity certificate profile (ATIS-1000080, RFC 8226) and
 * chain validation to the STI-PA trust anchors.
 *
 * Every rule runs on every certificate, so an administrator sees all that is
 * wrong with a certificate at once rather than one fault per attempt.  The
 * checks only read the certificate; a hostile one can make them report rules
 * broken but never stop the others.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "profile/certs.h"
#include "profile/profile.h"
#include "profile/tnauthlist.h"

static const struct {
    enum sks_profile_rule rule;
    const char *name;
} rule_names[] = {
    {SKS_RULE_KEY_P256, "key-p256"},     {SKS_RULE_SIG_ALG, "sig-alg"},
    {SKS_RULE_KEY_USAGE, "key-usage"},   {SKS_RULE_BASIC_CONSTRAINTS, "basic-constraints"},
    {SKS_RULE_TNAUTHLIST, "tnauthlist"}, {SKS_RULE_SUBJECT_CN, "subject-cn"},
    {SKS_RULE_POLICY, "policy"},         {SKS_RULE_CRL_DP, "crl-dp"},
    {SKS_RULE_VALIDITY, "validity"},     {SKS_RULE_CHAIN, "chain"},
};

const char *sks_profile_rule_name(enum sks_profile_rule rule)
{
    size_t i;

    for (i = 0; i < sizeof(rule_names) / sizeof(rule_names[0]); i++) {
        if (rule_names[i].rule == rule)
            return rule_names[i].name;
    }
    return "unknown-rule";
}

/* Records one broken rule as a "name: what is wrong" line of the detail. */
static void broken(struct sks_profile_result *res, enum sks_profile_rule rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void broken(struct sks_profile_result *res, enum sks_profile_rule rule, const char *fmt, ...)
{
    size_t used = strlen(res->detail);
    size_t room = sizeof(res->detail) - used;
    va_list ap;
    int n;

    res->broken |= (unsigned int)rule;
    n = snprintf(res->detail + used, room, "%s: ", sks_profile_rule_name(rule));
    if (n < 0 || (size_t)n >= room)
        return;
    used += (size_t)n;
    room -= (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(res->detail + used, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room - 1) {
        /* Keep the line structure even when the detail overflows. */
        res->detail[sizeof(res->detail) - 2] = '\n';
        res->detail[sizeof(res->detail) - 1] = '\0';
        return;
    }
    strcat(res->detail + used, "\n");
}

/* Copies certificate bytes (not NUL-terminated) into a message, unprintables as '?'. */
static void printable(char *out, size_t outsize, const unsigned char *in, size_t inlen)
{
    size_t i, n = inlen < outsize - 1 ? inlen : outsize - 1;

    for (i = 0; i < n; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '?';
    out[n] = '\0';
}

static const char *ext_presence(int crit)
{
    return crit == -1   ? "extension is absent"
           : crit == -2 ? "extension appears more than once"
                        : "extension does not decode";
}

/* ATIS-1000080: the key is EC on the named curve P-256. */
sks_status sks_profile_check_key(EVP_PKEY *pk, struct sks_error *err)
{
    char group[64] = "";
    int explicit_params = 0;
    sks_status st = SKS_OK;

    if (pk == NULL)
        return sks_fail(err, SKS_ERR_POLICY,
                        "public key does not decode; an EC P-256 key is required");
    if (!EVP_PKEY_is_a(pk, "EC")) {
        const char *type = EVP_PKEY_get0_type_name(pk);

        return sks_fail(err, SKS_ERR_POLICY, "public key is %s; an EC P-256 key is required",
                        type != NULL ? type : "of an unknown type");
    }
    ERR_set_mark();
    if (EVP_PKEY_get_int_param(pk, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
                               &explicit_params) &&
        explicit_params)
        st = sks_fail(err, SKS_ERR_POLICY,
                      "EC key has explicit curve parameters; the named curve P-256 is required");
    else if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) ||
             strcmp(group, SN_X9_62_prime256v1) != 0)
        st = sks_fail(err, SKS_ERR_POLICY, "EC key is on curve %s; P-256 (prime256v1) is required",
                      group[0] != '\0' ? group : "(unnamed)");
    ERR_pop_to_mark();
    return st;
}

static void check_key(X509 *ee, struct sks_profile_result *res)
{
    struct sks_error err;

    sks_error_clear(&err);
    if (sks_profile_check_key(X509_get0_pubkey(ee), &err) != SKS_OK)
        broken(res, SKS_RULE_KEY_P256, "%s", err.msg);
}

static void check_sig_alg(X509 *ee, struct sks_profile_result *res)
{
    const X509_ALGOR *outer = NULL, *inner = X509_get0_tbs_sigalg(ee);
    const ASN1_OBJECT *obj = NULL;
    int ptype = V_ASN1_UNDEF;
    char name[80] = "";

    X509_get0_signature(NULL, &outer, ee);
    X509_ALGOR_get0(&obj, &ptype, NULL, outer);
    if (OBJ_obj2nid(obj) != NID_ecdsa_with_SHA256) {
        if (obj == NULL || OBJ_obj2txt(name, sizeof(name), obj, 0) <= 0)
            strcpy(name, "(unreadable algorithm)");
        broken(res, SKS_RULE_SIG_ALG, "signed with %s; ecdsa-with-SHA256 is required", name);
    } else if (ptype != V_ASN1_UNDEF) {
        broken(res, SKS_RULE_SIG_ALG,
               "ecdsa-with-SHA256 carries parameters; RFC 5758 3.2 requires them absent");
    }
    if (X509_ALGOR_cmp(outer, inner) != 0)
        broken(res, SKS_RULE_SIG_ALG,
               "signature algorithm inside the signed part differs from the outer one");
}

/* RFC 5280 4.2.1.3 bit order. */
static const char *const ku_bits[] = {
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "keyCertSign",      "cRLSign",        "encipherOnly",    "decipherOnly",
};

static void check_key_usage(X509 *ee, struct sks_profile_result *res)
{
    int crit = -1, i, nbits;
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(ee, NID_key_usage, &crit, NULL);
    char extra[160] = "";

    if (ku == NULL) {
        broken(res, SKS_RULE_KEY_USAGE,
               "%s; a critical KeyUsage of digitalSignature only is required", ext_presence(crit));
        return;
    }
    if (!crit)
        broken(res, SKS_RULE_KEY_USAGE,
               "extension is not critical; ATIS-1000080 requires it critical");
    if (!ASN1_BIT_STRING_get_bit(ku, 0))
        broken(res, SKS_RULE_KEY_USAGE, "digitalSignature is not asserted; it is required");
    nbits = ASN1_STRING_length(ku) * 8;
    for (i = 1; i < nbits; i++) {
        size_t used = strlen(extra);

        if (!ASN1_BIT_STRING_get_bit(ku, i))
            continue;
        if (i < (int)(sizeof(ku_bits) / sizeof(ku_bits[0])))
            snprintf(extra + used, sizeof(extra) - used, "%s%s", used ? ", " : "", ku_bits[i]);
        else
            snprintf(extra + used, sizeof(extra) - used, "%sbit %d", used ? ", " : "", i);
    }
    if (extra[0] != '\0')
        broken(res, SKS_RULE_KEY_USAGE, "also asserts %s; digitalSignature only is required",
               extra);
    ASN1_BIT_STRING_free(ku);
}

static void check_basic_constraints(X509 *ee, struct sks_profile_result *res)
{
    int crit = -1;
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(ee, NID_basic_constraints, &crit, NULL);

    if (bc == NULL) {
        broken(res, SKS_RULE_BASIC_CONSTRAINTS, "%s; BasicConstraints with CA:FALSE is required",
               ext_presence(crit));
        return;
    }
    if (bc->ca)
        broken(res, SKS_RULE_BASIC_CONSTRAINTS,
               "asserts CA:TRUE; an end-entity certificate needs CA:FALSE");
    else if (bc->pathlen != NULL)
        broken(res, SKS_RULE_BASIC_CONSTRAINTS,
               "has a pathLenConstraint, which RFC 5280 4.2.1.9 allows only with CA:TRUE");
    BASIC_CONSTRAINTS_free(bc);
}

/* An SPC that passes spc_valid() is copied whole from the summary. */
_Static_assert(SKS_TNAUTHLIST_SPC_KEEP >= SKS_SPC_MAX, "TNAuthList summary truncates valid SPCs");

/* The SPC rule is shaken/rules.h's; a certificate that breaks it breaks the profile. */
static sks_status spc_valid(const struct sks_tnauthlist_summary *sum, struct sks_error *err)
{
    if (sks_spc_check(sum->first_spc, sum->first_spc_len, err) == SKS_OK)
        return SKS_OK;
    if (err != NULL)
        err->status = SKS_ERR_POLICY;
    return SKS_ERR_POLICY;
}

/* Messages here are bare ("holds 2 SPCs; ..."): callers say it is the TNAuthList. */
static sks_status tnauthlist_spc(X509 *cert, char spc[SKS_SPC_MAX + 1], struct sks_error *err)
{
    struct sks_tnauthlist_summary sum;
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    const ASN1_OCTET_STRING *value;
    sks_status st;
    int idx;

    spc[0] = '\0';
    if (oid == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    idx = X509_get_ext_by_OBJ(cert, oid, -1);
    if (idx < 0) {
        st = sks_fail(err, SKS_ERR_POLICY,
                      "extension (%s) is absent; a TNAuthList holding one SPC is required",
                      SKS_TNAUTHLIST_OID);
        goto done;
    }
    if (X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
        st = sks_fail(err, SKS_ERR_POLICY, "extension appears more than once");
        goto done;
    }
    value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    st = sks_tnauthlist_decode(ASN1_STRING_get0_data(value), (size_t)ASN1_STRING_length(value),
                               &sum, err);
    if (st != SKS_OK) {
        /* A malformed extension is a certificate breaking the rule, not bad caller input. */
        if (err != NULL)
            err->status = SKS_ERR_POLICY;
        st = SKS_ERR_POLICY;
        goto done;
    }
    if (sum.spcs != 1) {
        st = sks_fail(err, SKS_ERR_POLICY, "holds %zu SPCs; exactly one is required", sum.spcs);
        goto done;
    }
    if (sum.ranges + sum.ones != 0) {
        st = sks_fail(err, SKS_ERR_POLICY,
                      "holds %zu telephone-number entries besides the SPC; an SP certificate "
                      "carries exactly one SPC and nothing else",
                      sum.ranges + sum.ones);
        goto done;
    }
    st = spc_valid(&sum, err);
    if (st == SKS_OK)
        memcpy(spc, sum.first_spc, sum.first_spc_len + 1);
done:
    ASN1_OBJECT_free(oid);
    return st;
}

sks_status sks_cert_spc(X509 *cert, char spc[SKS_SPC_MAX + 1], struct sks_error *err)
{
    sks_status st;

    spc[0] = '\0';
    if (cert == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "no certificate to read the SPC from");
    ERR_set_mark();
    st = tnauthlist_spc(cert, spc, err);
    ERR_pop_to_mark();
    if (st != SKS_OK)
        sks_error_prefix(err, "certificate TNAuthList");
    return st;
}

/* ATIS-1000080: the subject CN is "SHAKEN " followed by the SPC. */
static void check_subject_cn(X509 *ee, const char *spc, struct sks_profile_result *res)
{
    static const char prefix[] = "SHAKEN ";
    const X509_NAME *name = X509_get_subject_name(ee);
    unsigned char *cn = NULL;
    char shown[65];
    int idx, len;

    idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) {
        broken(res, SKS_RULE_SUBJECT_CN, "subject has no CN; CN \"SHAKEN <SPC>\" is required");
        return;
    }
    if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) {
        broken(res, SKS_RULE_SUBJECT_CN, "subject has more than one CN; exactly one is required");
        return;
    }
    len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (len < 0) {
        broken(res, SKS_RULE_SUBJECT_CN, "CN does not decode as a string");
        return;
    }
    printable(shown, sizeof(shown), cn, (size_t)len);
    if (spc != NULL) {
        size_t want = sizeof(prefix) - 1 + strlen(spc);

        if ((size_t)len != want || memcmp(cn, prefix, sizeof(prefix) - 1) != 0 ||
            memcmp(cn + sizeof(prefix) - 1, spc, strlen(spc)) != 0)
            broken(res, SKS_RULE_SUBJECT_CN,
                   "CN is \"%s\"; \"SHAKEN %s\" is required (the SPC of the TNAuthList)", shown,
                   spc);
    } else if ((size_t)len <= sizeof(prefix) - 1 || memcmp(cn, prefix, sizeof(prefix) - 1) != 0) {
        /* Without a usable SPC only the form can be checked; tnauthlist says why. */
        broken(res, SKS_RULE_SUBJECT_CN, "CN is \"%s\"; \"SHAKEN <SPC>\" is required", shown);
    }
    OPENSSL_free(cn);
}

static void check_policy(X509 *ee, struct sks_profile_result *res)
{
    int crit = -1;
    CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(ee, NID_certificate_policies, &crit, NULL);

    char oid[128];

    if (pol == NULL) {
        broken(res, SKS_RULE_POLICY,
               "certificatePolicies %s; a SHAKEN certificate policy OID (" SKS_SHAKEN_CP_V1_3_OID
               " or " SKS_SHAKEN_CP_V1_4_OID ") is required",
               ext_presence(crit));
        return;
    }
    if (sk_POLICYINFO_num(pol) != 1) {
        broken(res, SKS_RULE_POLICY,
               "certificatePolicies lists %d policy OIDs; exactly one, the SHAKEN CP, is required",
               sk_POLICYINFO_num(pol));
        goto done;
    }
    OBJ_obj2txt(oid, sizeof(oid), sk_POLICYINFO_value(pol, 0)->policyid, 1);
    if (strcmp(oid, SKS_SHAKEN_CP_V1_3_OID) == 0 || strcmp(oid, SKS_SHAKEN_CP_V1_4_OID) == 0)
        goto done;
    /*
     * ATIS-1000080 asks for a SHAKEN CP: any other OID breaks the profile.
     * An older or newer CP version under the SHAKEN arc still meets it; that
     * the STI-GA superseded v1.1 and v1.2 is a warning, so that certificates
     * issued under them stay usable until they expire.
     */
    if (strncmp(oid, SKS_SHAKEN_CP_ARC, strlen(SKS_SHAKEN_CP_ARC)) != 0)
        broken(res, SKS_RULE_POLICY,
               "certificate policy %s is not a SHAKEN CP (" SKS_SHAKEN_CP_V1_3_OID
               " or " SKS_SHAKEN_CP_V1_4_OID ")",
               oid);
    else
        snprintf(res->warning, sizeof(res->warning),
                 "policy: certificate policy %s is %s SHAKEN CP version; SHAKEN PKI linters refuse "
                 "it: current SP certificates carry " SKS_SHAKEN_CP_V1_3_OID
                 " (CP v1.3) or " SKS_SHAKEN_CP_V1_4_OID " (CP v1.4)",
                 oid,
                 strcmp(oid, SKS_SHAKEN_CP_ARC "1") == 0 || strcmp(oid, SKS_SHAKEN_CP_ARC "2") == 0
                     ? "a superseded"
                     : "an unknown");
done:
    CERTIFICATEPOLICIES_free(pol);
}

static int dist_point_has_uri(const DIST_POINT *dp)
{
    int i;

    if (dp->distpoint == NULL || dp->distpoint->type != 0)
        return 0;
    for (i = 0; i < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); i++) {
        if (sk_GENERAL_NAME_value(dp->distpoint->name.fullname, i)->type == GEN_URI)
            return 1;
    }
    return 0;
}

static void check_crl_dp(X509 *ee, struct sks_profile_result *res)
{
    int crit = -1, i, found = 0;
    CRL_DIST_POINTS *dps = X509_get_ext_d2i(ee, NID_crl_distribution_points, &crit, NULL);

    if (dps == NULL) {
        broken(res, SKS_RULE_CRL_DP,
               "cRLDistributionPoints %s; a CRL distribution point URI is required",
               ext_presence(crit));
        return;
    }
    for (i = 0; i < sk_DIST_POINT_num(dps) && !found; i++)
        found = dist_point_has_uri(sk_DIST_POINT_value(dps, i));
    if (!found)
        broken(res, SKS_RULE_CRL_DP,
               "cRLDistributionPoints names no URI; a CRL distribution point URI is required");
    CRL_DIST_POINTS_free(dps);
}

static void check_validity(X509 *ee, time_t now, struct sks_profile_result *res)
{
    time_t not_before, not_after;
    char when[32], at[32];

    sks_time_format(at, sizeof(at), now);
    if (!sks_asn1_time(X509_get0_notBefore(ee), &not_before) ||
        !sks_asn1_time(X509_get0_notAfter(ee), &not_after)) {
        broken(res, SKS_RULE_VALIDITY, "notBefore or notAfter does not decode");
        return;
    }
    res->not_after = not_after;
    if (not_before > now) {
        sks_time_format(when, sizeof(when), not_before);
        broken(res, SKS_RULE_VALIDITY, "not valid before %s (checked at %s)", when, at);
    }
    if (not_after < now) {
        sks_time_format(when, sizeof(when), not_after);
        broken(res, SKS_RULE_VALIDITY, "expired at %s (checked at %s)", when, at);
    }
}

/* True when every critical extension OpenSSL does not handle is the TNAuthList. */
static int only_tnauthlist_unhandled(X509 *x)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(SKS_TNAUTHLIST_OID, 1);
    int i, ok = oid != NULL;

    for (i = 0; ok && i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *ex = X509_get_ext(x, i);

        if (X509_EXTENSION_get_critical(ex) && !X509_supported_extension(ex) &&
            OBJ_cmp(X509_EXTENSION_get_object(ex), oid) != 0)
            ok = 0;
    }
    ASN1_OBJECT_free(oid);
    return ok;
}

static int chain_verify_cb(int ok, X509_STORE_CTX *ctx)
{
    if (ok)
        return 1;
    switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        /* The end entity's own validity period is the validity rule. */
        return X509_STORE_CTX_get_error_depth(ctx) == 0;
    case X509_V_ERR_CRL_NOT_YET_VALID:
        /*
         * A CRL issued after the time judged (a call's time, a CRL fetched
         * a moment later) is the issuer's newest word: a certificate it
         * does not list was not revoked then either, and one it lists is
         * revoked.  Its signature and its nextUpdate are still checked.
         */
        return 1;
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
        /* RFC 8226 leaves criticality open; OpenSSL knows no TNAuthList. */
        return only_tnauthlist_unhandled(X509_STORE_CTX_get_current_cert(ctx));
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        /*
         * A CA certificate that names no CRL distribution point (a root, an
         * STI-CA issued without one) has no CRL to be held to; the signer's
         * certificate must name one (the crl-dp rule) and have it.
         */
        return X509_STORE_CTX_get_error_depth(ctx) > 0 &&
               X509_get_ext_by_NID(X509_STORE_CTX_get_current_cert(ctx),
                                   NID_crl_distribution_points, -1) < 0;
    default:
        return 0;
    }
}

static void check_chain(X509 *ee, STACK_OF(X509) * intermediates, X509_STORE *roots,
                        STACK_OF(X509_CRL) * crls, time_t now, struct sks_profile_result *res)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param;
    char subject[128] = "";
    X509 *at;
    int depth, e;

    if (ctx == NULL || !X509_STORE_CTX_init(ctx, roots, ee, intermediates)) {
        broken(res, SKS_RULE_CHAIN, "could not be checked (out of memory)");
        goto done;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (crls != NULL) {
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    X509_VERIFY_PARAM_set_time(param, now);
    X509_STORE_CTX_set_verify_cb(ctx, chain_verify_cb);
    if (X509_verify_cert(ctx) > 0)
        goto done;
    e = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    at = X509_STORE_CTX_get_current_cert(ctx);
    if (at != NULL)
        X509_NAME_oneline(X509_get_subject_name(at), subject, sizeof(subject));
    if (e == X509_V_ERR_CERT_REVOKED && depth == 0) {
        broken(res, SKS_RULE_CHAIN, "is revoked: its issuer's CRL lists it (depth 0%s%s)",
               subject[0] ? ", " : "", subject);
        goto done;
    }
    if (e == X509_V_ERR_CERT_REVOKED) {
        broken(res, SKS_RULE_CHAIN,
               "is revoked: its issuer's CRL lists the intermediate (STI-CA) certificate at "
               "depth %d%s%s",
               depth, subject[0] ? ", " : "", subject);
        goto done;
    }
    if (e == X509_V_ERR_UNABLE_TO_GET_CRL) {
        broken(res, SKS_RULE_CHAIN, "unable to get certificate CRL: %s (depth %d%s%s)",
               at != NULL && X509_get_ext_by_NID(at, NID_crl_distribution_points, -1) >= 0
                   ? "no CRL of its issuer is at hand for the distribution point it names"
                   : "it names no CRL distribution point",
               depth, subject[0] ? ", " : "", subject);
        goto done;
    }
    broken(res, SKS_RULE_CHAIN, "does not verify to a configured STI-PA root: %s (depth %d%s%s)",
           e != X509_V_OK ? X509_verify_cert_error_string(e) : "internal verification error", depth,
           subject[0] ? ", " : "", subject);
done:
    X509_STORE_CTX_free(ctx);
}

/* err gets "certificate breaks the SHAKEN profile: line; line; ..." */
static sks_status summarise(const struct sks_profile_result *res, struct sks_error *err)
{
    char joined[2 * sizeof(res->detail)];
    size_t i, n, j = 0;

    n = strlen(res->detail);
    while (n > 0 && res->detail[n - 1] == '\n')
        n--;
    for (i = 0; i < n; i++) {
        if (res->detail[i] == '\n') {
            joined[j++] = ';';
            joined[j++] = ' ';
        } else {
            joined[j++] = res->detail[i];
        }
    }
    joined[j] = '\0';
    return sks_fail(err, SKS_ERR_POLICY, "certificate breaks the SHAKEN profile: %s", joined);
}

sks_status sks_profile_check(X509 *ee, STACK_OF(X509) * intermediates, X509_STORE *roots,
                             time_t now, struct sks_profile_result *res, struct sks_error *err)
{
    return sks_profile_check_crls(ee, intermediates, roots, NULL, now, res, err);
}

sks_status sks_profile_check_crls(X509 *ee, STACK_OF(X509) * intermediates, X509_STORE *roots,
                                  STACK_OF(X509_CRL) * crls, time_t now,
                                  struct sks_profile_result *res, struct sks_error *err)
{
    struct sks_error spc_err;

    memset(res, 0, sizeof(*res));
    if (ee == NULL)
        return sks_fail(err, SKS_ERR_INPUT, "no certificate to check");
    /* OpenSSL errors met while reading a hostile certificate are not ours to leave. */
    ERR_set_mark();
    check_key(ee, res);
    check_sig_alg(ee, res);
    check_key_usage(ee, res);
    check_basic_constraints(ee, res);
    sks_error_clear(&spc_err);
    if (tnauthlist_spc(ee, res->spc, &spc_err) != SKS_OK)
        broken(res, SKS_RULE_TNAUTHLIST, "%s", spc_err.msg);
    check_subject_cn(ee, res->spc[0] != '\0' ? res->spc : NULL, res);
    check_policy(ee, res);
    check_crl_dp(ee, res);
    check_validity(ee, now, res);
    if (roots != NULL)
        check_chain(ee, intermediates, roots, crls, now, res);
    ERR_pop_to_mark();
    return res->broken == 0 ? SKS_OK : summarise(res, err);
}
