/*
 * Fuzz target for the gateway's keys file (gateway/keys.h): parses the
 * input as YAML and builds the keys from it. A built object must find each
 * of its keys, and a refusal must come with a message naming the file.
 */
#include "base/common.h"

#include "base/yaml.h"
#include "gateway/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	struct llmo_gw_keys *k = NULL;

	if (llmo_yaml_parse((const char *)data, size, "keys.yaml", &s, &err) || s.ndocs != 1)
		goto out;
	if (llmo_gw_keys_from_json(s.docs[0].root, &s.docs[0], "keys.yaml", &k, &err)) {
		if (!strstr(err.msg, "keys.yaml") && !strstr(err.msg, "out of memory"))
			abort();
		goto out;
	}
	{
		size_t it = 0;
		const char *key;
		void *v;

		while (llmo_hmap_next(&k->by_key, &it, &key, &v))
			if (llmo_gw_keys_lookup(k, key, strlen(key)) != v)
				abort();
	}
	for (size_t i = 0; i < k->tenants.len; i++) {
		struct llmo_gw_tenant *t = k->tenants.items[i];
		int64_t retry;

		llmo_gw_bucket_take(&t->requests, 1);
		llmo_gw_bucket_debit(&t->tokens, 2, 1e6);
		llmo_gw_bucket_positive(&t->tokens, 3, &retry);
	}
out:
	llmo_gw_keys_unref(k);
	llmo_yaml_stream_release(&s);
	return 0;
}
