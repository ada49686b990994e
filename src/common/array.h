/* array.h - geometric growth for the project's dynamic arrays.
 *
 * Every growable array (families, counters, cgroup names, mapping keys, kubelet devices) grows the
 * same way: double from a first capacity until `need` fits, with the multiplication overflow-checked.
 */
#ifndef JOBTEL_ARRAY_H
#define JOBTEL_ARRAY_H

#include <stddef.h>

/* Returns `v` reallocated to hold at least `need` elements of `size` bytes, updating *cap, or `v`
 * itself when it already fits. Returns NULL (with `v` and *cap untouched, `v` still owned by the
 * caller) when memory runs out or the size would overflow. */
void *array_grow(void *v, size_t *cap, size_t need, size_t size, size_t first);

#endif
