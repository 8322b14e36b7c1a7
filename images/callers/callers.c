// callers is --cpu's native target in C: two callers of one hot leaf at a
// known 3:1 (caller_a three calls for each of caller_b's, in random order,
// each short, so no sampling rate falls in step with them), built -O2
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
	unsigned long r = 88172645463325252UL; // xorshift64
	for (long i = 0; rounds < 0 || i < rounds; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		if (r % 4 != 3)
			caller_a(100000); // three parts of the leaf's time
		else
			caller_b(100000); // one part
	}
	return 0;
}
