/*
 * Who may call the import API.
 *
 * TLS: GnuTLS (inside libmicrohttpd) asks for a client certificate and
 * checks that the client holds its key; the certificate and chain it
 * received are then verified here with OpenSSL against the configured client
 * CA for TLS client use, and the subject (RFC 2253 form) must be on the
 * allow-list.
 *
 * Unix socket: the kernel's SO_PEERCRED uid of the connected process must
 * be on the allow-list.
 *
 * No certificate or no credentials: 401.  Anything else refused: 403.
 * Every refusal is audited; nothing else happens for that request.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "sksd/sksd.h"

sks_status sksd_client_ca_load(const char *path, X509_STORE **out, struct sks_error *err)
{
    X509_STORE *store = X509_STORE_new();

    if (store == NULL || X509_STORE_load_file(store, path) != 1) {
        X509_STORE_free(store);
        sks_fail(err, SKS_ERR_INPUT, "cannot load the import client CA from %s", path);
        sks_error_add_openssl(err);
        return SKS_ERR_INPUT;
    }
    *out = store;
    return SKS_OK;
}

struct verdict {
    unsigned int status; /* 0: allowed */
    char why[SKS_ERROR_MSG_MAX];
};

static void deny(struct verdict *v, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void deny(struct verdict *v, unsigned int status, const char *fmt, ...)
{
    va_list ap;

    v->status = status;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
}

static void subject_rfc2253(X509 *cert, char *out, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;

    out[0] = '\0';
    if (b == NULL)
        return;
    if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
        n = BIO_read(b, out, (int)size - 1);
    out[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

static bool subject_allowed(struct sksd *d, const char *subject)
{
    bool ok = false;
    size_t i;

    pthread_rwlock_rdlock(&d->conf_lock);
    for (i = 0; i < d->conf->nallowed_subjects && !ok; i++)
        ok = strcmp(d->conf->allowed_subjects[i], subject) == 0;
    pthread_rwlock_unlock(&d->conf_lock);
    return ok;
}

/* The certificates the client sent: the leaf first, then what it chains through. */
static bool peer_certs(gnutls_session_t s, X509 **leaf, STACK_OF(X509) * chain, struct verdict *v)
{
    const gnutls_datum_t *certs;
    unsigned int n = 0, i;

    certs = s != NULL ? gnutls_certificate_get_peers(s, &n) : NULL;
    if (certs == NULL || n == 0) {
        deny(v, 401, "no client certificate: the import API needs one from the configured CA");
        return false;
    }
    for (i = 0; i < n && i < SKS_CHAIN_MAX; i++) {
        const unsigned char *p = certs[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)certs[i].size);

        if (x == NULL) {
            ERR_clear_error();
            deny(v, 403, "client certificate %u is not DER X.509", i);
            return false;
        }
        if (i == 0)
            *leaf = x;
        else if (!sk_X509_push(chain, x))
            X509_free(x);
    }
    return true;
}

static void check_tls(struct sksd *d, struct MHD_Connection *c, struct sksd_peer *peer,
                      struct verdict *v)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *leaf = NULL;
    char subject[256];

    if (chain == NULL || ctx == NULL) {
        deny(v, 503, "out of memory");
        goto done;
    }
    if (!peer_certs(ci != NULL ? ci->tls_session : NULL, &leaf, chain, v))
        goto done;
    subject_rfc2253(leaf, subject, sizeof(subject));
    snprintf(peer->who, sizeof(peer->who), "tls:%s", subject);
    if (X509_STORE_CTX_init(ctx, d->client_ca, leaf, chain) != 1 ||
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1 ||
        X509_verify_cert(ctx) != 1) {
        deny(v, 403, "client certificate \"%s\" does not verify against the import client CA: %s",
             subject, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto done;
    }
    if (!subject_allowed(d, subject))
        deny(v, 403, "client certificate subject \"%s\" is not on the import allow-list", subject);
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
}

static void check_unix(struct sksd *d, struct MHD_Connection *c, struct sksd_peer *peer,
                       struct verdict *v)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);
    bool ok = false;
    size_t i;

    if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        deny(v, 401, "the peer's credentials (SO_PEERCRED) are not available");
        return;
    }
    snprintf(peer->who, sizeof(peer->who), "uid:%u pid:%ld", (unsigned int)cred.uid,
             (long)cred.pid);
    pthread_rwlock_rdlock(&d->conf_lock);
    for (i = 0; i < d->conf->nallowed_uids && !ok; i++)
        ok = d->conf->allowed_uids[i] == cred.uid;
    pthread_rwlock_unlock(&d->conf_lock);
    if (!ok)
        deny(v, 403, "uid %u is not on the import allow-list", (unsigned int)cred.uid);
}

bool sksd_import_authenticate(struct sksd *d, struct MHD_Connection *c, bool tls,
                              struct sksd_peer *peer, struct sksd_req *r, enum MHD_Result *ret)
{
    struct verdict v = {0, ""};

    snprintf(peer->who, sizeof(peer->who), "%s", tls ? "tls:(no certificate)" : "unix:(unknown)");
    if (tls)
        check_tls(d, c, peer, &v);
    else
        check_unix(d, c, peer, &v);
    if (v.status == 0)
        return true;
    sksd_audit(peer, "authenticate", NULL, 0, "denied", v.why);
    *ret = sksd_reply_error(r, c, v.status, v.status == 401 ? "unauthenticated" : "forbidden", "",
                            v.why);
    return false;
}
