/*
 * Fuzz target for base/yaml and the field-path helpers of base/json: parses
 * the input as a YAML stream, looks up the lines of a few paths, and checks
 * that every document survives a JSON dump and reload unchanged. The input's
 * first line is also used as a path, to exercise the path reader.
 */
#include "base/common.h"

#include "base/json.h"
#include "base/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"",
	"apiVersion",
	"metadata.name",
	"metadata.labels[\"app.kubernetes.io/name\"]",
	"spec.scaling.minReplicas",
	"spec.scaling.targetMetrics[0].target",
	"spec.template.spec.containers[1].env[0].value",
	"a[0][1].b",
	"[\"\"][0]",
	"bad..path",
};

static void check_doc(const struct llmo_yaml_doc *d, const char *own_path)
{
	json_t *back = NULL;
	char *text;

	for (size_t i = 0; i < LLMO_ARRAY_LEN(paths); i++) {
		llmo_yaml_line(d, paths[i]);
		llmo_yaml_column(d, paths[i]);
		llmo_json_get_path(d->root, paths[i]);
	}
	llmo_yaml_line(d, own_path);
	llmo_json_get_path(d->root, own_path);

	text = llmo_json_dump(d->root, false);
	if (!text)
		abort();
	/* what the YAML reader produces is JSON that reads back equal */
	if (llmo_json_load(text, strlen(text), "dump", &back, NULL) != 0 ||
	    !json_equal(back, d->root))
		abort();
	json_decref(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_yaml_stream s;
	struct llmo_error err = {0};
	char own_path[256];
	size_t n = 0;

	while (n < size && n < sizeof(own_path) - 1 && data[n] != '\n' && data[n] != '\0') {
		own_path[n] = (char)data[n];
		n++;
	}
	own_path[n] = '\0';

	if (llmo_yaml_parse((const char *)data, size, "fuzz.yaml", &s, &err) == 0) {
		for (size_t i = 0; i < s.ndocs; i++)
			check_doc(&s.docs[i], own_path);
	} else if (s.docs || s.ndocs || s.filename || err.msg[0] == '\0') {
		/* on error the stream is empty and the message says why */
		abort();
	}
	llmo_yaml_stream_release(&s);
	return 0;
}
