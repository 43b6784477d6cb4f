/*
 * Fuzz target for apiserver/selector.h. The input, as text, goes through the
 * label and the field selector parsers: each either fails with a known code
 * and a message or gives a selector whose canonical text parses back to a
 * selector with the same canonical text. Parsed selectors are matched
 * against a fixed label set and object; the input read as JSON goes through
 * llmo_selector_from_json (and is matched as a label set).
 */
#include "base/common.h"

#include "apiserver/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int rc, const struct llmo_error *err)
{
	if (rc != LLMO_EPARSE && rc != LLMO_EINVAL && rc != LLMO_ETOOBIG)
		abort();
	if (err->code != rc || err->msg[0] == '\0')
		abort();
}

static void fuzz_label(const char *text, const json_t *labels, const json_t *input_json)
{
	struct llmo_selector *s = NULL, *again = NULL;
	struct llmo_error err = {0};
	struct llmo_buf a, b;
	int rc;

	rc = llmo_selector_parse(text, &s, &err);
	if (rc) {
		if (s)
			abort();
		check_error(rc, &err);
		return;
	}
	llmo_buf_init(&a, LLMO_SELECTOR_MAX * 4);
	llmo_buf_init(&b, LLMO_SELECTOR_MAX * 4);
	if (llmo_selector_to_string(s, &a) != 0)
		abort();
	/* Canonical text may outgrow the cap ("a in(x)" gains a space): only re-read what fits. */
	if (a.len <= LLMO_SELECTOR_MAX) {
		if (llmo_selector_parse(a.data, &again, &err) != 0)
			abort();
		if (llmo_selector_to_string(again, &b) != 0 || strcmp(a.data, b.data) != 0)
			abort();
		if (llmo_selector_matches(s, labels) != llmo_selector_matches(again, labels))
			abort();
	}
	if (llmo_selector_empty(s) != (a.len == 0))
		abort();
	llmo_selector_matches(s, input_json);
	llmo_selector_matches(s, NULL);
	llmo_buf_release(&a);
	llmo_buf_release(&b);
	llmo_selector_free(s);
	llmo_selector_free(again);
}

static void fuzz_field(const char *text, const json_t *object)
{
	struct llmo_field_selector *s = NULL, *again = NULL;
	static const char *const allowed[] = {"metadata.name", "metadata.namespace", NULL};
	struct llmo_error err = {0};
	struct llmo_buf a, b;
	int rc;

	rc = llmo_field_selector_parse(text, &s, &err);
	if (rc) {
		if (s)
			abort();
		check_error(rc, &err);
		return;
	}
	llmo_buf_init(&a, LLMO_SELECTOR_MAX * 4);
	llmo_buf_init(&b, LLMO_SELECTOR_MAX * 4);
	if (llmo_field_selector_to_string(s, &a) != 0)
		abort();
	if (a.len <= LLMO_SELECTOR_MAX) {
		if (llmo_field_selector_parse(a.data, &again, &err) != 0)
			abort();
		if (llmo_field_selector_to_string(again, &b) != 0 || strcmp(a.data, b.data) != 0)
			abort();
		if (llmo_field_selector_matches(s, object) != llmo_field_selector_matches(again, object))
			abort();
	}
	rc = llmo_field_selector_check(s, allowed, &err);
	if (rc && (rc != LLMO_EINVAL || err.msg[0] == '\0'))
		abort();
	llmo_field_selector_value(s, "metadata.name");
	llmo_buf_release(&a);
	llmo_buf_release(&b);
	llmo_field_selector_free(s);
	llmo_field_selector_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *labels, *object, *j;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	labels = json_pack("{s:s, s:s, s:s, s:s}", "app", "web", "tier", "front", "n", "7",
			   "app.kubernetes.io/name", "x");
	object = json_pack("{s:{s:s, s:s}, s:{s:s, s:b}, s:i}", "metadata", "name", "p",
			   "namespace", "default", "spec", "nodeName", "n1", "unschedulable", 0,
			   "count", 3);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	fuzz_label(text, labels, j);
	fuzz_field(text, j ? j : object);
	fuzz_field(text, object);
	if (j) {
		struct llmo_selector *s = NULL;
		struct llmo_error err = {0};
		int rc = llmo_selector_from_json(j, &s, &err);

		if (rc)
			check_error(rc, &err);
		else
			llmo_selector_matches(s, labels);
		llmo_selector_free(s);
	}
	json_decref(j);
	json_decref(labels);
	json_decref(object);
	free(text);
	return 0;
}
