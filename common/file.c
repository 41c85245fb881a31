/*
 * Reading a file whose name a user or a configuration gives: a FIFO, a
 * device or a directory where a file should be gets an error that says so
 * at once (opening a FIFO would wait for a writer), and a file larger than
 * its limit is refused, not read.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/file.h"

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a plain file";
}

sks_status sks_file_read(const char *path, size_t max, unsigned char **data, size_t *len,
                         struct sks_error *err)
{
    unsigned char *buf = NULL, *grown;
    size_t got = 0, cap;
    struct stat sb;
    sks_status st = SKS_OK;
    int fd;

    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return sks_fail(err, errno == ENOENT ? SKS_ERR_NOT_FOUND : SKS_ERR_SYSTEM,
                        "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = sks_fail(err, SKS_ERR_INPUT, "%s is not a regular file (%s): give a file", path,
                      file_kind(sb.st_mode));
        goto done;
    }
    if ((unsigned long long)sb.st_size > max) {
        st = sks_fail(err, SKS_ERR_INPUT, "%s is too large (%lld bytes; the limit is %zu)", path,
                      (long long)sb.st_size, max);
        goto done;
    }
    /* st_size is a hint (0 for /proc files, stale for a growing file): the limit is what counts. */
    cap = (size_t)sb.st_size + 1;
    if ((buf = OPENSSL_malloc(cap + 1)) == NULL) {
        st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", path);
        goto done;
    }
    for (;;) {
        ssize_t n;
        if (got == cap) {
            size_t next = cap > max / 2 ? max + 1 : cap * 2;
            if (cap > max)
                break;
            if ((grown = OPENSSL_clear_realloc(buf, cap + 1, next + 1)) == NULL) {
                st = sks_fail(err, SKS_ERR_SYSTEM, "out of memory reading %s", path);
                goto done;
            }
            buf = grown;
            cap = next;
        }
        n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = sks_fail(err, SKS_ERR_SYSTEM, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > max) {
        st = sks_fail(err, SKS_ERR_INPUT, "%s is too large (over the limit of %zu bytes)", path,
                      max);
        goto done;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
done:
    if (buf != NULL)
        OPENSSL_clear_free(buf, cap + 1);
    close(fd);
    return st;
}
