/*
 * How long reading "model" out of a request body takes: the gateway's
 * scanner (gateway/body.h, one pass, no allocation, whole-body validation)
 * against jansson (a full parse into a tree, then the lookup), on the same
 * bodies: a short chat request, one with a 16 KiB prompt, and one with a
 * 512 KiB prompt. Prints ns per body and MB/s for each. Built and run by
 * bench/gateway/run.sh.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/clock.h"
#include "gateway/body.h"

static void make_body(struct llmo_buf *b, size_t prompt)
{
	llmo_buf_puts(b, "{\"model\":\"llama2:7b\",\"messages\":[{\"role\":\"system\",\"content\":"
			 "\"You are a helpful assistant.\"},{\"role\":\"user\",\"content\":\"");
	/* words, punctuation and now and then a two-byte UTF-8 letter */
	for (size_t i = 0; i < prompt; i++) {
		if (i % 50 == 49)
			llmo_buf_puts(b, "\xc3\xa9");
		else
			llmo_buf_putc(b, "abcdefgh ,."[i % 11]);
	}
	llmo_buf_puts(b, "\"}],\"max_tokens\":128,\"temperature\":0.7,\"stream\":true}");
}

static double run_scanner(const struct llmo_buf *b, long iters)
{
	struct llmo_gw_body out;
	int64_t t0 = llmo_clock_mono_ns();

	for (long i = 0; i < iters; i++)
		if (llmo_gw_body_scan(b->data, b->len, &out, NULL) != 0)
			abort();
	return (double)(llmo_clock_mono_ns() - t0) / (double)iters;
}

static double run_jansson(const struct llmo_buf *b, long iters)
{
	int64_t t0 = llmo_clock_mono_ns();

	for (long i = 0; i < iters; i++) {
		json_t *j = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, NULL);

		if (!j || !json_is_string(json_object_get(j, "model")))
			abort();
		json_decref(j);
	}
	return (double)(llmo_clock_mono_ns() - t0) / (double)iters;
}

int main(void)
{
	static const struct {
		const char *name;
		size_t prompt;
		long iters;
	} sizes[] = {
		{"chat, 40 B prompt", 40, 200000},
		{"chat, 16 KiB prompt", 16384, 20000},
		{"chat, 512 KiB prompt", 512 * 1024, 400},
	};

	printf("| body | bytes | scanner ns | jansson ns | scanner MB/s | jansson MB/s | jansson/scanner |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < LLMO_ARRAY_LEN(sizes); i++) {
		struct llmo_buf b;
		double s, j;

		llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
		make_body(&b, sizes[i].prompt);
		run_scanner(&b, sizes[i].iters / 10); /* warm up */
		s = run_scanner(&b, sizes[i].iters);
		j = run_jansson(&b, sizes[i].iters / 4);
		printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.1f |\n", sizes[i].name, b.len, s, j,
		       (double)b.len / s * 1e3, (double)b.len / j * 1e3, j / s);
		llmo_buf_release(&b);
	}
	return 0;
}
