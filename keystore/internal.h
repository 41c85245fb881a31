/*
 * Internals shared by the files of the key store (sks/keystore*.c).
 *
 * Token layout, per identity "sp-main":
 *   2 x CKO_DATA    application "shaken-sks", label: the record (JSON: name,
 *                   sequence number, SPC, active version, each version's
 *                   CKA_ID and state), in two slots written in turn
 *                   (slots.c)
 *   per version 3, all with the version's random 16-byte CKA_ID:
 *   CKO_PRIVATE_KEY label "sp-main/3"
 *   CKO_PUBLIC_KEY  label "sp-main/3"
 *   CKO_CERTIFICATE label "sp-main/3", CKA_URL = x5u, category "token user"
 *   CKO_CERTIFICATE label "sp-main/3/ca1", "sp-main/3/ca2"...: the chain
 * and once per token:
 *   CKO_DATA        application "shaken-sks/changed": its label is rewritten
 *                   with random hex after every record change, so that readers
 *                   learn that something changed with one read instead of one
 *                   per identity
 *   RSA key pair    label "shaken-sks/wrapping": unwraps imported keys
 *
 * The record is the truth: a version is used only when its record entry says
 * it is complete.  Writers put an entry in state WRITING into the record
 * before they create objects and complete it last, so an interrupted write
 * leaves an entry that sweep removes, never a half version that signs.
 */
#ifndef SKS_KEYSTORE_INTERNAL_H
#define SKS_KEYSTORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "common/p256.h"
#include "keystore/keystore.h"

#define KS_APPLICATION "shaken-sks"
#define KS_MARKER_APPLICATION "shaken-sks/changed"
/* Longest change marker value (its CKA_LABEL) that readers take. */
#define KS_MARKER_VALUE_MAX 64
#define KS_WRAPPING_LABEL "shaken-sks/wrapping"
#define KS_ID_LEN 16
#define KS_RECORD_MAX (64 * 1024)
#define KS_VERSIONS_MAX 64
#define KS_CERT_MAX (64 * 1024)

/* ---- the record ------------------------------------------------------------ */

struct ks_version {
    unsigned int n;
    enum sks_version_state state;
    unsigned char id[KS_ID_LEN];
    time_t created;
    time_t changed; /* last state change: when a PREVIOUS version was replaced */
};

struct ks_record {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    unsigned long long seq; /* bumped by every write; of two slots, the higher counts */
    char spc[SKS_SPC_MAX + 1];
    unsigned int active; /* 0: none */
    unsigned int next;   /* the number the next version gets; never reused */
    size_t n;
    struct ks_version v[KS_VERSIONS_MAX];
};

sks_status ks_record_parse(const unsigned char *raw, size_t len, struct ks_record *rec,
                           struct sks_error *err);
/* *out is malloc()ed. */
sks_status ks_record_encode(const struct ks_record *rec, unsigned char **out, size_t *len,
                            struct sks_error *err);
struct ks_version *ks_record_find(struct ks_record *rec, unsigned int n);
void ks_record_remove(struct ks_record *rec, unsigned int n);

/* ---- a small hash map: byte-string keys to pointers -------------------------- */

struct ks_map_node;
struct ks_map {
    struct ks_map_node **buckets;
    size_t nbuckets, count;
};

void *ks_map_get(const struct ks_map *m, const void *key, size_t klen);
/* Replaces any value under |key|; false when out of memory. */
bool ks_map_put(struct ks_map *m, const void *key, size_t klen, void *val);
void *ks_map_del(struct ks_map *m, const void *key, size_t klen);
/* Calls |fn| on every value, then empties the map. */
void ks_map_clear(struct ks_map *m, void (*fn)(void *val));
/* Calls |fn| on every value; stop by returning non-zero. */
int ks_map_each(const struct ks_map *m, int (*fn)(void *val, void *arg), void *arg);

/* ---- what the token holds, from one scan ------------------------------------- */

struct ks_obj {
    struct ks_obj *next; /* the next object with the same CKA_ID */
    p11_handle h;
    p11_class cls;
    unsigned char id[KS_ID_LEN];
    char label[P11_LABEL_MAX];
};

#define KS_SLOTS 2

/* The record slots of one identity (slots.c). */
struct ks_data {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    p11_handle slot[KS_SLOTS];
    size_t nslots;
    size_t cur;         /* the slot with the newest record */
    unsigned char *raw; /* the newest record as last read or written */
    size_t raw_len;
    unsigned long long seq;
    p11_handle *extra; /* slots beyond two, left by writers racing on two hosts */
    size_t nextra;
};

struct ks_index {
    struct ks_map by_id;     /* CKA_ID -> struct ks_obj list */
    struct ks_map by_name;   /* identity name -> struct ks_data */
    struct ks_map by_handle; /* record slot handle -> struct ks_data */
    struct ks_map by_owner;  /* identity name -> how many objects are labelled "name/N..." */
    p11_handle marker;
    bool has_marker;
    /*
     * The change marker's value when this index last knew every record slot
     * on the token (seen_len 0: not known).  Writers rewrite the marker
     * before they create a slot, so while it holds this value no slot that
     * another process created is missing from the index.
     */
    unsigned char seen[KS_MARKER_VALUE_MAX];
    size_t seen_len;
    unsigned long long epoch;
    /* Objects labelled "name/N..." whose CKA_ID is 16 bytes: sweep checks each. */
    struct ks_obj **labelled;
    size_t nlabelled, caplabelled;
};

/* ---- the active-version cache (active.c) ---------------------------- */

struct ks_cache {
    struct ks_map entries; /* identity name -> struct ks_entry */
    uint64_t generation;   /* bumped when the change marker changes */
    p11_handle marker;
    bool has_marker; /* false: entries re-read their record every max_age */
    bool has_baseline;
    unsigned char marker_value[KS_MARKER_VALUE_MAX];
    size_t marker_len;
    int64_t marker_checked_ms;
    bool marker_busy;
    int64_t marker_retry_ms; /* without one: when marker_retry() looks for it next */
};

/*
 * Locks: |lock| guards the cache and is held only for lookups; |index_lock|
 * is held while the index is read or changed.  Everything but
 * sks_keystore_active() and sks_active_put() takes |index_lock| for its
 * whole run, so those calls run one at a time.
 */
struct sks_keystore {
    struct p11_token *tok;
    struct sks_keystore_config cfg;
    pthread_mutex_t lock;
    pthread_mutex_t index_lock;
    struct ks_index *index;
    struct ks_cache cache;
    int lock_fd; /* the host lock file, -1 until first needed */
    char lock_path[4096];
    bool lock_configured; /* lock_path is in the configured lock_dir */
    /* sks_keystore_marker(): the marker it found, in token epoch |watch_epoch| (|lock|). */
    p11_handle watch_marker;
    unsigned long long watch_epoch;
};

/* For a change: index_lock, then the host lock file (flock), so writers go one at a time. */
sks_status ks_write_lock(struct sks_keystore *ks, struct sks_error *err);
void ks_write_unlock(struct sks_keystore *ks);
/*
 * Opens (creating) the lock file |path| in the key store's lock directory,
 * making that directory on first use; -1 with |err| set when it cannot.
 */
int ks_lock_open(struct sks_keystore *ks, const char *path, struct sks_error *err);

/* Scans the token into a new index (keystore.c). */
sks_status ks_index_scan(struct sks_keystore *ks, struct ks_index **out, struct sks_error *err);
void ks_index_free(struct ks_index *idx);
/* The index of |ks|, scanning first when there is none or the token was reset. */
sks_status ks_index_get(struct sks_keystore *ks, struct ks_index **out, struct sks_error *err);
/* The objects with CKA_ID |id| (a list through ->next), or NULL. */
struct ks_obj *ks_index_objects(struct ks_index *idx, const unsigned char id[KS_ID_LEN]);
/* True when objects labelled as versions of |name| are on the token. */
bool ks_index_has_versions_of(struct ks_index *idx, const char *name);
/* Adds or drops an object this process created or destroyed. */
sks_status ks_index_add(struct ks_index *idx, p11_handle h, p11_class cls,
                        const unsigned char id[KS_ID_LEN], const char *label,
                        struct sks_error *err);
void ks_index_drop(struct ks_index *idx, p11_handle h, const unsigned char id[KS_ID_LEN]);
/* Searches the token for record slots the index does not know and adds them. */
sks_status ks_index_find_records(struct sks_keystore *ks, struct ks_index *idx,
                                 struct sks_error *err);
/* Adds the record slot |h| to the index, when it reads as a record. */
sks_status ks_record_found(struct sks_keystore *ks, struct ks_index *idx, p11_handle h,
                           struct sks_error *err);
/* The newest record among |slots| that reads and parses; SKS_ERR_NOT_FOUND if none does. */
sks_status ks_slots_newest(struct sks_keystore *ks, const p11_handle *slots, size_t n,
                           unsigned char **raw, size_t *len, struct ks_record *rec,
                           struct sks_error *err);
void ks_data_free(void *d);
/* Searches the token for the objects of one CKA_ID and adds them. */
sks_status ks_index_find_id(struct sks_keystore *ks, struct ks_index *idx,
                            const unsigned char id[KS_ID_LEN], struct sks_error *err);

/* One identity, read for a change. */
struct ks_ident {
    char name[SKS_IDENTITY_NAME_MAX + 1];
    bool exists;
    struct ks_record rec;
};

/* Reads the identity's record afresh from the token (exists=false when there is none). */
sks_status ks_ident_load(struct sks_keystore *ks, const char *name, struct ks_ident *id,
                         struct sks_error *err);
/*
 * Writes id->rec into the identity's older record slot, after checking that
 * nobody changed the record since it was read; then rewrites the change
 * marker.
 */
sks_status ks_ident_save(struct sks_keystore *ks, struct ks_ident *id, struct sks_error *err);
/*
 * Every change calls this before it reports success: checks, in a fresh
 * instance of the token library, that the token stored identity |name|'s
 * record as last written here, the objects of version |v| (NULL: none) and
 * the change marker.  A token can report CKR_OK for a write its storage
 * refused (p11/durable.c).  A lost record slot is destroyed, so that this
 * process reads what the token holds; the caller undoes the rest.  A lost
 * marker value is a warning: the marker goes, readers read each record.
 */
sks_status ks_verify_stored(struct sks_keystore *ks, const char *name, const struct ks_version *v,
                            struct sks_error *err);
/* Destroys the record of an identity that has no versions left. */
sks_status ks_ident_drop(struct sks_keystore *ks, struct ks_ident *id, struct sks_error *err);
/* Destroys record slots beyond two that writers racing on two hosts left. */
sks_status ks_ident_drop_extra(struct sks_keystore *ks, const char *name, struct sks_error *err);
/* Reads the value of marker |h|; false when it is gone or does not read. */
bool ks_marker_read(struct sks_keystore *ks, p11_handle h, unsigned char value[KS_MARKER_VALUE_MAX],
                    size_t *len);
/* Rewrites the change marker (creating it when missing). */
sks_status ks_marker_touch(struct sks_keystore *ks, struct sks_error *err);
/*
 * Tells readers that a record changed: rewrites the change marker, retrying;
 * when it cannot, destroys the marker, so that readers fall back to reading
 * each record.  The record is already written, so this never fails; what it
 * could not do goes to the warning callback.
 */
void ks_marker_announce(struct sks_keystore *ks);

/* Passes a one-line warning to the configured callback, if any. */
void ks_warn(struct sks_keystore *ks, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Destroys every object of version |v| (key, public key, certificates). */
sks_status ks_version_destroy_objects(struct sks_keystore *ks, const struct ks_version *v,
                                      struct sks_error *err);
/* "name/3" */
void ks_version_label(char *buf, size_t len, const char *name, unsigned int n);

/* The EE certificate object of a version, and its x5u (CKA_URL). */
sks_status ks_version_cert(struct sks_keystore *ks, const char *name, const struct ks_version *v,
                           X509 **cert, char x5u[SKS_X5U_MAX + 1], struct sks_error *err);
/* The chain certificates stored with version |v| ("name/N/caK"), from the index. */
sks_status ks_version_chain(struct sks_keystore *ks, const struct ks_version *v,
                            STACK_OF(X509) * *out, struct sks_error *err);
/*
 * sks_keystore_crl_check() before an activation (crl.c), with the message
 * saying so; |id| is the CKA_ID of the version judged, for the activation
 * to check that it activates that very version.
 */
/*
 * Before a way in takes the write lock: when |identity| has no active
 * version, the version |cred| brings will be, and its chain is held to its
 * CRLs as an activation's is (a configured CRL source only).
 */
sks_status ks_crl_check_way_in(struct sks_keystore *ks, const char *identity,
                               const struct sks_credentials *cred, struct sks_error *err);
sks_status ks_crl_check_for_activation(struct sks_keystore *ks, const char *identity,
                                       unsigned int version, unsigned char id[KS_ID_LEN],
                                       struct sks_error *err);
/* The private key object of a version, or P11_NO_HANDLE. */
p11_handle ks_version_key(struct ks_index *idx, const char *name, const struct ks_version *v);

/* ---- writing versions (import.c) ------------------------------------- */

/* What validation learnt from a certificate. */
struct ks_checked {
    char spc[SKS_SPC_MAX + 1];
    time_t not_after;
    unsigned char pub[SKS_P256_POINT_LEN]; /* the certificate's uncompressed P-256 point */
};

/*
 * Every rule a certificate, its chain and x5u must meet, checked in software
 * before anything is written: profile, chain to the trust anchors,
 * validity, x5u.  Warns through the config when it expires soon.
 */
sks_status ks_check_credentials(struct sks_keystore *ks, const struct sks_credentials *cred,
                                struct ks_checked *out, struct sks_error *err);
/* The certificate's SPC must be the identity's (new identities take it). */
sks_status ks_check_spc(const struct ks_ident *id, const char *spc, struct sks_error *err);

/*
 * Adds version |*n| in state WRITING to the record and writes the record:
 * the first write of every way in.  A crash after it leaves an entry that
 * sweep removes.
 */
sks_status ks_version_begin(struct sks_keystore *ks, struct ks_ident *id, const char *spc,
                            unsigned int *n, struct sks_error *err);
/*
 * Writes the public key (unless the token made one), the chain and, last,
 * the certificate with its x5u for version |n|, then completes the version
 * in the record: STANDBY, or ACTIVE for an identity without an active
 * version.  Sweep takes a version whose certificate is there for written.
 */
sks_status ks_version_complete(struct sks_keystore *ks, struct ks_ident *id, unsigned int n,
                               const struct sks_credentials *cred,
                               const unsigned char pub[SKS_P256_POINT_LEN], bool with_public_key,
                               struct sks_error *err);
/* Writes the private key of version |v|, labelled |label|. */
typedef sks_status (*ks_key_writer)(struct sks_keystore *ks, const struct ks_version *v,
                                    const char *label, void *arg, struct sks_error *err);
/*
 * A whole way in after validation: begin, |write_key|, complete.  A failure
 * part-way undoes what was written (sweep finishes the undo after a crash).
 */
sks_status ks_version_write(struct sks_keystore *ks, struct ks_ident *id,
                            const struct ks_checked *chk, const struct sks_credentials *cred,
                            ks_key_writer write_key, void *arg, unsigned int *version,
                            struct sks_error *err);
/*
 * The checks on a software key, the same for every way in that sees one
 * (import --key, and sksctl wrap before it wraps): P-256, 1 <= d < n, the
 * public key stored with d is d*G, and d*G is |cert|'s key (NULL: no
 * certificate to match).  d, big-endian, in |d| on success.
 */
sks_status ks_check_key(EVP_PKEY *key, X509 *cert, unsigned char d[32], struct sks_error *err);
/* The certificate's uncompressed P-256 point. */
bool ks_cert_point(X509 *cert, unsigned char pub[SKS_P256_POINT_LEN]);
/* Best-effort undo of a version that failed half-way: objects, then its record entry. */
void ks_version_abort(struct sks_keystore *ks, struct ks_ident *id, unsigned int n);
/* Adds an object this key store created, under version |n|'s CKA_ID, to the index. */
sks_status ks_created(struct sks_keystore *ks, p11_handle h, p11_class cls,
                      const struct ks_version *v, const char *label, struct sks_error *err);

/*
 * Destroys each modifiable key that has a non-modifiable twin (same class,
 * CKA_ID and label): what a crash inside sksctl protect leaves
 * (protect.c).  Sweep runs it.
 */
sks_status ks_remove_modifiable_twins(struct sks_keystore *ks, struct sks_error *err);

/* Drops every cached snapshot (active.c), for close. */
void ks_cache_clear(struct ks_cache *c);

/* Seconds since the epoch, wall clock; milliseconds, monotonic. */
time_t ks_now(void);
int64_t ks_monotonic_ms(void);

#endif
