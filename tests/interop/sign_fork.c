/*
 * sign_fork KEY-URI PUB.pem [CHILDREN [SIGNATURES]]
 *
 * Pre-forking servers (Kamailio, OpenSIPS, Apache) load the key once and
 * sign in their children.  The parent loads the key from KEY-URI through the
 * sks provider and signs once; CHILDREN children (default 4) then each make
 * SIGNATURES (default 200) signatures at the same time with the inherited
 * EVP_PKEY; after they exit the parent signs again.  Every signature is
 * verified in software with PUB.pem.  Exits 1 on any failure.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/interop/interop.h"

#define DEFAULT_CHILDREN 4
#define DEFAULT_SIGNATURES 200
#define MAX_CHILDREN 64

/* Returns 1 when |count| signatures were made and verified. */
static int sign_some(EVP_PKEY *key, EVP_PKEY *pub, const char *who, long count)
{
    unsigned char sig[INTEROP_DER_SIG_MAX];
    char msg[128];
    size_t sig_len;
    int msg_len;
    long i;

    for (i = 0; i < count; i++) {
        msg_len =
            snprintf(msg, sizeof(msg), "INVITE from %s pid %ld call %ld", who, (long)getpid(), i);
        sig_len = interop_sign(key, (unsigned char *)msg, (size_t)msg_len, sig);
        if (sig_len == 0) {
            interop_report("%s (pid %ld): signature %ld failed", who, (long)getpid(), i);
            return 0;
        }
        if (!interop_verify(pub, (unsigned char *)msg, (size_t)msg_len, sig, sig_len)) {
            interop_report("%s (pid %ld): signature %ld does not verify", who, (long)getpid(), i);
            return 0;
        }
    }
    return 1;
}

/* Waits for every child; returns the number that did not exit 0. */
static int reap(pid_t *pids, long n)
{
    int bad = 0, status;
    long c;

    for (c = 0; c < n; c++) {
        if (waitpid(pids[c], &status, 0) != pids[c]) {
            fprintf(stderr, "sign_fork: waitpid for child %ld failed\n", c);
            bad++;
        } else if (WIFSIGNALED(status)) {
            fprintf(stderr, "sign_fork: FAILED: child %ld was killed by signal %d\n", c,
                    WTERMSIG(status));
            bad++;
        } else if (WEXITSTATUS(status) != 0) {
            fprintf(stderr, "sign_fork: FAILED: child %ld exited with %d\n", c,
                    WEXITSTATUS(status));
            bad++;
        }
    }
    return bad;
}

int main(int argc, char **argv)
{
    long nchildren = DEFAULT_CHILDREN, count = DEFAULT_SIGNATURES, c;
    pid_t pids[MAX_CHILDREN];
    EVP_PKEY *key, *pub;
    int bad;

    interop_prog = "sign_fork";
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: sign_fork KEY-URI PUB.pem [CHILDREN [SIGNATURES]]\n");
        return 2;
    }
    if (argc > 3)
        nchildren = interop_parse_count(argv[3], MAX_CHILDREN, "CHILDREN");
    if (argc > 4)
        count = interop_parse_count(argv[4], 1000000, "SIGNATURES");
    key = interop_load_key(argv[1]);
    pub = interop_load_soft_pubkey(argv[2]);

    if (!sign_some(key, pub, "parent before fork", 1))
        interop_die("FAILED: the parent cannot sign before forking");

    fflush(NULL);
    for (c = 0; c < nchildren; c++) {
        pids[c] = fork();
        if (pids[c] < 0)
            interop_die("fork failed");
        if (pids[c] == 0) {
            int ok = sign_some(key, pub, "child", count);

            fflush(NULL);
            _exit(ok ? 0 : 1);
        }
    }
    bad = reap(pids, nchildren);
    if (bad != 0)
        interop_die("FAILED: %d of %ld children could not sign with the inherited key", bad,
                    nchildren);

    if (!sign_some(key, pub, "parent after children", 10))
        interop_die("FAILED: the parent cannot sign after its children exited");

    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    printf("ok - parent signs, %ld children x %ld signatures, parent signs again: all verified\n",
           nchildren, count);
    return 0;
}
