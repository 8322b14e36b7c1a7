// callers is --cpu's native target in C: two callers of one hot leaf at a
// known 3:1 (caller_a three calls for each of caller_b's), built -O2
// without frame pointers (GCC's default), as Debian's packages are. Its
// C++ and Rust twins (callers.cpp, callers.rs) make the same split.
#include <stdlib.h>

volatile unsigned long sink;

__attribute__((noinline)) unsigned long leaf(unsigned long n)
{
	unsigned long x = 0;
	for (unsigned long i = 0; i < n; i++)
		x += (i * i) ^ (x >> 3);
	return x;
}

__attribute__((noinline)) void caller_a(unsigned long n) { sink += leaf(n) + 1; }
__attribute__((noinline)) void caller_b(unsigned long n) { sink += leaf(n) + 2; }

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : -1;
	for (long r = 0; rounds < 0 || r < rounds; r++) {
		caller_a(3000000); // three parts of the leaf's time
		caller_a(3000000);
		caller_a(3000000);
		caller_b(3000000); // one part
	}
	return 0;
}
