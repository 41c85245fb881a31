/*
 * Module loading and the process-wide registry of modules and tokens.
 *
 * p11-kit loads the module (and, by default, is the module: its proxy makes
 * every registered module reachable).  The module is initialised once and
 * never finalised from an exit handler: SoftHSM crashes when C_Finalize runs
 * from atexit, and finalising under other users of the module is wrong.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <p11-kit/p11-kit.h>

#include "p11/internal.h"

_Atomic unsigned long p11_fork_generation;

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static struct p11_module *modules;
static pthread_once_t once = PTHREAD_ONCE_INIT;

void p11_registry_lock(void)
{
    pthread_mutex_lock(&registry);
}

void p11_registry_unlock(void)
{
    pthread_mutex_unlock(&registry);
}

/*
 * Fork: the child must not inherit a lock some other thread held, so the
 * registry and every token lock are taken around fork().  Those locks are
 * only ever held for PKCS#11 calls, never across a callback that may fork.
 */
static void atfork_prepare(void)
{
    struct p11_module *m;
    struct p11_token *t;

    pthread_mutex_lock(&registry);
    for (m = modules; m != NULL; m = m->next)
        for (t = m->tokens; t != NULL; t = t->next)
            pthread_mutex_lock(&t->lock);
}

static void atfork_release(void)
{
    struct p11_module *m;
    struct p11_token *t;

    for (m = modules; m != NULL; m = m->next)
        for (t = m->tokens; t != NULL; t = t->next)
            pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&registry);
}

static void atfork_child(void)
{
    atfork_release();
    atomic_fetch_add(&p11_fork_generation, 1);
}

static void init_once(void)
{
    const char *trace = getenv("SKS_P11_TRACE");

    p11_trace_enabled = trace != NULL && trace[0] == '1';
    pthread_atfork(atfork_prepare, atfork_release, atfork_child);
}

static CK_RV initialise(CK_FUNCTION_LIST *fl)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    /*
     * Modules built on OpenSSL (SoftHSM) leave their own start-up errors,
     * such as a missing rdrand engine, on our thread's error queue; they
     * would be printed with every later error of ours.
     */
    ERR_set_mark();
    rv = fl->C_Initialize(&args);
    ERR_pop_to_mark();

    /* Someone else in this process (another provider, an engine) got there first. */
    return rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? CKR_OK : rv;
}

/*
 * p11-kit loads modules, except its own proxy, which it refuses to load as a
 * registered module; the proxy is an ordinary PKCS#11 module to dlopen.
 */
static CK_FUNCTION_LIST *load_functions(const char *path, bool *by_p11kit, struct sks_error *err)
{
    CK_FUNCTION_LIST *fl = NULL;
    CK_C_GetFunctionList get;
    const char *base = strrchr(path, '/');
    void *dl;

    *by_p11kit = strcmp(base != NULL ? base + 1 : path, "p11-kit-proxy.so") != 0;
    if (*by_p11kit) {
        fl = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
        if (fl == NULL)
            sks_fail(err, SKS_ERR_NOT_FOUND, "cannot load PKCS#11 module %s: %s", path,
                     p11_kit_message() != NULL ? p11_kit_message() : "unknown error");
        return fl;
    }
    /* Never unloaded: modules live as long as the process (see above). */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    get = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (get == NULL || get(&fl) != CKR_OK || fl == NULL) {
        sks_fail(err, SKS_ERR_NOT_FOUND, "cannot load PKCS#11 module %s: %s", path,
                 dl == NULL ? dlerror() : "no usable C_GetFunctionList");
        return NULL;
    }
    return fl;
}

sks_status p11_module_get(const char *path, struct p11_module **out, struct sks_error *err)
{
    struct p11_module *mod;
    CK_FUNCTION_LIST *fl;
    bool by_p11kit = false;
    CK_RV rv;

    pthread_once(&once, init_once);
    if (path == NULL || path[0] == '\0')
        path = SKS_DEFAULT_PKCS11_MODULE;

    p11_registry_lock();
    for (mod = modules; mod != NULL; mod = mod->next) {
        if (strcmp(mod->path, path) == 0) {
            mod->refs++;
            p11_registry_unlock();
            *out = mod;
            return p11_module_check_fork(mod, err);
        }
    }

    fl = load_functions(path, &by_p11kit, err);
    if (fl == NULL) {
        p11_registry_unlock();
        return SKS_ERR_NOT_FOUND;
    }
    rv = initialise(fl);
    if (rv != CKR_OK) {
        if (by_p11kit)
            p11_kit_module_release(fl);
        p11_registry_unlock();
        return p11_fail(err, rv, "cannot initialise PKCS#11 module %s", path);
    }
    mod = calloc(1, sizeof(*mod));
    if (mod == NULL || (mod->path = strdup(path)) == NULL) {
        free(mod);
        p11_registry_unlock();
        return sks_fail(err, SKS_ERR_SYSTEM, "out of memory");
    }
    mod->fl = fl;
    mod->refs = 1;
    mod->fork_gen = atomic_load(&p11_fork_generation);
    mod->next = modules;
    modules = mod;
    p11_registry_unlock();
    *out = mod;
    return SKS_OK;
}

/*
 * Modules stay loaded and initialised for the life of the process, even
 * when the last reference goes: see the comment at the top.
 */
void p11_module_put(struct p11_module *mod)
{
    if (mod == NULL)
        return;
    p11_registry_lock();
    mod->refs--;
    p11_registry_unlock();
}

const char *p11_module_path(const struct p11_module *mod)
{
    return mod->path;
}

CK_FUNCTION_LIST *p11_module_functions(struct p11_module *mod)
{
    return mod->fl;
}

/*
 * In a forked child the PKCS#11 spec asks for a fresh C_Initialize.  Modules
 * whose state survives fork (SoftHSM) answer CKR_CRYPTOKI_ALREADY_INITIALIZED,
 * which is fine.  The parent's sessions are forgotten, not closed: closing
 * them from the child could close them for the parent on a network HSM.
 */
sks_status p11_module_after_fork(struct p11_module *mod, struct sks_error *err)
{
    unsigned long gen;
    struct p11_token *t;
    CK_RV rv = CKR_OK;

    p11_registry_lock();
    gen = atomic_load(&p11_fork_generation);
    if (mod->fork_gen != gen) {
        rv = initialise(mod->fl);
        if (rv == CKR_OK) {
            for (t = mod->tokens; t != NULL; t = t->next)
                p11_token_forget(t);
            mod->fork_gen = gen;
        }
    }
    p11_registry_unlock();
    if (rv != CKR_OK)
        return p11_fail(err, rv, "cannot re-initialise PKCS#11 module %s after fork", mod->path);
    return SKS_OK;
}
