/*
 * sigrec FILE [child] [keep] [ARGS...]: record every signal this process
 * receives, by number, one per line in FILE, and exit 0 after SIGINT or
 * SIGTERM (with "keep", record them and go on). With "child", first fork a
 * second recorder in the same process group writing to FILE.child.
 * Further arguments are ignored (tests put a marker there).
 *
 * A Go program cannot see every signal: the Go runtime takes SIGURG, 32 and
 * 34 for itself. This one blocks all signals with the raw system call (the
 * C library refuses to block its own 32 and 33) and takes them one by one
 * with rt_sigtimedwait, so that whatever reaches it is seen, and signals
 * that would stop or end it are only recorded.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KERNEL_SIGSET_SIZE 8 /* 64 signals */

static int record(const char *file, int keep) {
	unsigned long all = ~0UL;
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return 3;
	for (;;) {
		siginfo_t si;
		long sig = syscall(SYS_rt_sigtimedwait, &all, &si, NULL, KERNEL_SIGSET_SIZE);
		if (sig < 0)
			continue;
		char line[16];
		int n = snprintf(line, sizeof line, "%ld\n", sig);
		if (write(fd, line, n) != n)
			return 3;
		if (!keep && (sig == SIGINT || sig == SIGTERM))
			return 0;
	}
}

int main(int argc, char **argv) {
	unsigned long all = ~0UL;
	int keep = 0, child = 0;
	if (argc < 2)
		return 2;
	for (int i = 2; i < argc; i++) {
		keep |= strcmp(argv[i], "keep") == 0;
		child |= strcmp(argv[i], "child") == 0;
	}
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, KERNEL_SIGSET_SIZE) != 0)
		return 3;
	if (child) {
		char sub[4096];
		snprintf(sub, sizeof sub, "%s.child", argv[1]);
		pid_t pid = fork();
		if (pid < 0)
			return 3;
		if (pid == 0)
			return record(sub, keep);
		/* The child inherited the mask: whatever the group gets from
		 * now on waits for it. Its file exists once it has started. */
		while (access(sub, F_OK) != 0)
			usleep(1000);
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return 3;
	close(fd);
	if (write(1, "ready\n", 6) != 6)
		return 3;
	return record(argv[1], keep);
}
