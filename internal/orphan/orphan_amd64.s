#include "textflag.h"

// An all-ones signal set: every signal blocked.
DATA allsigs<>+0(SB)/8, $-1
GLOBL allsigs<>(SB), RODATA, $8

// FORK: clone(SIGCHLD, 0, 0, 0, 0), a plain fork on the same stack; the
// result is in AX.
#define FORK \
	MOVQ	$56, AX; \
	MOVQ	$17, DI; \
	XORQ	SI, SI; \
	XORQ	DX, DX; \
	XORQ	R10, R10; \
	XORQ	R8, R8; \
	SYSCALL

// EXIT: exit_group(0).
#define EXIT \
	MOVQ	$231, AX; \
	XORQ	DI, DI; \
	SYSCALL

// BLOCK: rt_sigprocmask(SIG_BLOCK, &allsigs, &old, 8). The copies made
// after it inherit the mask, so no signal handler ever runs in them.
#define BLOCK \
	MOVQ	$14, AX; \
	MOVQ	$0, DI; \
	LEAQ	allsigs<>(SB), SI; \
	LEAQ	old-8(SP), DX; \
	MOVQ	$8, R10; \
	SYSCALL

// RETURN(PID, ERRNO): in the caller, restore the mask with
// rt_sigprocmask(SIG_SETMASK, &old, 0, 8) and return the fork's result,
// saved at ret-16(SP), in the results PID and ERRNO.
#define RETURN(PID, ERRNO) \
	MOVQ	$14, AX; \
	MOVQ	$2, DI; \
	LEAQ	old-8(SP), SI; \
	XORQ	DX, DX; \
	MOVQ	$8, R10; \
	SYSCALL; \
	MOVQ	ret-16(SP), AX; \
	CMPQ	AX, $0; \
	JLT	failed; \
	MOVQ	AX, PID; \
	MOVQ	$0, ERRNO; \
	RET; \
failed: \
	NEGQ	AX; \
	MOVQ	$-1, PID; \
	MOVQ	AX, ERRNO; \
	RET

// func spawn() (pid int64, errno int64)
TEXT ·spawn(SB), NOSPLIT, $16-16
	BLOCK
	FORK
	CMPQ	AX, $0
	JEQ	middle
	MOVQ	AX, ret-16(SP)
	RETURN(pid+0(FP), errno+8(FP))

middle:
	// Middle process: fork the orphan, then both copies exit.
	FORK
	EXIT
	RET // not reached

// func chain(generations int64) (pid int64, errno int64)
TEXT ·chain(SB), NOSPLIT, $16-24
	MOVQ	generations+0(FP), R12
	BLOCK
	FORK
	CMPQ	AX, $0
	JEQ	link
	MOVQ	AX, ret-16(SP)
	RETURN(pid+8(FP), errno+16(FP))

link:
	// One link of the chain: fork the next and exit at once, until
	// R12 (inherited through the fork) runs out. A failed fork is
	// retried by the same link.
	DECQ	R12
	JLE	last
retry:
	FORK
	CMPQ	AX, $0
	JEQ	link
	JLT	retry
last:
	EXIT
	RET // not reached

// func park() (pid int64, errno int64)
TEXT ·park(SB), NOSPLIT, $16-16
	BLOCK
	FORK
	CMPQ	AX, $0
	JEQ	parked
	MOVQ	AX, ret-16(SP)
	RETURN(pid+0(FP), errno+8(FP))

parked:
	// The copy: prctl(PR_SET_PDEATHSIG, SIGKILL), so that it dies with
	// the thread that forked it, then pause(2) for ever. Every signal is
	// blocked: only SIGKILL (and SIGSTOP) act.
	MOVQ	$157, AX
	MOVQ	$1, DI
	MOVQ	$9, SI
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	SYSCALL
pause:
	MOVQ	$34, AX
	SYSCALL
	JMP	pause
