#include "base/common.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("llmo %s\n", LLMO_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: llmo COMMAND\n");
	return 2;
}
