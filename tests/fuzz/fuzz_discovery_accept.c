/*
 * Fuzz target for the Accept header parsing of aggregated discovery
 * (llmo__accept_aggregated in apiserver/discovery.c): any text gives one of
 * the three answers; the text followed by ",<v2 media range>" is never
 * LLMO__AGG_NONE when it fits the length cap and holds no other aggregated range
 * first (the answer then is what the text alone gives, or v2).
 */
#include "base/common.h"

#include "apiserver/apiserver_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define V2 "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + sizeof(V2) + 1);
	enum llmo__aggregated alone, both;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	alone = llmo__accept_aggregated(text);
	if (alone != LLMO__AGG_NONE && alone != LLMO__AGG_V2 && alone != LLMO__AGG_V2BETA1)
		abort();
	/* a NUL inside the input ends the header there */
	snprintf(text + strlen(text), sizeof(V2) + 1, ",%s", V2);
	both = llmo__accept_aggregated(text);
	if (strlen(text) <= 4096 && both != (alone != LLMO__AGG_NONE ? alone : LLMO__AGG_V2))
		abort();
	free(text);
	return 0;
}
