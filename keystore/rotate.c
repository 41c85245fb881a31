/*
 * Rotation and clean-up: activate, retire, destroy, sweep.
 *
 * Activation is one record write: the new version becomes ACTIVE and the
 * one it replaces PREVIOUS, which verifiers may still meet in cached
 * PASSporTs (ATIS-1000080) and which stays usable until retire destroys it
 * after the grace period.
 *
 * Removal is ordered like creation, in reverse: the record first marks the
 * version WRITING (so it is no longer used), then its objects go, then its
 * entry.  Sweep finishes what a crash interrupted.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "keystore/internal.h"
#include "shaken/passport.h"

static sks_status load_existing(struct sks_keystore *ks, const char *identity, struct ks_ident *id,
                                struct sks_error *err)
{
    sks_status st = ks_ident_load(ks, identity, id, err);

    if (st == SKS_OK && !id->exists)
        st = sks_fail(err, SKS_ERR_NOT_FOUND, "no identity %s on %s", identity,
                      p11_token_uri(ks->tok));
    return st;
}

/*
 * Removes the versions |doomed| selects: marks them WRITING in one record
 * write, destroys their objects, then drops their entries (and the record
 * when nothing is left) in a second write.
 */
static sks_status remove_versions(struct sks_keystore *ks, struct ks_ident *id,
                                  bool (*doomed)(const struct ks_version *v, void *arg), void *arg,
                                  size_t *removed, struct sks_error *err)
{
    unsigned int gone[KS_VERSIONS_MAX];
    size_t i, n = 0;
    sks_status st;

    for (i = 0; i < id->rec.n; i++) {
        struct ks_version *v = &id->rec.v[i];
        if (!doomed(v, arg))
            continue;
        if (v->state == SKS_VERSION_ACTIVE)
            id->rec.active = 0;
        v->state = SKS_VERSION_WRITING;
        v->changed = ks_now();
        gone[n++] = v->n;
    }
    *removed = n;
    if (n == 0)
        return SKS_OK;
    /* Stored before any object goes: else the token could list a version without its key. */
    st = ks_ident_save(ks, id, err);
    if (st == SKS_OK)
        st = ks_verify_stored(ks, id->name, NULL, err);
    for (i = 0; st == SKS_OK && i < n; i++)
        st = ks_version_destroy_objects(ks, ks_record_find(&id->rec, gone[i]), err);
    if (st != SKS_OK)
        return st;
    for (i = 0; i < n; i++)
        ks_record_remove(&id->rec, gone[i]);
    if (id->rec.n == 0)
        return ks_ident_drop(ks, id, err);
    st = ks_ident_save(ks, id, err);
    return st == SKS_OK ? ks_verify_stored(ks, id->name, NULL, err) : st;
}

/* ---- activate ----------------------------------------------------------------------- */

/* |checked|: the CKA_ID of the version whose CRLs were checked; NULL: none were. */
static sks_status activate(struct sks_keystore *ks, const char *identity, unsigned int n,
                           const unsigned char *checked, struct sks_error *err)
{
    struct ks_ident id;
    struct ks_version *v, *old;
    char x5u[SKS_X5U_MAX + 1];
    X509 *cert = NULL;
    sks_status st;

    st = load_existing(ks, identity, &id, err);
    if (st != SKS_OK)
        return st;
    if ((v = ks_record_find(&id.rec, n)) == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no version %u", identity, n);
    if (checked != NULL && memcmp(v->id, checked, KS_ID_LEN) != 0)
        return sks_fail(err, SKS_ERR_UNAVAILABLE,
                        "identity %s version %u changed while its CRLs were checked; run again",
                        identity, n);
    if (v->state == SKS_VERSION_ACTIVE)
        return SKS_OK;
    if (v->state != SKS_VERSION_STANDBY && v->state != SKS_VERSION_PREVIOUS)
        return sks_fail(err, SKS_ERR_POLICY,
                        "identity %s version %u is %s: only a complete version can be activated",
                        identity, n, sks_version_state_name(v->state));
    st = ks_version_cert(ks, identity, v, &cert, x5u, err);
    if (st != SKS_OK)
        return st;
    /* Signing applies the same rule: an active version with a refused x5u could not sign. */
    if ((st = sks_x5u_check(x5u, err)) != SKS_OK)
        sks_error_prefix(err, "identity %s version %u cannot be activated", identity, n);
    else if (X509_cmp_time(X509_get0_notAfter(cert), NULL) <= 0)
        st = sks_fail(err, SKS_ERR_POLICY,
                      "validity: the certificate of %s version %u has expired; it cannot sign",
                      identity, n);
    X509_free(cert);
    if (st != SKS_OK)
        return st;
    if (id.rec.active != 0 && (old = ks_record_find(&id.rec, id.rec.active)) != NULL) {
        old->state = SKS_VERSION_PREVIOUS;
        old->changed = ks_now();
    }
    v->state = SKS_VERSION_ACTIVE;
    v->changed = ks_now();
    id.rec.active = n;
    st = ks_ident_save(ks, &id, err);
    return st == SKS_OK ? ks_verify_stored(ks, identity, NULL, err) : st;
}

sks_status sks_keystore_activate(struct sks_keystore *ks, const char *identity,
                                 unsigned int version, struct sks_error *err)
{
    unsigned char checked[KS_ID_LEN];
    sks_status st = SKS_OK;

    /* Fetched before the write lock: a slow CRL server holds up no writer. */
    if (ks->cfg.crls != NULL)
        st = ks_crl_check_for_activation(ks, identity, version, checked, err);
    if (st == SKS_OK)
        st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = activate(ks, identity, version, ks->cfg.crls != NULL ? checked : NULL, err);
        ks_write_unlock(ks);
    }
    return st;
}

/* ---- retire ------------------------------------------------------------------------- */

struct retire_arg {
    time_t now;
    long grace;
};

static bool grace_over(const struct ks_version *v, void *p)
{
    const struct retire_arg *a = p;

    return v->state == SKS_VERSION_PREVIOUS && v->changed + a->grace <= a->now;
}

static sks_status retire_one(struct sks_keystore *ks, const char *identity, time_t now,
                             struct sks_error *err)
{
    struct retire_arg a = {now, ks->cfg.grace_seconds};
    struct ks_ident id;
    size_t removed = 0;
    sks_status st;

    st = load_existing(ks, identity, &id, err);
    if (st == SKS_OK)
        st = remove_versions(ks, &id, grace_over, &a, &removed, err);
    return st;
}

struct names {
    char (*v)[SKS_IDENTITY_NAME_MAX + 1];
    size_t n;
};

static int collect_name(void *val, void *arg)
{
    struct names *names = arg;

    strcpy(names->v[names->n++], ((struct ks_data *)val)->name);
    return 0;
}

/* The names in the index: a copy, because writing may change the index. */
static sks_status all_names(struct ks_index *idx, struct names *names, struct sks_error *err)
{
    names->n = 0;
    names->v = calloc(idx->by_name.count + 1, sizeof(*names->v));
    if (names->v == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    ks_map_each(&idx->by_name, collect_name, names);
    return SKS_OK;
}

static sks_status retire(struct sks_keystore *ks, const char *identity, time_t now,
                         struct sks_error *err)
{
    struct ks_index *idx;
    struct names names = {NULL, 0};
    sks_status st;
    size_t i;

    if (identity != NULL)
        return retire_one(ks, identity, now, err);
    st = ks_index_get(ks, &idx, err);
    if (st == SKS_OK)
        st = all_names(idx, &names, err);
    if (st != SKS_OK)
        return st;
    for (i = 0; st == SKS_OK && i < names.n; i++)
        st = retire_one(ks, names.v[i], now, err);
    free(names.v);
    return st;
}

sks_status sks_keystore_retire(struct sks_keystore *ks, const char *identity, time_t now,
                               struct sks_error *err)
{
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = retire(ks, identity, now, err);
        ks_write_unlock(ks);
    }
    return st;
}

/* ---- destroy ------------------------------------------------------------------------ */

static bool is_version(const struct ks_version *v, void *p)
{
    return v->n == *(const unsigned int *)p;
}

static sks_status destroy(struct sks_keystore *ks, const char *identity, unsigned int n,
                          struct sks_error *err)
{
    struct ks_ident id;
    struct ks_version *v;
    size_t removed = 0;
    sks_status st;

    st = load_existing(ks, identity, &id, err);
    if (st != SKS_OK)
        return st;
    if ((v = ks_record_find(&id.rec, n)) == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s has no version %u", identity, n);
    if (v->state == SKS_VERSION_ACTIVE && id.rec.n == 1)
        return sks_fail(err, SKS_ERR_POLICY,
                        "identity %s version %u is active and the identity's only version: "
                        "destroying it would leave %s unable to sign; import a new version and "
                        "activate it first",
                        identity, n, identity);
    return remove_versions(ks, &id, is_version, &n, &removed, err);
}

sks_status sks_keystore_destroy(struct sks_keystore *ks, const char *identity, unsigned int version,
                                struct sks_error *err)
{
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = destroy(ks, identity, version, err);
        ks_write_unlock(ks);
    }
    return st;
}

/* ---- sweep -------------------------------------------------------------------------- */

struct sweep_arg {
    struct sks_keystore *ks;
    const char *name;
    time_t now;
};

static bool abandoned(const struct ks_version *v, void *p)
{
    const struct sweep_arg *a = p;
    const struct sks_keystore_config *cfg = &a->ks->cfg;

    if (v->state == SKS_VERSION_WRITING && v->changed + cfg->sweep_after <= a->now) {
        ks_warn(a->ks, "sweep: removed %s version %u, an unfinished write", a->name, v->n);
        return true;
    }
    if (v->state == SKS_VERSION_PENDING && v->changed + cfg->pending_max_age <= a->now) {
        ks_warn(a->ks, "sweep: removed %s version %u, pending without a certificate since %lld",
                a->name, v->n, (long long)v->changed);
        return true;
    }
    return false;
}

/*
 * The certificate chain stored with version |v| ("name/N/caK") meets the
 * rules an import checks, with the trust anchors configured; without them,
 * the certificate alone counts.  A write cut between the certificate and
 * its chain leaves a chain that does not reach the anchors.
 */
static bool chain_complete(struct sks_keystore *ks, const struct ks_version *v, X509 *cert)
{
    STACK_OF(X509) *chain = NULL;
    struct sks_profile_result res;
    bool ok;

    if (ks->cfg.roots == NULL)
        return true;
    ok = ks_version_chain(ks, v, &chain, NULL) == SKS_OK &&
         sks_profile_check(cert, chain, ks->cfg.roots, ks_now(), &res, NULL) == SKS_OK;
    sk_X509_pop_free(chain, X509_free);
    return ok;
}

/*
 * True when version |v| holds everything a complete version holds, on the
 * token as it is: the private key and the certificate labelled "name/N"
 * with the version's object ID, a chain that meets the import rules, an x5u
 * that signing accepts, and a key that signs for the certificate's public
 * key (a test signature, so that any token can answer, whether or not it
 * lets the key's public value be read).
 */
static bool version_complete(struct sks_keystore *ks, const char *name, const struct ks_version *v)
{
    static const unsigned char probe[] = "shaken-sks sweep: is this version complete?";
    unsigned char digest[SHA256_DIGEST_LENGTH], sig[SKS_ES256_SIG_LEN];
    char x5u[SKS_X5U_MAX + 1];
    p11_handle key;
    size_t siglen = sizeof(sig);
    X509 *cert = NULL;
    bool ok;

    if (ks_index_find_id(ks, ks->index, v->id, NULL) != SKS_OK ||
        (key = ks_version_key(ks->index, name, v)) == P11_NO_HANDLE ||
        ks_version_cert(ks, name, v, &cert, x5u, NULL) != SKS_OK)
        return false;
    SHA256(probe, sizeof(probe), digest);
    ok = sks_x5u_check(x5u, NULL) == SKS_OK && chain_complete(ks, v, cert) &&
         p11_store_sign(ks->tok, key, digest, sizeof(digest), sig, &siglen, NULL) == SKS_OK &&
         siglen == sizeof(sig) &&
         sks_es256_verify(X509_get0_pubkey(cert), probe, sizeof(probe), sig, NULL) == SKS_OK;
    X509_free(cert);
    return ok;
}

/*
 * An unfinished write whose objects are all there and agree (the record
 * that completed it was lost, as a torn record slot loses it) is completed
 * instead of removed: a sweep never destroys a key that can sign for its
 * certificate.  It becomes STANDBY, or ACTIVE for an identity without an
 * active version, as the write would have made it.
 */
static sks_status restore_complete(struct sks_keystore *ks, struct ks_ident *id, time_t now,
                                   struct sks_error *err)
{
    const struct sks_keystore_config *cfg = &ks->cfg;
    size_t i, restored = 0;
    sks_status st;

    for (i = 0; i < id->rec.n; i++) {
        struct ks_version *v = &id->rec.v[i];
        bool stale = (v->state == SKS_VERSION_WRITING && v->changed + cfg->sweep_after <= now) ||
                     (v->state == SKS_VERSION_PENDING && v->changed + cfg->pending_max_age <= now);
        if (!stale || !version_complete(ks, id->name, v))
            continue;
        v->state = id->rec.active == 0 ? SKS_VERSION_ACTIVE : SKS_VERSION_STANDBY;
        if (v->state == SKS_VERSION_ACTIVE)
            id->rec.active = v->n;
        v->changed = now;
        ks_warn(ks, "sweep: restored %s version %u as %s: its key and certificate are complete",
                id->name, v->n, sks_version_state_name(v->state));
        restored++;
    }
    if (restored == 0)
        return SKS_OK;
    st = ks_ident_save(ks, id, err);
    return st == SKS_OK ? ks_verify_stored(ks, id->name, NULL, err) : st;
}

static sks_status sweep_identity(struct sks_keystore *ks, const char *name, time_t now,
                                 struct sks_error *err)
{
    struct sweep_arg a = {ks, name, now};
    struct ks_ident id;
    size_t removed = 0;
    sks_status st;

    st = ks_ident_drop_extra(ks, name, err);
    if (st == SKS_OK)
        st = ks_ident_load(ks, name, &id, err);
    if (st != SKS_OK || !id.exists)
        return st;
    if (id.rec.n == 0) {
        ks_warn(ks, "sweep: removed the empty record of %s", name);
        return ks_ident_drop(ks, &id, err);
    }
    st = restore_complete(ks, &id, now, err);
    if (st != SKS_OK)
        return st;
    return remove_versions(ks, &id, abandoned, &a, &removed, err);
}

/* Splits "name/N" and "name/N/caK" labels. */
static bool version_of_label(const char *label, char name[SKS_IDENTITY_NAME_MAX + 1],
                             unsigned int *n)
{
    const char *slash = strchr(label, '/');
    char *end;
    unsigned long v;

    if (slash == NULL || (size_t)(slash - label) > SKS_IDENTITY_NAME_MAX)
        return false;
    memcpy(name, label, (size_t)(slash - label));
    name[slash - label] = '\0';
    v = strtoul(slash + 1, &end, 10);
    if (v == 0 || v > 0xffffff || (*end != '\0' && *end != '/'))
        return false;
    *n = (unsigned int)v;
    return true;
}

/*
 * An object labelled as a version of an identity whose record does not
 * list that version with that object ID: what a crash between removing a
 * version from the record and destroying it leaves.  Objects of names
 * without any record are kept: a damaged record must not cost keys.
 */
static sks_status sweep_orphans(struct sks_keystore *ks, struct sks_error *err)
{
    struct ks_index *idx = ks->index;
    size_t i = 0;
    sks_status st;

    while (i < idx->nlabelled) {
        struct ks_obj *o = idx->labelled[i];
        char name[SKS_IDENTITY_NAME_MAX + 1];
        struct ks_data *d;
        struct ks_record rec;
        struct ks_version *v;
        unsigned int n;

        if (!version_of_label(o->label, name, &n) ||
            (d = ks_map_get(&idx->by_name, name, strlen(name))) == NULL || d->raw == NULL ||
            ks_record_parse(d->raw, d->raw_len, &rec, NULL) != SKS_OK ||
            ((v = ks_record_find(&rec, n)) != NULL && memcmp(v->id, o->id, KS_ID_LEN) == 0)) {
            i++;
            continue;
        }
        ks_warn(ks, "sweep: destroyed %s, which no record lists", o->label);
        st = p11_store_destroy(ks->tok, o->h, err);
        if (st != SKS_OK && st != SKS_ERR_NOT_FOUND)
            return st;
        /* Drops labelled[i] too: the same index is looked at again. */
        ks_index_drop(idx, o->h, o->id);
    }
    return SKS_OK;
}

static sks_status sweep(struct sks_keystore *ks, time_t now, struct sks_error *err)
{
    struct ks_index *idx;
    struct names names = {NULL, 0};
    sks_status st;
    size_t i;

    st = ks_remove_modifiable_twins(ks, err);
    if (st != SKS_OK)
        return st;
    /* Sweep looks at the token as it is now. */
    st = ks_index_scan(ks, &idx, err);
    if (st != SKS_OK)
        return st;
    ks_index_free(ks->index);
    ks->index = idx;
    st = all_names(idx, &names, err);
    for (i = 0; st == SKS_OK && i < names.n; i++)
        st = sweep_identity(ks, names.v[i], now, err);
    free(names.v);
    if (st == SKS_OK)
        st = sweep_orphans(ks, err);
    return st;
}

sks_status sks_keystore_sweep(struct sks_keystore *ks, time_t now, struct sks_error *err)
{
    sks_status st;

    st = ks_write_lock(ks, err);
    if (st == SKS_OK) {
        st = sweep(ks, now, err);
        ks_write_unlock(ks);
    }
    return st;
}
