#ifndef SKS_VERIFY_X5U_H
#define SKS_VERIFY_X5U_H

#include "fetch/cache.h"

/*
 * A fetch cache of x5u certificate chains: each entry's value is the
 * STACK_OF(X509) the body held (PEM certificates, or one DER one), parsed
 * once; a body that holds none is kept as a failure ("the body of URL
 * holds no ...").  The verifier takes its own references (X509_chain_up_ref).
 */
struct sks_fetch_cache *sks_x5u_cache_new(const struct sks_fetch_cache_opts *opts,
                                          const struct sks_fetch_opts *fetch);

#endif
