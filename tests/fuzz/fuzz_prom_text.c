/*
 * Fuzz target for metrics/parse.h: any input either parses, each sample
 * with a well-formed metric name and labels, or fails with LLMO_EPARSE and
 * a message naming the line.
 */
#include "base/common.h"

#include "metrics/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_name(const char *s, bool colon)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (*s >= '0' && *s <= '9') || (colon && *s == ':')))
			return false;
	return true;
}

static int sample(void *arg, const char *name, const struct llmo_prom_label *labels,
		  size_t nlabels, double value)
{
	size_t *count = arg;

	(void)value;
	if (!valid_name(name, true) || nlabels > LLMO_PROM_LABELS_MAX)
		abort();
	for (size_t i = 0; i < nlabels; i++)
		if (!valid_name(labels[i].name, false) || !labels[i].value ||
		    llmo_prom_label(labels, nlabels, labels[i].name) == NULL)
			abort();
	(*count)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_error err = {0};
	size_t count = 0;
	int rc = llmo_prom_parse((const char *)data, size, sample, &count, &err);

	if (rc && (rc != LLMO_EPARSE || err.code != rc || strncmp(err.msg, "metrics line ", 13)))
		abort();
	return 0;
}
