/*
 * The key store: opening it, the index of what the token holds, reading and
 * writing identity records, and listing.  The ways in live in
 * import.c, rotation and clean-up in rotate.c, the signing
 * cache in active.c.
 *
 * Searching a token is slow when it holds many objects (SoftHSM checks every
 * object file on each search), so the key store searches once, for
 * everything, and keeps an index of handles by identity name and object ID.
 * Objects this process writes are added to the index as it writes them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "keystore/internal.h"
#include "profile/certs.h"

time_t ks_now(void)
{
    return time(NULL);
}

int64_t ks_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool sks_identity_name_ok(const char *name)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(name);

    /* No "/": object labels are "name/version". */
    return n >= 1 && n <= SKS_IDENTITY_NAME_MAX && strchr(alnum, name[0]) != NULL &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

void ks_version_label(char *buf, size_t len, const char *name, unsigned int n)
{
    snprintf(buf, len, "%s/%u", name, n);
}

void sks_keystore_config_init(struct sks_keystore_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->grace_seconds = SKS_GRACE_DEFAULT;
    cfg->expiry_warn_days = SKS_EXPIRY_WARN_DAYS_DEFAULT;
    cfg->pending_max_age = SKS_PENDING_MAX_AGE_DEFAULT;
    cfg->sweep_after = SKS_SWEEP_AFTER_DEFAULT;
}

/*
 * Where writers on this host meet: the configured lock_dir, else the runtime
 * directory, $XDG_RUNTIME_DIR/shaken-sks or /run/shaken-sks (sksd.service
 * makes it), whichever can be written, else a private directory of this
 * user under $TMPDIR or /tmp.  Nothing is created here: see ks_lock_open.
 */
static void lock_dir_choose(char *out, size_t size, const char *configured)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    const char *tmp = getenv("TMPDIR");

    if (configured != NULL)
        snprintf(out, size, "%s", configured);
    else if (xdg != NULL && xdg[0] == '/' && access(xdg, W_OK | X_OK) == 0)
        snprintf(out, size, "%s/shaken-sks", xdg);
    else if (access("/run/shaken-sks", W_OK | X_OK) == 0 ||
             (errno == ENOENT && access("/run", W_OK | X_OK) == 0))
        snprintf(out, size, "/run/shaken-sks");
    else
        snprintf(out, size, "%s/shaken-sks-%u", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
                 (unsigned int)geteuid());
}

/* DIR/<hash of the token URI>.lock: one per token, whatever the slot, reused by every run. */
static void lock_path(struct sks_keystore *ks, struct p11_token *tok, const char *dir)
{
    const char *uri = p11_token_uri(tok);
    unsigned char md[SHA256_DIGEST_LENGTH];
    char where[2048], hex[17];

    SHA256((const unsigned char *)uri, strlen(uri), md);
    OPENSSL_buf2hexstr_ex(hex, sizeof(hex), NULL, md, 8, '\0');
    lock_dir_choose(where, sizeof(where), dir);
    snprintf(ks->lock_path, sizeof(ks->lock_path), "%s/%s.lock", where, hex);
}

/*
 * Opens the lock file, making its directory on first use.  A directory we
 * make for this user alone must be ours and closed to others, or someone
 * else could swap the lock file.
 */
int ks_lock_open(struct sks_keystore *ks, const char *path, struct sks_error *err)
{
    char dir[sizeof(ks->lock_path)], *slash;
    struct stat st = {0};
    bool shared = false;
    int fd;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (!ks->lock_configured && slash != NULL && slash != dir) {
        *slash = '\0';
        shared = strcmp(dir, "/run/shaken-sks") == 0;
        if (mkdir(dir, shared ? 0755 : 0700) != 0 && errno != EEXIST) {
            sks_fail(err, SKS_ERR_SYSTEM, "cannot make the lock directory %s: %s", dir,
                     strerror(errno));
            return -1;
        }
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
            (!shared && (st.st_uid != geteuid() || (st.st_mode & 077) != 0))) {
            sks_fail(err, SKS_ERR_SYSTEM,
                     "the lock directory %s is not a directory of this user closed to others: "
                     "remove it",
                     dir);
            return -1;
        }
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot open the lock file %s: %s", path, strerror(errno));
        return -1;
    }
    /* Root's lock file in the shared directory goes to its owner, sksd's user, who opens it too. */
    if (shared && geteuid() == 0 && st.st_uid != 0 && fchown(fd, st.st_uid, st.st_gid) != 0) {
        sks_fail(err, SKS_ERR_SYSTEM, "cannot give the lock file %s to uid %u: %s", path,
                 (unsigned int)st.st_uid, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

sks_status ks_write_lock(struct sks_keystore *ks, struct sks_error *err)
{
    int rc;

    pthread_mutex_lock(&ks->index_lock);
    if (ks->lock_fd < 0 && (ks->lock_fd = ks_lock_open(ks, ks->lock_path, err)) < 0) {
        pthread_mutex_unlock(&ks->index_lock);
        return err->status;
    }
    /* The kernel drops the lock when a writer dies, even by SIGKILL. */
    while ((rc = flock(ks->lock_fd, LOCK_EX)) != 0 && errno == EINTR)
        ;
    if (rc != 0) {
        pthread_mutex_unlock(&ks->index_lock);
        return sks_fail(err, SKS_ERR_SYSTEM, "cannot lock %s: %s", ks->lock_path, strerror(errno));
    }
    return SKS_OK;
}

void ks_write_unlock(struct sks_keystore *ks)
{
    flock(ks->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&ks->index_lock);
}

sks_status sks_keystore_open(struct p11_token *tok, const struct sks_keystore_config *cfg,
                             struct sks_keystore **out, struct sks_error *err)
{
    struct sks_keystore *ks = calloc(1, sizeof(*ks));
    sks_status st;

    if (ks == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    /* The key store needs the user PIN for everything: fail now, not mid-command. */
    st = p11_token_login(tok, err);
    if (st != SKS_OK) {
        free(ks);
        return st;
    }
    ks->cfg = *cfg;
    ks->cfg.lock_dir = NULL;
    ks->lock_fd = -1;
    ks->lock_configured = cfg->lock_dir != NULL;
    lock_path(ks, tok, cfg->lock_dir);
    if (ks->cfg.roots != NULL)
        X509_STORE_up_ref(ks->cfg.roots);
    ks->tok = p11_token_ref(tok);
    pthread_mutex_init(&ks->lock, NULL);
    pthread_mutex_init(&ks->index_lock, NULL);
    *out = ks;
    return SKS_OK;
}

void sks_keystore_close(struct sks_keystore *ks)
{
    if (ks == NULL)
        return;
    ks_cache_clear(&ks->cache);
    ks_index_free(ks->index);
    X509_STORE_free(ks->cfg.roots);
    if (ks->lock_fd >= 0)
        close(ks->lock_fd);
    p11_token_put(ks->tok);
    pthread_mutex_destroy(&ks->lock);
    pthread_mutex_destroy(&ks->index_lock);
    free(ks);
}

/* ---- the index ---------------------------------------------------------------- */

static void objlist_free(void *p)
{
    struct ks_obj *o = p, *next;

    for (; o != NULL; o = next) {
        next = o->next;
        free(o);
    }
}

void ks_index_free(struct ks_index *idx)
{
    if (idx == NULL)
        return;
    ks_map_clear(&idx->by_id, objlist_free);
    ks_map_clear(&idx->by_name, ks_data_free);
    ks_map_clear(&idx->by_handle, NULL);
    ks_map_clear(&idx->by_owner, NULL);
    free(idx->labelled);
    free(idx);
}

struct ks_obj *ks_index_objects(struct ks_index *idx, const unsigned char id[KS_ID_LEN])
{
    return ks_map_get(&idx->by_id, id, KS_ID_LEN);
}

/* "name/N" or "name/N/caK" with a valid name: an object the key store wrote; |name| its owner. */
static bool label_owner(const char *label, char name[SKS_IDENTITY_NAME_MAX + 1])
{
    const char *slash = strchr(label, '/');
    size_t n;

    if (slash == NULL || (n = (size_t)(slash - label)) > SKS_IDENTITY_NAME_MAX)
        return false;
    memcpy(name, label, n);
    name[n] = '\0';
    return sks_identity_name_ok(name) && slash[1] >= '1' && slash[1] <= '9';
}

/* Counts the objects labelled as versions of each identity. */
static void owner_count(struct ks_index *idx, const char *name, intptr_t delta)
{
    intptr_t n = (intptr_t)ks_map_get(&idx->by_owner, name, strlen(name)) + delta;

    if (n <= 0)
        ks_map_del(&idx->by_owner, name, strlen(name));
    else
        ks_map_put(&idx->by_owner, name, strlen(name), (void *)n);
}

bool ks_index_has_versions_of(struct ks_index *idx, const char *name)
{
    return ks_map_get(&idx->by_owner, name, strlen(name)) != NULL;
}

sks_status ks_index_add(struct ks_index *idx, p11_handle h, p11_class cls,
                        const unsigned char id[KS_ID_LEN], const char *label, struct sks_error *err)
{
    struct ks_obj *o = calloc(1, sizeof(*o)), *head;
    char owner[SKS_IDENTITY_NAME_MAX + 1];

    if (o == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    o->h = h;
    o->cls = cls;
    memcpy(o->id, id, KS_ID_LEN);
    snprintf(o->label, sizeof(o->label), "%s", label);
    head = ks_map_get(&idx->by_id, id, KS_ID_LEN);
    o->next = head;
    if (!ks_map_put(&idx->by_id, id, KS_ID_LEN, o)) {
        free(o);
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    if (label_owner(label, owner)) {
        owner_count(idx, owner, 1);
        if (idx->nlabelled == idx->caplabelled) {
            size_t cap = idx->caplabelled ? idx->caplabelled * 2 : 64;
            struct ks_obj **grown = realloc(idx->labelled, cap * sizeof(*grown));
            if (grown == NULL)
                return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
            idx->labelled = grown;
            idx->caplabelled = cap;
        }
        idx->labelled[idx->nlabelled++] = o;
    }
    return SKS_OK;
}

void ks_index_drop(struct ks_index *idx, p11_handle h, const unsigned char id[KS_ID_LEN])
{
    struct ks_obj *head = ks_map_get(&idx->by_id, id, KS_ID_LEN), **pp, *o;
    size_t i;

    for (pp = &head; *pp != NULL && (*pp)->h != h; pp = &(*pp)->next)
        ;
    if ((o = *pp) == NULL)
        return;
    *pp = o->next;
    if (head == NULL)
        ks_map_del(&idx->by_id, id, KS_ID_LEN);
    else
        ks_map_put(&idx->by_id, id, KS_ID_LEN, head);
    for (i = 0; i < idx->nlabelled; i++) {
        if (idx->labelled[i] == o) {
            char owner[SKS_IDENTITY_NAME_MAX + 1];
            idx->labelled[i] = idx->labelled[--idx->nlabelled];
            if (label_owner(o->label, owner))
                owner_count(idx, owner, -1);
            break;
        }
    }
    free(o);
}

/* Reads class, ID, label and application of one object into the index. */
static sks_status scan_object(struct sks_keystore *ks, struct ks_index *idx, p11_handle h,
                              struct sks_error *err)
{
    struct p11_object_info info;
    sks_status st;

    st = p11_store_describe(ks->tok, h, &info, err);
    if (st != SKS_OK)
        return st;
    if (info.cls != P11_DATA) {
        if (info.id_len != KS_ID_LEN || !info.has_label)
            return SKS_OK;
        return ks_index_add(idx, h, info.cls, info.id, info.label, err);
    }
    /* A record's label is its JSON, longer than info.label: ks_record_found() reads it. */
    if (!info.has_application)
        return SKS_OK;
    if (strcmp(info.application, KS_MARKER_APPLICATION) == 0) {
        idx->marker = h;
        idx->has_marker = true;
        return SKS_OK;
    }
    if (strcmp(info.application, KS_APPLICATION) != 0)
        return SKS_OK;
    return ks_record_found(ks, idx, h, err);
}

sks_status ks_index_scan(struct sks_keystore *ks, struct ks_index **out, struct sks_error *err)
{
    p11_handle *handles = NULL;
    struct ks_index *idx;
    size_t count = 0, i;
    sks_status st;

    idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    idx->epoch = p11_token_epoch(ks->tok);
    st = p11_store_find(ks->tok, NULL, &handles, &count, err);
    for (i = 0; st == SKS_OK && i < count; i++) {
        st = scan_object(ks, idx, handles[i], err);
        /* Deleted by another process since the search: not an error. */
        if (st != SKS_OK && err != NULL && err->ckr == CKR_OBJECT_HANDLE_INVALID)
            st = SKS_OK;
    }
    free(handles);
    if (st != SKS_OK) {
        ks_index_free(idx);
        return st;
    }
    *out = idx;
    return SKS_OK;
}

sks_status ks_index_get(struct sks_keystore *ks, struct ks_index **out, struct sks_error *err)
{
    struct ks_index *idx;
    sks_status st;

    if (ks->index != NULL && ks->index->epoch == p11_token_epoch(ks->tok)) {
        *out = ks->index;
        return SKS_OK;
    }
    st = ks_index_scan(ks, &idx, err);
    if (st != SKS_OK)
        return st;
    ks_index_free(ks->index);
    ks->index = idx;
    *out = idx;
    return SKS_OK;
}

sks_status ks_index_find_id(struct sks_keystore *ks, struct ks_index *idx,
                            const unsigned char id[KS_ID_LEN], struct sks_error *err)
{
    struct p11_template match;
    p11_handle *handles = NULL;
    size_t count = 0, i;
    sks_status st;

    p11_template_find_id(&match, id, KS_ID_LEN);
    st = p11_store_find(ks->tok, &match, &handles, &count, err);
    for (i = 0; st == SKS_OK && i < count; i++) {
        struct ks_obj *o;
        for (o = ks_index_objects(idx, id); o != NULL && o->h != handles[i]; o = o->next)
            ;
        if (o == NULL)
            st = scan_object(ks, idx, handles[i], err);
    }
    free(handles);
    return st;
}

/* ---- versions ---------------------------------------------------------------------- */

static struct ks_obj *version_object(struct ks_index *idx, const char *name,
                                     const struct ks_version *v, p11_class cls)
{
    char label[P11_LABEL_MAX];
    struct ks_obj *o;

    ks_version_label(label, sizeof(label), name, v->n);
    for (o = ks_index_objects(idx, v->id); o != NULL; o = o->next)
        if (o->cls == cls && strcmp(o->label, label) == 0)
            return o;
    return NULL;
}

p11_handle ks_version_key(struct ks_index *idx, const char *name, const struct ks_version *v)
{
    struct ks_obj *o = version_object(idx, name, v, P11_PRIVATE_KEY);

    return o != NULL ? o->h : P11_NO_HANDLE;
}

sks_status ks_version_cert(struct sks_keystore *ks, const char *name, const struct ks_version *v,
                           X509 **cert, char x5u[SKS_X5U_MAX + 1], struct sks_error *err)
{
    struct ks_obj *o = version_object(ks->index, name, v, P11_CERTIFICATE);
    size_t url_len = P11_UNAVAILABLE;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    sks_status st;

    /* A complete version written by another process after the index was made: look for it. */
    if (o == NULL &&
        (v->state == SKS_VERSION_ACTIVE || v->state == SKS_VERSION_STANDBY ||
         v->state == SKS_VERSION_PREVIOUS) &&
        ks_index_find_id(ks, ks->index, v->id, err) == SKS_OK)
        o = version_object(ks->index, name, v, P11_CERTIFICATE);
    if (o == NULL)
        return sks_fail(err, SKS_ERR_NOT_FOUND, "identity %s version %u has no certificate on %s",
                        name, v->n, p11_token_uri(ks->tok));
    st = p11_store_get_value(ks->tok, o->h, P11_ATTR_VALUE, KS_CERT_MAX, &der, &len, err);
    if (st == SKS_OK)
        st = p11_store_read(ks->tok, o->h, P11_ATTR_URL, x5u, SKS_X5U_MAX, &url_len, err);
    if (st != SKS_OK) {
        free(der);
        return st;
    }
    x5u[url_len == P11_UNAVAILABLE ? 0 : url_len] = '\0';
    p = der;
    *cert = d2i_X509(NULL, &p, (long)len);
    free(der);
    if (*cert == NULL)
        return sks_fail(err, SKS_ERR_INPUT,
                        "the certificate of identity %s version %u on %s "
                        "does not decode",
                        name, v->n, p11_token_uri(ks->tok));
    return SKS_OK;
}

sks_status ks_version_destroy_objects(struct sks_keystore *ks, const struct ks_version *v,
                                      struct sks_error *err)
{
    struct ks_obj *o;
    sks_status st;

    /* All of them, including what another process wrote since the index was made. */
    st = ks_index_find_id(ks, ks->index, v->id, err);
    if (st != SKS_OK)
        return st;
    while ((o = ks_index_objects(ks->index, v->id)) != NULL) {
        p11_handle h = o->h;
        st = p11_store_destroy(ks->tok, h, err);
        if (st != SKS_OK && st != SKS_ERR_NOT_FOUND)
            return st;
        ks_index_drop(ks->index, h, v->id);
    }
    return SKS_OK;
}

/* ---- listing -------------------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp((*(struct ks_data *const *)a)->name, (*(struct ks_data *const *)b)->name);
}

static int collect(void *val, void *arg)
{
    struct ks_data ***p = arg;

    *(*p)++ = val;
    return 0;
}

static void version_info(struct sks_keystore *ks, const char *name, const struct ks_version *v,
                         struct sks_version_info *vi)
{
    X509 *cert = NULL;
    char label[P11_LABEL_MAX];
    struct ks_obj *key;

    memset(vi, 0, sizeof(*vi));
    vi->version = v->n;
    vi->state = v->state;
    vi->created = v->created;
    if (v->state == SKS_VERSION_PREVIOUS)
        vi->replaced_at = v->changed;
    if (ks_version_cert(ks, name, v, &cert, vi->x5u, NULL) == SKS_OK) {
        /* not_after stays 0 if it does not decode. */
        (void)sks_asn1_time(X509_get0_notAfter(cert), &vi->not_after);
        X509_free(cert);
    }
    key = version_object(ks->index, name, v, P11_PRIVATE_KEY);
    if (key != NULL) {
        char *uri;
        ks_version_label(label, sizeof(label), name, v->n);
        uri = p11_store_object_uri(ks->tok, P11_PRIVATE_KEY, v->id, KS_ID_LEN, label);
        if (uri != NULL)
            snprintf(vi->uri, sizeof(vi->uri), "%s", uri);
        free(uri);
    }
}

static sks_status list_one(struct sks_keystore *ks, struct ks_data *d, sks_identity_cb cb,
                           void *arg, int *stop)
{
    struct sks_version_info vis[KS_VERSIONS_MAX];
    struct sks_identity_info info;
    struct ks_record rec;
    struct sks_error ignore;
    size_t i;

    memset(&info, 0, sizeof(info));
    strcpy(info.name, d->name);
    /* A broken record is listed with no versions rather than hiding the others. */
    if (d->raw != NULL && ks_record_parse(d->raw, d->raw_len, &rec, &ignore) == SKS_OK) {
        strcpy(info.spc, rec.spc);
        info.active = rec.active;
        for (i = 0; i < rec.n; i++)
            version_info(ks, d->name, &rec.v[i], &vis[i]);
        info.nversions = rec.n;
        info.versions = vis;
    }
    *stop = cb(&info, arg);
    return SKS_OK;
}

sks_status sks_keystore_list(struct sks_keystore *ks, sks_identity_cb cb, void *arg,
                             struct sks_error *err)
{
    struct ks_data **all = NULL, **p;
    struct ks_index *idx;
    size_t n, i;
    int stop = 0;
    sks_status st;

    pthread_mutex_lock(&ks->index_lock);
    /* A list shows the token as it is now: scan afresh. */
    st = ks_index_scan(ks, &idx, err);
    if (st != SKS_OK)
        goto done;
    ks_index_free(ks->index);
    ks->index = idx;
    n = idx->by_name.count;
    if (n > 0 && (all = calloc(n, sizeof(*all))) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
        goto done;
    }
    p = all;
    ks_map_each(&idx->by_name, collect, &p);
    if (n > 0)
        qsort(all, n, sizeof(*all), name_cmp);
    for (i = 0; st == SKS_OK && !stop && i < n; i++)
        st = list_one(ks, all[i], cb, arg, &stop);
done:
    pthread_mutex_unlock(&ks->index_lock);
    free(all);
    return st;
}

sks_status sks_keystore_list_one(struct sks_keystore *ks, const char *name, sks_identity_cb cb,
                                 void *arg, struct sks_error *err)
{
    struct ks_ident id;
    struct ks_data *d;
    int stop = 0;
    sks_status st;

    pthread_mutex_lock(&ks->index_lock);
    st = ks_ident_load(ks, name, &id, err);
    /* Another process may have made a version's objects since the index was read. */
    for (size_t i = 0; st == SKS_OK && id.exists && i < id.rec.n; i++)
        st = ks_index_find_id(ks, ks->index, id.rec.v[i].id, err);
    if (st == SKS_OK && id.exists &&
        (d = ks_map_get(&ks->index->by_name, name, strlen(name))) != NULL)
        st = list_one(ks, d, cb, arg, &stop);
    pthread_mutex_unlock(&ks->index_lock);
    return st;
}
