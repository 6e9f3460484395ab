/* pthreads: threads, mutex, condition variable, thread-local storage, join. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

#define N 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long sum;
static int ready;
static __thread long tls_val;

static void *worker(void *arg)
{
	long id = (long)arg;
	tls_val = id * 100;
	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	long local = 0;
	for (int i = 0; i < 2000; i++) {
		local += getppid() > 0; /* a trapped syscall in every iteration */
		pthread_mutex_lock(&mu);
		sum += 1;
		pthread_mutex_unlock(&mu);
	}
	return (void *)(tls_val + local);
}

int main(void)
{
	pthread_t t[N];
	for (long i = 0; i < N; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			printf("pthread_create failed\n");
			return 1;
		}
	pthread_mutex_lock(&mu);
	ready = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	long rets = 0;
	for (int i = 0; i < N; i++) {
		void *r;
		pthread_join(t[i], &r);
		rets += (long)r;
	}
	printf("sum=%ld rets=%ld\n", sum, rets);
	return 0;
}
