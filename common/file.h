#ifndef SKS_FILE_H
#define SKS_FILE_H

#include <stddef.h>

#include "common/error.h"

/*
 * Reads the regular file |path|, at most |max| bytes, into a NUL-terminated
 * buffer (not counted in *len; OPENSSL_clear_free it).  A file that is not
 * regular (a FIFO, a device, a directory, a socket) or is larger is
 * refused, not read, and nothing waits on it.
 */
sks_status sks_file_read(const char *path, size_t max, unsigned char **data, size_t *len,
                         struct sks_error *err);

#endif
