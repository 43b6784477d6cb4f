#ifndef LLMO_FUZZ_CSV_H
#define LLMO_FUZZ_CSV_H
/* Shared by the CSV fuzz targets. */
#include "base/common.h"

/* Data lines: lines after the first, not counting an empty last piece after "\n". */
static inline size_t fuzz_csv_data_lines(const char *text, size_t len)
{
	size_t lines = 0;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (len > 0 && text[len - 1] != '\n')
		lines++;
	return lines > 0 ? lines - 1 : 0;
}

#endif
