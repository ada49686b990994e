/* array.c - geometric growth for dynamic arrays (see array.h). */
#include "common/array.h"

#include <stdint.h>
#include <stdlib.h>

void *array_grow(void *v, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap && v)
        return v;
    size_t ncap = *cap ? *cap : (first ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return NULL;
    void *p = realloc(v, ncap * size);
    if (!p)
        return NULL;
    *cap = ncap;
    return p;
}
