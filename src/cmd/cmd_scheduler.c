/*
 * llmo scheduler: binds pending pods to nodes with a placement policy
 * (src/scheduler/binder.h, src/scheduler/policy.h), until SIGINT or SIGTERM.
 */
#include "base/common.h"

#include <event2/event.h>
#include <signal.h>

#include "api/config.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "metrics/http.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "scheduler/binder.h"

static const char scheduler_usage[] =
	"usage: llmo scheduler [--kubeconfig FILE] [--config FILE] [--scheduler-name NAME]\n"
	"                      [--policy NAME] [--leader-elect true|false] [--identity ID]\n"
	"                      [--metrics-listen ADDR:PORT]\n"
	"\n"
	"Binds pods whose spec.schedulerName is NAME (default " LLMO_BINDER_DEFAULT_NAME ")\n"
	"to a node that is Ready, schedulable, tolerated (taints), selected (nodeSelector,\n"
	"required node affinity), of the GPU type their annotation\n"
	"llm.orchestrator.io/gpu-type asks (\"A100|H100\") and has the cpu, memory and\n"
	"nvidia.com/gpu they request, chosen by the placement policy and the model\n"
	"affinity score. Higher QoS priority goes first and may preempt lower\n"
	"(scheduler.qosClasses; docs/scheduler.md).\n"
	"Runs until SIGINT or SIGTERM.\n"
	"\n"
	"  --kubeconfig FILE     kubeconfig (default $KUBECONFIG, ~/.kube/config,\n"
	"                        then the in-cluster service account)\n"
	"  --config FILE         orchestrator configuration; scheduler.resourceOvercommitRatio\n"
	"                        multiplies the cpu and memory a node may be promised\n"
	"  --scheduler-name NAME the spec.schedulerName served\n"
	"  --policy NAME         random, bestfit, dotprod, gpupacking, gpuclustering, fgd\n"
	"                        or llmo (default: the configuration's scheduler.policy,\n"
	"                        llmo; docs/scheduler-policies.md)\n"
	"  --leader-elect BOOL   campaign on the Lease " LLMO_BINDER_LEASE_NAME " in\n"
	"                        operator.namespace and bind only while leading\n"
	"                        (default: the configuration's operator.leaderElection)\n"
	"  --identity ID         this candidate's name (default HOSTNAME_PID)\n"
	"  --metrics-listen A    serve /metrics and /healthz on ADDR:PORT (default: not)\n";

int cmd_scheduler(int argc, char **argv)
{
	const char *kubeconfig = NULL, *name = NULL, *config = NULL, *elect = NULL, *identity = NULL;
	char mhost[256] = "";
	int mport = 0;
	struct llmo_metrics_http *mhttp = NULL;
	enum llmo_sched_policy_kind policy = LLMO_SCHED_LLMO;
	bool policy_flag = false;
	struct llmo_config conf = {0};
	struct llmo_kube_client *client = NULL;
	struct llmo_binder *binder = NULL;
	struct event_base *base = NULL;
	struct llmo_kube_config cfg;
	struct llmo_error err = {0};
	int status = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(scheduler_usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--kubeconfig") == 0 && i + 1 < argc) {
			kubeconfig = argv[++i];
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "--scheduler-name") == 0 && i + 1 < argc) {
			name = argv[++i];
		} else if (strcmp(argv[i], "--leader-elect") == 0 && i + 1 < argc) {
			elect = argv[++i];
		} else if (strcmp(argv[i], "--metrics-listen") == 0 && i + 1 < argc) {
			if (cmd_parse_listen(argv[++i], mhost, sizeof(mhost), &mport))
				return cmd_usage_error("scheduler", "--metrics-listen wants ADDR:PORT, "
						       "not \"%s\"", argv[i]);
		} else if (strcmp(argv[i], "--identity") == 0 && i + 1 < argc) {
			identity = argv[++i];
		} else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
			if (llmo_sched_policy_parse(argv[++i], &policy, &err))
				return cmd_usage_error("scheduler", "--policy: %s", err.msg);
			policy_flag = true;
		} else {
			return cmd_usage_error("scheduler",
					       "unknown or incomplete option %s (see --help)",
					       argv[i]);
		}
	}
	if (name && !*name)
		return cmd_usage_error("scheduler", "--scheduler-name wants a non-empty name");
	if (elect && strcmp(elect, "true") != 0 && strcmp(elect, "false") != 0)
		return cmd_usage_error("scheduler", "--leader-elect wants true or false, not \"%s\"",
				       elect);
	if (identity && !*identity)
		return cmd_usage_error("scheduler", "--identity wants a non-empty name");
	if (cmd_load_config(config, &conf))
		return 1;
	if (config)
		cmd_apply_log_config(&conf);
	if (!policy_flag && conf.scheduler.policy > 0)
		policy = (enum llmo_sched_policy_kind)(conf.scheduler.policy - 1);
	signal(SIGPIPE, SIG_IGN);
	if (llmo_kube_config_auto(kubeconfig, NULL, &cfg, &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		llmo_config_free(&conf);
		return 1;
	}
	if (llmo_kube_client_new(&cfg, &client, &err)) {
		llmo_kube_config_release(&cfg);
		llmo_config_free(&conf);
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		return 1;
	}
	llmo_kube_config_release(&cfg);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo scheduler: cannot create the event loop\n");
		goto out;
	}
	if (llmo_binder_new(client, base, name, &binder, &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		goto out;
	}
	if (llmo_binder_configure(binder, &conf.scheduler, &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		goto out;
	}
	llmo_binder_set_policy(binder, policy);
	if ((elect ? strcmp(elect, "true") == 0 : conf.operator_.leader_election) &&
	    llmo_binder_set_leader_election(binder, conf.operator_.namespace_, identity,
					    (long)(conf.operator_.lease_duration / 1000000),
					    (long)(conf.operator_.renew_deadline / 1000000),
					    (long)(conf.operator_.retry_period / 1000000), &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		goto out;
	}
	if (llmo_binder_start(binder, &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		goto out;
	}
	if (mhost[0] && llmo_metrics_http_new(base, mhost, mport, llmo_binder_write_metrics, binder,
					      &mhttp, &err)) {
		fprintf(stderr, "llmo scheduler: %s\n", err.msg);
		goto out;
	}
	llmo_log(LLMO_LOG_INFO, "scheduler", "started", "name=%s policy=%s",
		 name ? name : LLMO_BINDER_DEFAULT_NAME, llmo_sched_policy_name(policy));
	status = cmd_run_until_signal(base, "scheduler", NULL, NULL);
out:
	llmo_metrics_http_free(mhttp);
	llmo_binder_free(binder);
	if (base)
		event_base_free(base);
	llmo_kube_client_free(client);
	llmo_config_free(&conf);
	return status;
}
