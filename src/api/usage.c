/*
 * The usage annotation (usage.h): its text and the rule for rewriting it.
 */
#include "base/common.h"

#include <jansson.h>
#include <math.h>

#include "api/usage.h"
#include "base/clock.h"

#include "base/banned.h"

int llmo_usage_format(const struct llmo_usage *u, char *out, size_t n)
{
	char at[LLMO_RFC3339_MAX], gpu[64] = "", net[64] = "";
	int w;

	if (u->cpu_milli < 0 || u->memory < 0 || (u->has_net && (u->net_rx < 0 || u->net_tx < 0)) ||
	    (u->has_gpu && !(u->gpu_pct >= 0 && u->gpu_pct <= 100 && u->gpu_memory >= 0)) ||
	    llmo_time_format_rfc3339(u->at_ms, false, at, sizeof(at)))
		return LLMO_EINVAL;
	if (u->has_gpu)
		snprintf(gpu, sizeof(gpu), ",\"gpu\":%.1f,\"gpuMemory\":%" PRId64, u->gpu_pct,
			 u->gpu_memory);
	if (u->has_net)
		snprintf(net, sizeof(net), ",\"netRx\":%" PRId64 ",\"netTx\":%" PRId64, u->net_rx,
			 u->net_tx);
	w = snprintf(out, n, "{\"cpu\":%" PRId64 ",\"memory\":%" PRId64 "%s%s,\"at\":\"%s\"}",
		     u->cpu_milli, u->memory, gpu, net, at);
	return w < 0 || (size_t)w >= n ? LLMO_EINVAL : 0;
}

int llmo_usage_parse(const char *text, struct llmo_usage *out, struct llmo_error *err)
{
	json_error_t jerr;
	json_t *root, *cpu, *mem, *gpu, *gmem, *rx, *tx;
	const char *at;
	size_t len = text ? strnlen(text, LLMO_USAGE_TEXT_MAX + 1) : 0;
	int rc = 0;

	if (!len || len > LLMO_USAGE_TEXT_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "%s: empty or longer than %d bytes",
				      LLMO_ANNOTATION_USAGE, LLMO_USAGE_TEXT_MAX);
	if (!(root = json_loadb(text, len, 0, &jerr)))
		return llmo_error_set(err, LLMO_EINVAL, "%s: %s", LLMO_ANNOTATION_USAGE, jerr.text);
	cpu = json_object_get(root, "cpu");
	mem = json_object_get(root, "memory");
	at = json_string_value(json_object_get(root, "at"));
	if (!json_is_integer(cpu) || !json_is_integer(mem) || json_integer_value(cpu) < 0 ||
	    json_integer_value(mem) < 0 || !at) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: needs cpu and memory (integers >= 0) and at",
				    LLMO_ANNOTATION_USAGE);
		goto out;
	}
	gpu = json_object_get(root, "gpu");
	gmem = json_object_get(root, "gpuMemory");
	if ((gpu || gmem) &&
	    (!json_is_number(gpu) || !(json_number_value(gpu) >= 0 && json_number_value(gpu) <= 100) ||
	     !json_is_integer(gmem) || json_integer_value(gmem) < 0)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "%s: gpu (0 to 100) and gpuMemory (an integer >= 0) go together",
				    LLMO_ANNOTATION_USAGE);
		goto out;
	}
	rx = json_object_get(root, "netRx");
	tx = json_object_get(root, "netTx");
	if ((rx || tx) && (!json_is_integer(rx) || json_integer_value(rx) < 0 ||
			   !json_is_integer(tx) || json_integer_value(tx) < 0)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "%s: netRx and netTx (integers >= 0) go together",
				    LLMO_ANNOTATION_USAGE);
		goto out;
	}
	out->has_net = rx != NULL;
	out->net_rx = rx ? json_integer_value(rx) : 0;
	out->net_tx = tx ? json_integer_value(tx) : 0;
	out->cpu_milli = json_integer_value(cpu);
	out->memory = json_integer_value(mem);
	out->has_gpu = gpu != NULL;
	out->gpu_pct = gpu ? json_number_value(gpu) : 0;
	out->gpu_memory = gmem ? json_integer_value(gmem) : 0;
	if (llmo_time_parse_rfc3339(at, &out->at_ms, err))
		rc = LLMO_EINVAL;
out:
	json_decref(root);
	return rc;
}

/* |now - last| above both the relative threshold and the absolute floor. */
static bool moved(int64_t last, int64_t now, int64_t floor)
{
	int64_t d = now > last ? now - last : last - now;

	return d > floor && d * 100 > last * LLMO_USAGE_CHANGE_PCT;
}

bool llmo_usage_worth_publishing(const struct llmo_usage *last, const struct llmo_usage *now)
{
	if (!last)
		return true;
	if (now->at_ms - last->at_ms >= LLMO_USAGE_REFRESH_MS)
		return true;
	if (last->has_gpu != now->has_gpu ||
	    (now->has_gpu && (fabs(now->gpu_pct - last->gpu_pct) > LLMO_USAGE_GPU_POINTS ||
			      moved(last->gpu_memory, now->gpu_memory,
				    LLMO_USAGE_MEMORY_FLOOR_BYTES))))
		return true;
	if (last->has_net != now->has_net ||
	    (now->has_net && (moved(last->net_rx, now->net_rx, LLMO_USAGE_NET_FLOOR_BPS) ||
			      moved(last->net_tx, now->net_tx, LLMO_USAGE_NET_FLOOR_BPS))))
		return true;
	return moved(last->cpu_milli, now->cpu_milli, LLMO_USAGE_CPU_FLOOR_MILLI) ||
	       moved(last->memory, now->memory, LLMO_USAGE_MEMORY_FLOOR_BYTES);
}
