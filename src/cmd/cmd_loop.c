/*
 * The long-running subcommands' main loop: run the event loop until SIGINT or
 * SIGTERM, then return so the command can free what it made.
 */
#include "base/log.h"
#include "cmd/cmd.h"

#include <event2/event.h>
#include <signal.h>

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
