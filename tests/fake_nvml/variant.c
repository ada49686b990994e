/* variant.c - which export set this build of the fake library has; compiled once per variant library.
 *
 * The variant libraries are the same objects linked with different version scripts (exports_*.map), which hide
 * the entry points a driver branch lacks. The library also needs to know which set it has, so that it can refuse
 * a scenario for another branch instead of serving it with the wrong ABI; the self-test checks that this value and
 * the symbols dlsym() really finds agree.
 */
#include "scenario.h"

#ifndef FAKE_NVML_EXPORTS
#error "define FAKE_NVML_EXPORTS as SE_ALL, SE_R470 or SE_R525"
#endif

const enum scenario_exports fake_nvml_exports = FAKE_NVML_EXPORTS;
