/*
 * fault_sign [-t THREADS] [-n ATTEMPTS] [-s STOPFILE] [-r READYFILE] [-g GOFILE] [-f]
 *            KEY-URI PUB.pem
 *
 * Signs in a loop, as a SIP proxy does, while a test makes the token fail
 * underneath it (tests/p11fault).  The key comes from KEY-URI through
 * OSSL_STORE (the sks provider, activated by OPENSSL_CONF); every signature
 * is verified in software with PUB.pem.  A failed signature is counted and
 * reported, and the loop goes on: whether signing recovers is what the test
 * looks at.
 *
 *   -t THREADS    threads signing with the one key (default 1)
 *   -n ATTEMPTS   signature attempts per thread (default: until STOPFILE, or 100)
 *   -s STOPFILE   stop once this file exists
 *   -r READYFILE  created once the key is loaded and has signed once
 *   -g GOFILE     after READYFILE, wait for this file before the loop
 *   -f            fork once the key has signed; the child runs the loop
 *                 (and writes READYFILE) with the inherited key
 *
 * Output on stdout, a line an event and flushed at once so that a test can
 * follow it while it runs:
 *   FAIL thread=T attempt=N at_us=U latency_us=L error=MESSAGE
 *   RESUMED thread=T at_us=U failures=K   (the first success after failures)
 *   BAD thread=T attempt=N                (a signature that did not verify)
 *   SUMMARY attempts=A ok=O failed=F bad=B min_latency_us=M max_latency_us=L
 * Times are CLOCK_REALTIME in microseconds.  Exits 1 when a signature did
 * not verify or the set-up failed, 2 on bad usage, else 0.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tests/interop/interop.h"

#define MAX_THREADS 64
#define DEFAULT_ATTEMPTS 100
/* A waiting driver gives up on its own: a test that forgot it must not hang. */
#define WAIT_LIMIT_US (120 * 1000000LL)
#define FAIL_PAUSE_US 1000

struct options {
    long threads, attempts;
    const char *stop_file, *ready_file, *go_file;
    bool fork_child;
};

struct worker {
    pthread_t thread;
    int index;
    const struct options *opt;
    EVP_PKEY *key, *pub;
    long attempts, ok, failed, bad;
    long long min_latency_us, max_latency_us;
};

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void pause_us(long long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

    nanosleep(&ts, NULL);
}

static bool file_exists(const char *path)
{
    return path != NULL && access(path, F_OK) == 0;
}

/* OpenSSL's error queue of this thread on one line (and emptied). */
static void error_line(char *buf, size_t size)
{
    const char *data;
    unsigned long e;
    size_t used = 0;
    int flags;

    buf[0] = '\0';
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *reason = ERR_reason_error_string(e);
        int n =
            snprintf(buf + used, size - used, "%s%s%s%s", used ? "; " : "",
                     reason != NULL ? reason : "unknown error",
                     (flags & ERR_TXT_STRING) ? ": " : "", (flags & ERR_TXT_STRING) ? data : "");
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, size, "no error reported");
}

static bool keep_going(const struct worker *w)
{
    if (w->opt->attempts > 0 && w->attempts >= w->opt->attempts)
        return false;
    return !file_exists(w->opt->stop_file);
}

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    unsigned char sig[INTEROP_DER_SIG_MAX];
    char msg[128], err[1024];
    long run_failures = 0;
    long long t0, t1;
    size_t sig_len;
    int msg_len;

    while (keep_going(w)) {
        msg_len = snprintf(msg, sizeof(msg), "INVITE pid %ld thread %d call %ld", (long)getpid(),
                           w->index, w->attempts);
        ERR_clear_error(); /* a FAIL line names this attempt's errors only */
        t0 = now_us();
        sig_len = interop_sign(w->key, (unsigned char *)msg, (size_t)msg_len, sig);
        t1 = now_us();
        w->attempts++;
        if (t1 - t0 > w->max_latency_us)
            w->max_latency_us = t1 - t0;
        if (w->min_latency_us == 0 || t1 - t0 < w->min_latency_us)
            w->min_latency_us = t1 - t0;
        if (sig_len == 0) {
            error_line(err, sizeof(err));
            printf("FAIL thread=%d attempt=%ld at_us=%lld latency_us=%lld error=%s\n", w->index,
                   w->attempts, t1, t1 - t0, err);
            w->failed++;
            run_failures++;
            pause_us(FAIL_PAUSE_US);
            continue;
        }
        if (!interop_verify(w->pub, (unsigned char *)msg, (size_t)msg_len, sig, sig_len)) {
            printf("BAD thread=%d attempt=%ld\n", w->index, w->attempts);
            w->bad++;
            continue;
        }
        w->ok++;
        if (run_failures > 0)
            printf("RESUMED thread=%d at_us=%lld failures=%ld\n", w->index, t1, run_failures);
        run_failures = 0;
    }
    return NULL;
}

static void touch(const char *path)
{
    if (path != NULL)
        interop_write_file(path, (const unsigned char *)"", 0);
}

static void wait_for(const char *path)
{
    long long limit = now_us() + WAIT_LIMIT_US;

    while (path != NULL && !file_exists(path)) {
        if (now_us() > limit)
            interop_die("gave up waiting for %s", path);
        pause_us(5000);
    }
}

static void sign_once_or_die(EVP_PKEY *key, EVP_PKEY *pub, const char *who)
{
    unsigned char sig[INTEROP_DER_SIG_MAX];
    static const unsigned char msg[] = "OPTIONS before the faults";
    size_t len = interop_sign(key, msg, sizeof(msg) - 1, sig);

    if (len == 0 || !interop_verify(pub, msg, sizeof(msg) - 1, sig, len))
        interop_die("%s cannot sign before any fault is injected", who);
}

/* The signing threads; returns the exit status. */
static int run(const struct options *opt, EVP_PKEY *key, EVP_PKEY *pub)
{
    struct worker workers[MAX_THREADS];
    struct worker sum = {0};
    long t;

    touch(opt->ready_file);
    wait_for(opt->go_file);
    for (t = 0; t < opt->threads; t++) {
        workers[t] = (struct worker){.index = (int)t, .opt = opt, .key = key, .pub = pub};
        if (pthread_create(&workers[t].thread, NULL, sign_loop, &workers[t]) != 0)
            interop_die("cannot start thread %ld", t);
    }
    for (t = 0; t < opt->threads; t++) {
        pthread_join(workers[t].thread, NULL);
        sum.attempts += workers[t].attempts;
        sum.ok += workers[t].ok;
        sum.failed += workers[t].failed;
        sum.bad += workers[t].bad;
        if (workers[t].max_latency_us > sum.max_latency_us)
            sum.max_latency_us = workers[t].max_latency_us;
        if (sum.min_latency_us == 0 || workers[t].min_latency_us < sum.min_latency_us)
            sum.min_latency_us = workers[t].min_latency_us;
    }
    printf(
        "SUMMARY attempts=%ld ok=%ld failed=%ld bad=%ld min_latency_us=%lld max_latency_us=%lld\n",
        sum.attempts, sum.ok, sum.failed, sum.bad, sum.min_latency_us, sum.max_latency_us);
    return sum.bad == 0 ? 0 : 1;
}

static int wait_child(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        interop_die("waitpid failed");
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "fault_sign: the child was killed by signal %d\n", WTERMSIG(status));
        return 1;
    }
    return WEXITSTATUS(status);
}

static void usage(void)
{
    fprintf(stderr, "usage: fault_sign [-t THREADS] [-n ATTEMPTS] [-s STOPFILE] [-r READYFILE] "
                    "[-g GOFILE] [-f] KEY-URI PUB.pem\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct options opt = {.threads = 1};
    EVP_PKEY *key, *pub;
    pid_t pid;
    int c, rc;

    interop_prog = "fault_sign";
    while ((c = getopt(argc, argv, "t:n:s:r:g:f")) != -1) {
        switch (c) {
        case 't':
            opt.threads = interop_parse_count(optarg, MAX_THREADS, "THREADS");
            break;
        case 'n':
            opt.attempts = interop_parse_count(optarg, 10000000, "ATTEMPTS");
            break;
        case 's':
            opt.stop_file = optarg;
            break;
        case 'r':
            opt.ready_file = optarg;
            break;
        case 'g':
            opt.go_file = optarg;
            break;
        case 'f':
            opt.fork_child = true;
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2)
        usage();
    if (opt.attempts == 0 && opt.stop_file == NULL)
        opt.attempts = DEFAULT_ATTEMPTS;
    /* A test follows the events while the driver runs. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    key = interop_load_key(argv[optind]);
    pub = interop_load_soft_pubkey(argv[optind + 1]);
    sign_once_or_die(key, pub, "the key");

    if (!opt.fork_child) {
        rc = run(&opt, key, pub);
    } else {
        fflush(NULL);
        pid = fork();
        if (pid < 0)
            interop_die("fork failed");
        if (pid == 0) {
            sign_once_or_die(key, pub, "the forked child");
            rc = run(&opt, key, pub);
            fflush(NULL);
            _exit(rc);
        }
        rc = wait_child(pid);
    }
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
    return rc;
}
