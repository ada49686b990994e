/* test_dcgm_abi.c - our DCGM declarations (src/dcgm/dcgm_types.h) against the layouts of gpu-apis.md §3, and
 * the loader: a missing library and a library without DCGM's symbols are refused with a reason; the fake
 * libdcgm binds; DCGM 3's soname is found when 4's is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dcgm/dcgm_loader.h"

static void test_layouts(void **state)
{
    (void)state;
    assert_int_equal(sizeof(dcgmFieldValue_v1), 4120);
    assert_int_equal(offsetof(dcgmFieldValue_v1, fieldId), 4);
    assert_int_equal(offsetof(dcgmFieldValue_v1, fieldType), 6);
    assert_int_equal(offsetof(dcgmFieldValue_v1, status), 8);
    assert_int_equal(offsetof(dcgmFieldValue_v1, ts), 16);
    assert_int_equal(offsetof(dcgmFieldValue_v1, value), 24);
    assert_int_equal(DCGM_FIELD_VALUE_VERSION1, 0x01001018u);
    assert_int_equal(sizeof(dcgmConnectV2Params_v2), 16);
    assert_int_equal(offsetof(dcgmConnectV2Params_v2, addressIsUnixSocket), 12);
    assert_int_equal(DCGM_CONNECT_V2_PARAMS_VERSION2, 0x02000010u);
    assert_int_equal(sizeof(dcgmHandle_t), sizeof(uintptr_t));
    assert_int_equal(DCGM_ST_CONNECTION_NOT_VALID, -21);
    assert_int_equal(DCGM_FI_PROF_NVLINK_RX_BYTES, 1012);
}

static void test_loader(void **state)
{
    (void)state;
    struct dcgm_lib lib;
    char why[512];
    assert_int_equal(dcgm_lib_open(&lib, "/nonexistent/libdcgm.so.4", why, sizeof why), JT_ERR_LIBRARY);
    assert_non_null(strstr(why, "/nonexistent/libdcgm.so.4"));
    assert_null(lib.handle);
    dcgm_lib_close(&lib);
    /* A real shared library that is not DCGM: refused, naming the first missing symbol. */
    const char *nvml = getenv("FAKE_NVML_LIB");
    assert_non_null(nvml);
    assert_int_equal(dcgm_lib_open(&lib, nvml, why, sizeof why), JT_ERR_LIBRARY);
    assert_non_null(strstr(why, "has no dcgmInit"));
    assert_null(lib.Init);
    const char *fake = getenv("FAKE_DCGM_LIB");
    assert_non_null(fake);
    assert_int_equal(dcgm_lib_open(&lib, fake, why, sizeof why), JT_OK);
    assert_non_null(lib.GetLatestValues_v2);
    assert_non_null(lib.ProfResume);
    assert_string_equal(dcgm_lib_strerror(&lib, DCGM_ST_CONNECTION_NOT_VALID),
                        "The connection to the host engine is not valid any longer");
    dcgm_lib_close(&lib);
    assert_null(lib.handle);
    assert_string_equal(dcgm_lib_strerror(NULL, -1), "unknown DCGM error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
