// callers.cpp is --cpu's native target in C++: one hot leaf, a function
// template, called by two callers at a known 3:1 — a class's method and a
// class template's — through an inlined helper, built -O2 without frame
// pointers.
#include <cstdlib>

volatile unsigned long sink;

template <typename T>
__attribute__((noinline)) T leaf(T n)
{
	T x = 0;
	for (T i = 0; i < n; i++)
		x += (i * i) ^ (x >> 3);
	return x;
}

// step is inlined into both callers: its frame is theirs.
static inline unsigned long step(unsigned long n) { return leaf<unsigned long>(n) + 1; }

struct Three {
	__attribute__((noinline)) void run(unsigned long n) { sink += step(n); }
};

template <int K>
struct One {
	__attribute__((noinline)) void run(unsigned long n) { sink += step(n) + K; }
};

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? std::atol(argv[1]) : -1;
	Three a;
	One<2> b;
	unsigned long r = 88172645463325252UL; // xorshift64
	for (long i = 0; rounds < 0 || i < rounds; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		if (r % 4 != 3)
			a.run(100000); // three parts of the leaf's time
		else
			b.run(100000); // one part
	}
	return 0;
}
