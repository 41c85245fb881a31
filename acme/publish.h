/*
 * Publication of a key version's certificate chain in the STI-CR before
 * the version is activated (ATIS-1000080 6.3.2: the SP-KMS adds the
 * certificate to the certificate repository; verifiers fetch it by the
 * PASSporT's x5u).  A publisher puts the chain where the x5u will serve
 * it, then GETs the x5u over HTTPS, through the guarded fetcher, until it
 * serves exactly that chain: only then may the version sign.
 *
 * The [publish] section of the configuration file says how:
 *
 *   [publish]
 *   method = directory              # directory | put | command
 *   x5u = https://cr.example.org/sti/{identity}-{version}.pem
 *   # directory: a directory an HTTPS server serves, url_prefix its URL
 *   directory = /srv/sti-cr
 *   url_prefix = https://cr.example.org/sti/
 *   # put: an HTTP PUT to put_url (default: the x5u), with an
 *   # Authorization header whose value is the first line of the file
 *   put_url = https://cr.example.org/upload/{identity}-{version}.pem
 *   credentials_file = /etc/shaken-sks/sti-cr.auth
 *   # command: a hook run without a shell, with SKS_IDENTITY,
 *   # SKS_VERSION and SKS_X5U in its environment and the chain on stdin
 *   command = /usr/local/libexec/publish-chain
 *   command_timeout = 30            # seconds
 *   # the check
 *   ca_file = /etc/ssl/certs/ca-certificates.crt  # TLS roots of the STI-CR
 *   allow_private = no              # the STI-CR may be on a private address
 *   timeout_ms = 5000               # each HTTP request
 *   verify_wait = 60                # seconds the GET check retries in all
 *
 * The x5u template must name {version} (and should name {identity}): each
 * version gets its own URL, so that a verifier's cached copy of the old
 * chain is never taken for the new one.  Relative paths are taken relative
 * to the directory of the configuration file.  A misspelt key is an error.
 *
 * Errors have field "publish" and a stable code: publish-config (the
 * section is wrong), publish-path (a directory path that escapes the
 * directory, goes through a symbolic link or cannot be written),
 * publish-put (the PUT failed or was refused; its HTTP status named),
 * publish-command (the hook failed: its exit status and the last line of
 * its stderr, or its timeout), publish-mismatch (the STI-CR serves another
 * chain, or nothing, at the x5u once verify_wait is over).
 */
#ifndef SKS_ACME_PUBLISH_H
#define SKS_ACME_PUBLISH_H

#include <stddef.h>

#include "common/error.h"
#include "keystore/conf.h"

#define ACME_PUBLISH_SECTION "publish"
#define ACME_PUBLISH_VERIFY_WAIT_DEFAULT 60
#define ACME_PUBLISH_COMMAND_TIMEOUT_DEFAULT 30
/* The largest chain published and fetched back. */
#define ACME_PUBLISH_MAX_BYTES (64 * 1024)

/* The configured publisher: its method, URLs, paths and fetch options. */
struct acme_publisher;

/*
 * The publisher the [publish] section of |cfg| describes; *out is NULL
 * (and SKS_OK) when the file has no [publish] section.  A section that is
 * incomplete, names an unknown key or method, or whose x5u template lacks
 * {version} fails here (publish-config), before anything is ordered.
 */
sks_status acme_publisher_from_config(const struct sks_config *cfg, struct acme_publisher **out,
                                      struct sks_error *err);
void acme_publisher_free(struct acme_publisher *p);

/*
 * The x5u a new version |version| of |identity| gets: the section's x5u
 * template with {identity} and {version} replaced.  Fails when it does not
 * fit in |outlen| bytes.
 */
sks_status acme_publisher_x5u(const struct acme_publisher *p, const char *identity,
                              unsigned int version, char *out, size_t outlen,
                              struct sks_error *err);

/*
 * Publishes |chain| (|len| bytes of PEM, leaf first) so that |x5u| serves
 * it, then GETs |x5u| over HTTPS until it returns exactly |chain|, retrying
 * for up to verify_wait seconds (an STI-CR behind a cache or replicas is
 * consistent only eventually).  On failure, names what went wrong and the
 * URL; nothing in the key store is touched either way.
 */
sks_status acme_publish(const struct acme_publisher *p, const char *identity, unsigned int version,
                        const char *x5u, const char *chain, size_t len, struct sks_error *err);

/* Only the GET check of acme_publish(): |x5u| serves exactly |chain| (within verify_wait). */
sks_status acme_publish_check(const struct acme_publisher *p, const char *x5u, const char *chain,
                              size_t len, struct sks_error *err);

#endif
