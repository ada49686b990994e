/* test_array.c - array_grow: geometric growth, no-op when it fits, overflow refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/array.h"

static void test_grows_geometrically(void **state)
{
    (void)state;
    size_t cap = 0;
    int *v = array_grow(NULL, &cap, 1, sizeof *v, 4);
    assert_non_null(v);
    assert_int_equal(cap, 4);
    int *same = array_grow(v, &cap, 4, sizeof *v, 4);
    assert_ptr_equal(same, v);
    assert_int_equal(cap, 4);
    v = array_grow(v, &cap, 5, sizeof *v, 4);
    assert_non_null(v);
    assert_int_equal(cap, 8);
    v = array_grow(v, &cap, 100, sizeof *v, 4);
    assert_non_null(v);
    assert_int_equal(cap, 128);
    v[99] = 7; /* the memory is really there (ASan checks) */
    free(v);
}

static void test_refuses_overflow_and_keeps_the_old_array(void **state)
{
    (void)state;
    size_t cap = 0;
    char *v = array_grow(NULL, &cap, 10, 1, 16);
    assert_non_null(v);
    assert_null(array_grow(v, &cap, SIZE_MAX, 1, 16));
    assert_int_equal(cap, 16);
    assert_null(array_grow(v, &cap, SIZE_MAX / 8, 16, 16));
    assert_int_equal(cap, 16);
    v[15] = 1; /* still ours */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_geometrically),
        cmocka_unit_test(test_refuses_overflow_and_keeps_the_old_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
