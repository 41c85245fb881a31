/*
 * TNAuthList (RFC 8226 section 9) with OpenSSL's ASN.1 templates.  The
 * templates do the tag and length work; what they accept beyond DER
 * (indefinite and non-minimal lengths) is refused by re-encoding.
 */
#include "config.h"

#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "profile/tnauthlist.h"

typedef struct sks_tn_range_st {
    ASN1_IA5STRING *start;
    ASN1_INTEGER *count;
} SKS_TNRANGE;

typedef struct sks_tn_entry_st {
    int type;
    union {
        ASN1_IA5STRING *spc;
        SKS_TNRANGE *range;
        ASN1_IA5STRING *one;
    } u;
} SKS_TNENTRY;

DEFINE_STACK_OF(SKS_TNENTRY)

typedef STACK_OF(SKS_TNENTRY) SKS_TNAUTHLIST;

/* The template macros read best laid out like the ASN.1 they describe. */
// clang-format off
/* The extension marker "..." of TelephoneNumberRange admits no fields yet. */
ASN1_SEQUENCE(SKS_TNRANGE) = {
    ASN1_SIMPLE(SKS_TNRANGE, start, ASN1_IA5STRING),
    ASN1_SIMPLE(SKS_TNRANGE, count, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(SKS_TNRANGE)

/* RFC 8226 defines the module with EXPLICIT TAGS. */
ASN1_CHOICE(SKS_TNENTRY) = {
    ASN1_EXP(SKS_TNENTRY, u.spc, ASN1_IA5STRING, SKS_TN_SPC),
    ASN1_EXP(SKS_TNENTRY, u.range, SKS_TNRANGE, SKS_TN_RANGE),
    ASN1_EXP(SKS_TNENTRY, u.one, ASN1_IA5STRING, SKS_TN_ONE),
} static_ASN1_CHOICE_END(SKS_TNENTRY)

ASN1_ITEM_TEMPLATE(SKS_TNAUTHLIST) =
    ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, TNAuthorizationList, SKS_TNENTRY)
static_ASN1_ITEM_TEMPLATE_END(SKS_TNAUTHLIST)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SKS_TNENTRY)

static void list_free(SKS_TNAUTHLIST *list)
{
    ASN1_item_free((ASN1_VALUE *)list, ASN1_ITEM_rptr(SKS_TNAUTHLIST));
}
// clang-format on

static ASN1_IA5STRING *ia5_new(const char *value)
{
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (s != NULL && !ASN1_STRING_set(s, value, (int)strlen(value))) {
        ASN1_IA5STRING_free(s);
        s = NULL;
    }
    return s;
}

static SKS_TNENTRY *entry_new(const struct sks_tn_entry *in)
{
    SKS_TNENTRY *e = SKS_TNENTRY_new();

    if (e == NULL)
        return NULL;
    e->type = (int)in->type;
    switch (in->type) {
    case SKS_TN_SPC:
        e->u.spc = ia5_new(in->value);
        if (e->u.spc == NULL)
            goto err;
        break;
    case SKS_TN_ONE:
        e->u.one = ia5_new(in->value);
        if (e->u.one == NULL)
            goto err;
        break;
    case SKS_TN_RANGE:
        e->u.range = (SKS_TNRANGE *)ASN1_item_new(ASN1_ITEM_rptr(SKS_TNRANGE));
        if (e->u.range == NULL)
            goto err;
        if (!ASN1_STRING_set(e->u.range->start, in->value, (int)strlen(in->value)) ||
            !ASN1_INTEGER_set(e->u.range->count, in->count))
            goto err;
        break;
    default:
        goto err;
    }
    return e;
err:
    SKS_TNENTRY_free(e);
    return NULL;
}

sks_status sks_tnauthlist_encode(const struct sks_tn_entry *entries, size_t n, unsigned char **der,
                                 size_t *len, struct sks_error *err)
{
    SKS_TNAUTHLIST *list = NULL;
    unsigned char *out = NULL;
    sks_status st;
    int outlen;
    size_t i;

    if (n == 0)
        return sks_fail(err, SKS_ERR_INPUT, "a TNAuthList needs at least one entry");
    list = sk_SKS_TNENTRY_new_null();
    if (list == NULL)
        goto oom;
    for (i = 0; i < n; i++) {
        SKS_TNENTRY *e = entry_new(&entries[i]);

        if (e == NULL || !sk_SKS_TNENTRY_push(list, e)) {
            SKS_TNENTRY_free(e);
            st = sks_fail(err, SKS_ERR_INPUT, "cannot encode TNAuthList entry %zu (type %d)", i,
                          (int)entries[i].type);
            goto done;
        }
    }
    outlen = ASN1_item_i2d((ASN1_VALUE *)list, &out, ASN1_ITEM_rptr(SKS_TNAUTHLIST));
    if (outlen <= 0)
        goto oom;
    *der = out;
    *len = (size_t)outlen;
    st = SKS_OK;
    goto done;
oom:
    st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory encoding a TNAuthList");
done:
    list_free(list);
    return st;
}

/* RFC 8226: TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*")) */
static int tn_valid(const ASN1_IA5STRING *tn)
{
    static const char digits[] = "0123456789#*";
    const unsigned char *d = ASN1_STRING_get0_data(tn);
    int n = ASN1_STRING_length(tn);
    int i;

    if (n < 1 || n > 15)
        return 0;
    for (i = 0; i < n; i++) {
        if (memchr(digits, d[i], sizeof(digits) - 1) == NULL)
            return 0;
    }
    return 1;
}

static int range_valid(const SKS_TNRANGE *r)
{
    int64_t count;

    return tn_valid(r->start) && ASN1_INTEGER_get_int64(&count, r->count) && count >= 2;
}

static void note_spc(struct sks_tnauthlist_summary *sum, const ASN1_IA5STRING *spc)
{
    size_t n = (size_t)ASN1_STRING_length(spc);
    size_t keep = n < sizeof(sum->spc_buf) - 1 ? n : sizeof(sum->spc_buf) - 1;

    memcpy(sum->spc_buf, ASN1_STRING_get0_data(spc), keep);
    sum->spc_buf[keep] = '\0';
    sum->first_spc = sum->spc_buf;
    sum->first_spc_len = n;
}

static sks_status summarise(const SKS_TNAUTHLIST *list, struct sks_tnauthlist_summary *sum,
                            struct sks_error *err)
{
    int i, n = sk_SKS_TNENTRY_num(list);

    if (n <= 0)
        return sks_fail(err, SKS_ERR_INPUT, "is an empty list; SIZE (1..MAX) requires an entry");
    for (i = 0; i < n; i++) {
        const SKS_TNENTRY *e = sk_SKS_TNENTRY_value(list, i);

        switch (e->type) {
        case SKS_TN_SPC:
            if (sum->spcs++ == 0)
                note_spc(sum, e->u.spc);
            break;
        case SKS_TN_RANGE:
            if (!range_valid(e->u.range))
                return sks_fail(err, SKS_ERR_INPUT,
                                "entry %d is a malformed telephone-number range (start must be "
                                "1-15 of 0-9#*, count at least 2)",
                                i);
            sum->ranges++;
            break;
        case SKS_TN_ONE:
            if (!tn_valid(e->u.one))
                return sks_fail(err, SKS_ERR_INPUT,
                                "entry %d is a malformed telephone number (1-15 of 0-9#*)", i);
            sum->ones++;
            break;
        default:
            return sks_fail(err, SKS_ERR_INPUT, "entry %d has unknown type %d", i, e->type);
        }
    }
    return SKS_OK;
}

sks_status sks_tnauthlist_decode(const unsigned char *der, size_t len,
                                 struct sks_tnauthlist_summary *sum, struct sks_error *err)
{
    SKS_TNAUTHLIST *list = NULL;
    const unsigned char *p = der;
    unsigned char *again = NULL;
    int againlen;
    sks_status st;

    memset(sum, 0, sizeof(*sum));
    if (len > SKS_TNAUTHLIST_DER_MAX)
        return sks_fail(err, SKS_ERR_INPUT, "is %zu bytes; the limit is %d", len,
                        SKS_TNAUTHLIST_DER_MAX);
    ERR_set_mark();
    list = (SKS_TNAUTHLIST *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(SKS_TNAUTHLIST));
    if (list == NULL) {
        st = sks_fail(err, SKS_ERR_INPUT,
                      "does not decode as a SEQUENCE OF TNEntry ([0] SPC, [1] range or [2] TN, "
                      "EXPLICIT tags)");
        goto done;
    }
    if (p != der + len) {
        st = sks_fail(err, SKS_ERR_INPUT, "has %zu bytes of trailing data after the list",
                      (size_t)(der + len - p));
        goto done;
    }
    /* The templates also take BER; only the DER form re-encodes to itself. */
    againlen = ASN1_item_i2d((ASN1_VALUE *)list, &again, ASN1_ITEM_rptr(SKS_TNAUTHLIST));
    if (againlen < 0 || (size_t)againlen != len || memcmp(again, der, len) != 0) {
        st = sks_fail(err, SKS_ERR_INPUT, "is BER, not DER (lengths or tags not in DER form)");
        goto done;
    }
    st = summarise(list, sum, err);
done:
    OPENSSL_free(again);
    list_free(list);
    ERR_pop_to_mark();
    if (st != SKS_OK)
        memset(sum, 0, sizeof(*sum));
    return st;
}
