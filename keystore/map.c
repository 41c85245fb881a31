/*
 * A chained hash map from byte strings to pointers: the key store's index
 * and cache hold one entry per identity and per object ID, and a token may hold
 * tens of thousands of them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "keystore/internal.h"

struct ks_map_node {
    struct ks_map_node *next;
    void *val;
    size_t klen;
    unsigned char key[];
};

/* FNV-1a, 64 bits: keys are names and random object IDs, not attacker-chosen floods. */
static uint64_t hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 14695981039346656037ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct ks_map_node **slot(const struct ks_map *m, const void *key, size_t klen)
{
    struct ks_map_node **pp = &m->buckets[hash(key, klen) % m->nbuckets];

    while (*pp != NULL && ((*pp)->klen != klen || memcmp((*pp)->key, key, klen) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *ks_map_get(const struct ks_map *m, const void *key, size_t klen)
{
    struct ks_map_node **pp;

    if (m->nbuckets == 0)
        return NULL;
    pp = slot(m, key, klen);
    return *pp != NULL ? (*pp)->val : NULL;
}

static bool grow(struct ks_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64, i;
    struct ks_map_node **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return false;
    for (i = 0; i < m->nbuckets; i++) {
        struct ks_map_node *node = m->buckets[i], *next;
        for (; node != NULL; node = next) {
            size_t j = hash(node->key, node->klen) % n;
            next = node->next;
            node->next = b[j];
            b[j] = node;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return true;
}

bool ks_map_put(struct ks_map *m, const void *key, size_t klen, void *val)
{
    struct ks_map_node **pp, *node;

    if (m->count >= m->nbuckets && !grow(m))
        return false;
    pp = slot(m, key, klen);
    if (*pp != NULL) {
        (*pp)->val = val;
        return true;
    }
    node = malloc(sizeof(*node) + klen);
    if (node == NULL)
        return false;
    node->next = NULL;
    node->val = val;
    node->klen = klen;
    memcpy(node->key, key, klen);
    *pp = node;
    m->count++;
    return true;
}

void *ks_map_del(struct ks_map *m, const void *key, size_t klen)
{
    struct ks_map_node **pp, *node;
    void *val;

    if (m->nbuckets == 0)
        return NULL;
    pp = slot(m, key, klen);
    if ((node = *pp) == NULL)
        return NULL;
    *pp = node->next;
    val = node->val;
    free(node);
    m->count--;
    return val;
}

int ks_map_each(const struct ks_map *m, int (*fn)(void *val, void *arg), void *arg)
{
    size_t i;
    int rc;

    for (i = 0; i < m->nbuckets; i++) {
        struct ks_map_node *node;
        for (node = m->buckets[i]; node != NULL; node = node->next)
            if ((rc = fn(node->val, arg)) != 0)
                return rc;
    }
    return 0;
}

void ks_map_clear(struct ks_map *m, void (*fn)(void *val))
{
    size_t i;

    for (i = 0; i < m->nbuckets; i++) {
        struct ks_map_node *node = m->buckets[i], *next;
        for (; node != NULL; node = next) {
            next = node->next;
            if (fn != NULL)
                fn(node->val);
            free(node);
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}
