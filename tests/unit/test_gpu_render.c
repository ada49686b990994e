/* test_gpu_render.c - every consumer of a GPU collection against one readings fixture: the dcgm-exporter
 * names, the Princeton names, jobtel's own series and the JSON API. A reading whose valid bit is clear
 * must give no series at all (never a made-up zero); a lost GPU gives only jobtel_gpu_up 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/gpu_render.h"
#include "exporter/api.h"
#include "exporter/config.h"

/* GPU 0: an H100 with a MIG instance; GPU 1: lost. */
struct fixture {
    struct exporter_config cfg;
    struct dcgm_selection sel;
    struct gpu_collection c;
    struct gpu_entity e[3];
    struct gpu_entity_owners own[3];
};

static void entity(struct gpu_entity *e, unsigned index, const char *uuid)
{
    memset(e, 0, sizeof *e);
    e->index = index;
    snprintf(e->index_s, sizeof e->index_s, "%u", index);
    snprintf(e->minor_s, sizeof e->minor_s, "%u", index);
    snprintf(e->device_s, sizeof e->device_s, "nvidia%u", index);
    snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
    snprintf(e->name, sizeof e->name, "NVIDIA H100");
    snprintf(e->model, sizeof e->model, "NVIDIA H100");
    snprintf(e->pci, sizeof e->pci, "00000000:1%u:00.0", index);
    e->mig_slot = -1;
    e->up = true;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    config_defaults(&f->cfg);
    f->cfg.hostname = "node1";
    uint64_t need = 0;
    assert_int_equal(dcgm_selection_load(NULL, &f->sel, &need), JT_OK);

    struct gpu_entity *g = &f->e[0];
    entity(g, 0, "GPU-0");
    g->nmig = 1;
    reading_set(&g->rd, R_GPU_UTIL, 42);
    reading_set(&g->rd, R_POWER_MW, 215000);
    reading_set(&g->rd, R_FB_USED, 20 * 1048576.0);
    reading_set(&g->rd, R_FB_USED_V1, 21 * 1048576.0);
    reading_set(&g->rd, R_FB_TOTAL, 80 * 1048576.0);
    reading_set(&g->rd, R_CLOCK_REASONS, 0x1);
    g->rd.v[R_GPU_TEMP] = 99; /* a value without its valid bit: must never be written */
    g->rd.v[R_FB_FREE] = 7;
    g->pids_valid = true; /* the renderers never read pids: the join did */

    struct gpu_entity *m = &f->e[1];
    entity(m, 0, "GPU-0");
    m->is_mig = true;
    snprintf(m->gi, sizeof m->gi, "3");
    snprintf(m->mig_uuid, sizeof m->mig_uuid, "MIG-3");
    snprintf(m->mig_name, sizeof m->mig_name, "NVIDIA H100 MIG 1g.10gb");
    snprintf(m->profile, sizeof m->profile, "1g.10gb");
    m->mig_slot = 0;
    reading_set(&m->rd, R_FB_USED, 5 * 1048576.0);
    reading_set(&m->rd, R_FB_USED_V1, 5 * 1048576.0);
    m->rd.v[R_FB_TOTAL] = 1; /* invalid */

    struct gpu_entity *lost = &f->e[2];
    entity(lost, 1, "GPU-1");
    lost->up = false;
    lost->last_error = 15;
    reading_set(&lost->rd, R_GPU_UTIL, 77); /* read before it fell off the bus: not rendered */
    lost->xids[0].xid = 79;
    lost->xids[0].count = 2;
    lost->nxids = 1;

    f->c.nvml_available = true;
    snprintf(f->c.driver_version, sizeof f->c.driver_version, "550.1");
    f->c.ngpus = 2;
    f->c.n = 3;
    f->c.e = f->e;

    snprintf(f->own[0].jobs.job[0].jobid, sizeof f->own[0].jobs.job[0].jobid, "1001");
    snprintf(f->own[0].jobs.job[0].uid, sizeof f->own[0].jobs.job[0].uid, "5000");
    f->own[0].jobs.n = 1;
    f->own[0].jobs.from_processes = true;
    f->own[1].pods.pod[0] = (struct gpu_pod){"ml", "trainer", "t"};
    f->own[1].pods.n = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dcgm_selection_free(&f->sel);
    free(f);
    return 0;
}

/* Renders one consumer; returns the text (caller frees). */
static char *render(struct fixture *f, const struct gpu_readings_consumer *cons)
{
    struct gpu_render_input in = {&f->cfg, &f->sel, &f->c, f->own, 100.0, NULL};
    struct expo w;
    expo_init(&w, 1 << 20);
    cons->consume(&in, &w);
    assert_int_equal(w.err, JT_OK);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(expo_render(&w, &out), JT_OK);
    expo_free(&w);
    char *text = strdup(out.data ? out.data : "");
    buf_free(&out);
    return text;
}

static void has(const char *text, const char *line)
{
    if (!strstr(text, line)) {
        fprintf(stderr, "missing: %s\nin:\n%s", line, text);
        fail();
    }
}

static void lacks(const char *text, const char *needle)
{
    if (strstr(text, needle)) {
        fprintf(stderr, "unexpected: %s\nin:\n%s", needle, text);
        fail();
    }
}

#define DL0 "gpu=\"0\",UUID=\"GPU-0\",pci_bus_id=\"00000000:10:00.0\",device=\"nvidia0\",modelName=\"NVIDIA H100\""

static void test_dcgm_names_only_valid_readings(void **state)
{
    struct fixture *f = *state;
    char *t = render(f, &render_dcgm);
    has(t, "DCGM_FI_DEV_GPU_UTIL{" DL0 ",hostname=\"node1\",DCGM_FI_DRIVER_VERSION=\"550.1\",hpc_job=\"1001\"} 42\n");
    has(t, "DCGM_FI_DEV_POWER_USAGE{" DL0 ",hostname=\"node1\",DCGM_FI_DRIVER_VERSION=\"550.1\",hpc_job=\"1001\"} 215\n");
    has(t, "DCGM_FI_DEV_FB_USED{" DL0 ",hostname=\"node1\",DCGM_FI_DRIVER_VERSION=\"550.1\",hpc_job=\"1001\"} 20\n");
    /* MIG: per-instance fields only, with the instance labels and its pod. */
    has(t, "DCGM_FI_DEV_FB_USED{" DL0 ",GPU_I_PROFILE=\"1g.10gb\",GPU_I_ID=\"3\",hostname=\"node1\","
           "DCGM_FI_DRIVER_VERSION=\"550.1\",container=\"t\",namespace=\"ml\",pod=\"trainer\"} 5\n");
    lacks(t, "GPU_I_ID=\"3\",hostname=\"node1\",DCGM_FI_DRIVER_VERSION=\"550.1\",container=\"t\",namespace=\"ml\",pod=\"trainer\"} 42");
    /* Invalid readings: no series, whatever the value slot holds. */
    lacks(t, "DCGM_FI_DEV_GPU_TEMP");
    lacks(t, "DCGM_FI_DEV_FB_FREE");
    lacks(t, "} 99\n");
    lacks(t, "DCGM_FI_DEV_FB_TOTAL{" DL0 ",GPU_I_PROFILE");
    /* A lost GPU: nothing. */
    lacks(t, "GPU-1");
    free(t);
}

static void test_jobstats_names_only_valid_readings(void **state)
{
    struct fixture *f = *state;
    char *t = render(f, &render_jobstats);
    const char *pl = "jobid=\"1001\",minor_number=\"0\",name=\"NVIDIA H100\",ordinal=\"0\",userid=\"5000\",uuid=\"GPU-0\"";
    char line[512];
    snprintf(line, sizeof line, "nvidia_gpu_duty_cycle{%s} 42\n", pl);
    has(t, line);
    snprintf(line, sizeof line, "nvidia_gpu_power_usage_milliwatts{%s} 215000\n", pl);
    has(t, line);
    snprintf(line, sizeof line, "nvidia_gpu_memory_used_bytes{%s} 22020096\n", pl); /* v1 semantics */
    has(t, line);
    snprintf(line, sizeof line, "nvidia_gpu_jobId{%s} 1001\n", pl);
    has(t, line);
    has(t, "nvidia_gpu_num_devices 2\n");
    has(t, "reason=\"idle\"");
    has(t, "nvidia_gpu_memory_used_bytes{GPU_I_ID=\"3\",minor_number=\"0\",name=\"NVIDIA H100 MIG 1g.10gb\",ordinal=\"0\",uuid=\"MIG-3\"} 5242880\n");
    lacks(t, "nvidia_gpu_temperature_celsius");
    lacks(t, "nvidia_gpu_memory_total_bytes{GPU_I_ID");
    lacks(t, "nvidia_gpu_duty_cycle{minor_number=\"1\"");
    has(t, "nvidia_gpu_last_error{minor_number=\"1\",name=\"NVIDIA H100\",ordinal=\"1\",uuid=\"GPU-1\"} 15\n");
    free(t);
}

static void test_jobtel_series(void **state)
{
    struct fixture *f = *state;
    char *t = render(f, &render_jobtel);
    has(t, "jobtel_gpu_nvml_available 1\n");
    has(t, "jobtel_gpu_up{" DL0 "} 1\n");
    has(t, "jobtel_gpu_up{gpu=\"1\",UUID=\"GPU-1\",pci_bus_id=\"00000000:11:00.0\",device=\"nvidia1\",modelName=\"NVIDIA H100\"} 0\n");
    has(t, "jobtel_gpu_xid_errors_total{gpu=\"1\",UUID=\"GPU-1\",pci_bus_id=\"00000000:11:00.0\",device=\"nvidia1\","
           "modelName=\"NVIDIA H100\",xid=\"79\"} 2\n");
    has(t, "jobtel_gpu_process_job_info{gpu=\"0\",UUID=\"GPU-0\",jobid=\"1001\"} 1\n");
    has(t, "jobtel_kubernetes_gpu_pod_info{gpu=\"0\",UUID=\"GPU-0\",GPU_I_ID=\"3\",container=\"t\",namespace=\"ml\",pod=\"trainer\"} 1\n");
    free(t);

    f->c.nvml_available = false;
    f->c.n = 0;
    t = render(f, &render_jobtel);
    assert_string_equal(t, "# HELP jobtel_gpu_nvml_available Whether the NVML library was loaded and initialised (1) or not (0).\n"
                           "# TYPE jobtel_gpu_nvml_available gauge\njobtel_gpu_nvml_available 0\n");
    free(t);
    char *d = render(f, &render_dcgm);
    assert_string_equal(d, "");
    free(d);
}

/* --collector.gpu.job-labels=info: no job or pod label on a GPU series; the info series carry them, and
 * nvidia_gpu_jobId keeps the job as its value on the GPU's own labels (Princeton before v0.2.2). */
static void test_job_labels_info(void **state)
{
    struct fixture *f = *state;
    f->cfg.gpu_job_labels = GPU_JOB_LABELS_INFO;
    f->own[0].jobs.job[1] = f->own[0].jobs.job[0];
    snprintf(f->own[0].jobs.job[1].jobid, sizeof f->own[0].jobs.job[1].jobid, "1002");
    f->own[0].jobs.job[1].uid[0] = '\0';
    f->own[0].jobs.n = 2; /* two jobs share GPU 0 */
    char *t = render(f, &render_dcgm);
    has(t, "DCGM_FI_DEV_GPU_UTIL{" DL0 ",hostname=\"node1\",DCGM_FI_DRIVER_VERSION=\"550.1\"} 42\n");
    lacks(t, "hpc_job");
    lacks(t, "pod=");
    free(t);
    t = render(f, &render_jobstats);
    const char *pl = "minor_number=\"0\",name=\"NVIDIA H100\",ordinal=\"0\",uuid=\"GPU-0\"";
    char line[512];
    snprintf(line, sizeof line, "nvidia_gpu_duty_cycle{%s} 42\n", pl);
    has(t, line);
    snprintf(line, sizeof line, "nvidia_gpu_jobId{%s} 1001\n", pl);
    has(t, line);
    snprintf(line, sizeof line, "nvidia_gpu_jobUid{%s} 5000\n", pl);
    has(t, line);
    lacks(t, "jobid=");
    lacks(t, "userid=");
    free(t);
    t = render(f, &render_jobtel);
    has(t, "jobtel_gpu_job_info{gpu=\"0\",UUID=\"GPU-0\",jobid=\"1001\",userid=\"5000\"} 1\n");
    has(t, "jobtel_gpu_job_info{gpu=\"0\",UUID=\"GPU-0\",jobid=\"1002\"} 1\n");
    has(t, "jobtel_kubernetes_gpu_pod_info{gpu=\"0\",UUID=\"GPU-0\",GPU_I_ID=\"3\",container=\"t\",namespace=\"ml\",pod=\"trainer\"} 1\n");
    free(t);
    /* the default has no info series: the labels are on every series */
    f->cfg.gpu_job_labels = GPU_JOB_LABELS_ALL;
    t = render(f, &render_jobtel);
    lacks(t, "jobtel_gpu_job_info");
    free(t);
}

/* --collector.gpu.fields=minimal: what the shipped rules, dashboards and jobstats read, no more. */
static void test_fields_minimal(void **state)
{
    struct fixture *f = *state;
    f->cfg.gpu_fields = GPU_FIELDS_MINIMAL;
    struct dcgm_selection sel;
    uint64_t need = 0;
    assert_int_equal(dcgm_selection_for(&f->cfg, &sel, &need), JT_OK);
    assert_int_equal(sel.nmetrics, 11);
    assert_int_equal(sel.nlabels, 1);
    dcgm_selection_free(&f->sel);
    f->sel = sel;
    reading_set(&f->e[0].rd, R_MEM_CLOCK, 2619);
    reading_set(&f->e[0].rd, R_MEM_TEMP, 70);
    char *t = render(f, &render_dcgm);
    has(t, "DCGM_FI_DEV_GPU_UTIL{");
    has(t, "DCGM_FI_DEV_MEM_CLOCK{");
    lacks(t, "DCGM_FI_DEV_MEMORY_TEMP");
    free(t);
    t = render(f, &render_jobstats);
    has(t, "nvidia_gpu_duty_cycle{");
    has(t, "nvidia_gpu_power_usage_milliwatts{");
    has(t, "nvidia_gpu_jobId{");
    lacks(t, "nvidia_gpu_clock_event_reason");
    lacks(t, "nvidia_gpu_clock{");
    free(t);
    /* a counters file still selects the DCGM fields */
    f->cfg.counters_file = "/nonexistent/counters.csv";
    assert_int_not_equal(dcgm_selection_for(&f->cfg, &sel, &need), JT_OK);
    f->cfg.counters_file = NULL;
}

static void test_api_only_valid_readings(void **state)
{
    struct fixture *f = *state;
    f->cfg.api = api_store_new();
    assert_non_null(f->cfg.api);
    free(render(f, &render_api));
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(api_answer(f->cfg.api, 3, false, "/api/v1/gpus", NULL, 100.5, &body, &len), 200);
    /* GPU 0 has utilization and power; the MIG instance has no valid total; GPU 1 is down, no values. */
    has(body, "\"utilization_percent\":42");
    has(body, "\"power_watts\":215");
    has(body, "\"memory_total_bytes\":null");
    lacks(body, "77");
    has(body, "\"up\":false");
    free(body);
    /* Staleness is the GPU collector's own (its interval may be longer than --collect.interval). */
    assert_int_equal(api_answer(f->cfg.api, 3, false, "/api/v1/gpus", NULL, 105, &body, &len), 503);
    free(body);
    api_store_set_stale_after(f->cfg.api, 10);
    assert_int_equal(api_answer(f->cfg.api, 3, false, "/api/v1/gpus", NULL, 105, &body, &len), 200);
    free(body);
    api_store_free(f->cfg.api);
    f->cfg.api = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dcgm_names_only_valid_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobstats_names_only_valid_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobtel_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_only_valid_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_labels_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_minimal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
