// waiter is the off-CPU tracker's target: one thread sleeps in
// waiter_loop all the time, one burns the CPU half the time in halftime,
// one waits in forever from its start to its end, one waits for the
// children it vforks (uninterruptible: the kernel's stack is recorded).
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = {0, ms * 1000000};
	nanosleep(&ts, 0);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

__attribute__((noinline)) void burn(long ms)
{
	long long end = now_ms() + ms;
	while (now_ms() < end)
		;
}

__attribute__((noinline)) void *halftime(void *arg)
{
	for (;;) {
		burn(20);
		nap(20);
	}
	return arg;
}

__attribute__((noinline)) void *forever(void *arg)
{
	for (;;)
		pause();
	return arg;
}

__attribute__((noinline)) void *vforker(void *arg)
{
	for (;;) {
		pid_t child = vfork();
		if (child == 0) {
			usleep(10000);
			_exit(0);
		}
		waitpid(child, 0, 0);
	}
	return arg;
}

__attribute__((noinline)) void waiter_loop(void)
{
	for (;;)
		nap(10);
}

int main(void)
{
	pthread_t a, b, c;
	pthread_create(&a, 0, halftime, 0);
	pthread_create(&b, 0, forever, 0);
	pthread_create(&c, 0, vforker, 0);
	waiter_loop();
	return 0;
}
