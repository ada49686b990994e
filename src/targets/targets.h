/* targets.h - Prometheus service discovery for the cluster's GPU nodes (`jobtel targets`).
 *
 * A node list comes from text: `scontrol show nodes --oneliner` (nodes with gres/gpu), a static host
 * list, or any command's output (BCM's cmsh). The parsers take the text, not the command, so tests
 * feed them fixtures. The list is rendered as file_sd JSON (one target group per node and exporter,
 * sorted, so the same cluster gives the same bytes) and written atomically and only when it changed:
 * Prometheus re-reads the file on every inotify event, and a reader must never see half a document.
 */
#ifndef JOBTEL_TARGETS_H
#define JOBTEL_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

#define TARGETS_NAME_MAX 255 /* a DNS name is at most 253 characters */

struct target_node {
    char name[TARGETS_NAME_MAX + 1]; /* the `node` label: Slurm's NodeName, or the host */
    char addr[TARGETS_NAME_MAX + 1]; /* where Prometheus connects: NodeAddr, or the host */
};

struct node_list {
    struct target_node *v; /* owned; node_list_free releases it */
    size_t n, cap;
    size_t rejected; /* lines or names skipped because they were not a valid host name */
};

void node_list_free(struct node_list *l);
/* Appends a node; both names must pass targets_valid_host (else JT_ERR_PARSE, list untouched). */
enum jt_err node_list_add(struct node_list *l, const char *name, size_t name_len, const char *addr, size_t addr_len);
/* Sorts by name and drops repeated names (the first address wins). */
void node_list_normalise(struct node_list *l);

/* Letters, digits, '.', '-', '_' (and ':' for an IPv6 address), 1..253 characters: nothing that
 * could break out of a JSON string or a Prometheus target. */
bool targets_valid_host(const char *s, size_t n);

/* `scontrol show nodes --oneliner`: one node per line, Key=Value words. Keeps nodes whose Gres has a
 * gpu entry ("gpu", "gpu:4", "gpu:a100:4(S:0-1)"), named by NodeName, reached at NodeAddr. */
enum jt_err targets_parse_scontrol(const char *text, size_t len, struct node_list *out);

/* A host list: one host per line, the `column`-th (1-based) white-space separated word, after the
 * first `skip` lines (a table's header); blank lines and lines starting with '#' are skipped, as are
 * words that are not host names (counted in out->rejected). */
enum jt_err targets_parse_hosts(const char *text, size_t len, unsigned column, unsigned skip, struct node_list *out);

struct targets_labels {
    const char *cluster;          /* "" or NULL: no cluster label */
    const char *role;             /* the role label, e.g. "gpu" */
    unsigned jobtel_port;         /* 0: no jobtel target */
    unsigned node_exporter_port;  /* 0: no node_exporter target */
};

/* The file_sd JSON document. Each group carries __meta_jobtel_exporter ("jobtel" or "node") so one
 * file can feed two scrape jobs (deploy/prometheus/prometheus.yml keeps its own with a relabel rule). */
enum jt_err targets_render(const struct node_list *l, const struct targets_labels *lab, struct buf *out);

/* Writes data to path through a temporary file in the same directory and rename(2), unless the file
 * already holds exactly these bytes (*changed = false). The file is mode 0644. */
enum jt_err targets_write_if_changed(const char *path, const char *data, size_t len, bool *changed);

#endif
