/*
 * The long-running subcommands' main loop: run the event loop until SIGINT or
 * SIGTERM, then return so the command can free what it made.
 */
#include "api/config.h"
#include "base/log.h"
#include "base/str.h"
#include "base/yaml.h"
#include "cmd/cmd.h"

#include <event2/event.h>
#include <signal.h>
#include <sys/resource.h>

struct stop {
	struct event_base *base;
	const char *component;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct stop *s = arg;

	llmo_log(LLMO_LOG_INFO, s->component, "stopping", "signal=%d", (int)sig);
	event_base_loopexit(s->base, NULL);
}

int cmd_run_until_signal(struct event_base *base, const char *component,
			 void (*ready)(void *arg), void *arg)
{
	struct stop s = {.base = base, .component = component};
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, &s);
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &s);
	int rc = 0;

	if (!sigint || !sigterm || event_add(sigint, NULL) < 0 || event_add(sigterm, NULL) < 0) {
		fprintf(stderr, "llmo %s: cannot watch signals\n", component);
		rc = 1;
	} else {
		/* announced only now, so that a signal right after it is handled */
		if (ready)
			ready(arg);
		event_base_dispatch(base);
	}
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	return rc;
}

void cmd_announce_listening(void *arg)
{
	const struct cmd_listening *l = arg;

	printf(strchr(l->host, ':') ? "%s listening on %s://[%s]:%d\n"
				    : "%s listening on %s://%s:%d\n",
	       l->what, l->tls ? "https" : "http", l->host, l->port);
	fflush(stdout);
}

void cmd_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int cmd_load_config(const char *path, struct llmo_config *out)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	struct llmo_config cfg = {0};
	struct llmo_errlist errs;
	int rc;

	llmo_errlist_init(&errs);
	if (!path) {
		rc = llmo_config_from_json(NULL, &cfg, &errs);
		goto out;
	}
	rc = llmo_yaml_load_file(path, &s, &err);
	if (rc) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	rc = llmo_config_from_json(s.ndocs ? s.docs[0].root : NULL, &cfg, &errs);
	for (size_t i = 0; i < errs.v.len; i++)
		fprintf(stderr, "%s:%d: %s: %s\n", path,
			s.ndocs ? llmo_yaml_line(&s.docs[0], errs.v.items[i].path) : 0,
			errs.v.items[i].path, errs.v.items[i].msg);
	if (!rc && llmo_errlist_count(&errs))
		rc = LLMO_EINVAL;
out:
	if (!rc && out) {
		*out = cfg;
	} else {
		llmo_config_free(&cfg);
	}
	llmo_errlist_release(&errs);
	llmo_yaml_stream_release(&s);
	return rc;
}

static bool log_level_by_flag, log_json_by_flag;

void cmd_log_level_flag(enum llmo_log_level lvl)
{
	llmo_log_set_level(lvl);
	log_level_by_flag = true;
}

void cmd_log_json_flag(void)
{
	llmo_log_set_json(true);
	log_json_by_flag = true;
}

void cmd_apply_log_config(const struct llmo_config *cfg)
{
	/* config.h: log_level 1 debug .. 4 error, log_format 1 text, 2 json (0: unset) */
	static const enum llmo_log_level levels[] = {LLMO_LOG_INFO, LLMO_LOG_DEBUG, LLMO_LOG_INFO,
						     LLMO_LOG_WARN, LLMO_LOG_ERROR};

	if (!log_level_by_flag && cfg->operator_.log_level > 0 &&
	    (size_t)cfg->operator_.log_level < LLMO_ARRAY_LEN(levels))
		llmo_log_set_level(levels[cfg->operator_.log_level]);
	if (!log_json_by_flag && cfg->operator_.log_format > 0)
		llmo_log_set_json(cfg->operator_.log_format == 2);
}

int cmd_parse_listen(const char *s, char *host, size_t n, int *port)
{
	const char *colon = strrchr(s, ':');
	int64_t p;
	size_t hl;

	if (!colon || llmo_parse_int_range(colon + 1, 0, 65535, &p, NULL))
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl >= n)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}
