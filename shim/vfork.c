/*
 * The exported vfork: a writer's pass through the fork-window gate around
 * the system call, in assembly for the reason spawn.c gives. Before the
 * call it holds nothing on the stack; across it, the return address and
 * the pass stay in registers the kernel preserves (the child gets a copy
 * of them); after it, parent and child each push what they need anew and
 * call a4s_vfork_end, which also sets errno.
 *
 * On an architecture not listed here vfork is not interposed, and its
 * children are not covered (docs/fork-window.md). The library is built
 * without shadow-stack marking: in a process that enforces x86 shadow
 * stacks, a vfork child returning through this code would upset its
 * parent's shadow stack, as it would through any vfork not written for it.
 */
#include <sys/syscall.h>

#define A4S_STR2(x) #x
#define A4S_STR(x) A4S_STR2(x)

#if defined(__x86_64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".p2align 4\n"
	"vfork:\n"
	".cfi_startproc\n"
	"endbr64\n"
	/* rsp is 8 past a 16-byte boundary here: align for the call. */
	"subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"call a4s_vfork_begin\n" /* the pass: word in rax, slot in rdx */
	"addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"movq %rax, %rsi\n"
	"popq %rdi\n" /* the return address, out of the shared stack */
	".cfi_adjust_cfa_offset -8\n"
	".cfi_register rip, rdi\n"
	"movl $" A4S_STR(SYS_vfork) ", %eax\n"
	"syscall\n" /* keeps every register but rax, rcx, r11 */
	"pushq %rdi\n"
	".cfi_adjust_cfa_offset 8\n"
	".cfi_rel_offset rip, 0\n"
	"movq %rsi, %rdi\n" /* a4s_vfork_end(word, slot, result) */
	"movq %rdx, %rsi\n"
	"movq %rax, %rdx\n"
	"subq $8, %rsp\n"
	".cfi_adjust_cfa_offset 8\n"
	"call a4s_vfork_end\n"
	"addq $8, %rsp\n"
	".cfi_adjust_cfa_offset -8\n"
	"ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n");
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl vfork\n"
	".type vfork, %function\n"
	".p2align 2\n"
	"vfork:\n"
	".cfi_startproc\n"
	"hint 34\n" /* bti c */
	"stp x29, x30, [sp, #-16]!\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset 29, -16\n"
	".cfi_offset 30, -8\n"
	"mov x29, sp\n"
	"bl a4s_vfork_begin\n" /* the pass: word in x0, slot in x1 */
	"ldp x29, x30, [sp], #16\n" /* sp as at entry: nothing of ours below */
	".cfi_restore 29\n"
	".cfi_restore 30\n"
	".cfi_def_cfa_offset 0\n"
	"mov x9, x0\n"
	"mov x10, x1\n"
	"mov x0, #0x4111\n" /* CLONE_VM | CLONE_VFORK | SIGCHLD */
	"mov x1, sp\n"
	"mov x2, xzr\n"
	"mov x3, xzr\n"
	"mov x4, xzr\n"
	"mov x8, #" A4S_STR(SYS_clone) "\n"
	"svc #0\n" /* keeps every register but x0 */
	"stp x29, x30, [sp, #-16]!\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset 29, -16\n"
	".cfi_offset 30, -8\n"
	"mov x29, sp\n"
	"mov x2, x0\n" /* a4s_vfork_end(word, slot, result) */
	"mov x0, x9\n"
	"mov x1, x10\n"
	"bl a4s_vfork_end\n"
	"ldp x29, x30, [sp], #16\n"
	".cfi_restore 29\n"
	".cfi_restore 30\n"
	".cfi_def_cfa_offset 0\n"
	"ret\n"
	".cfi_endproc\n"
	".size vfork, .-vfork\n");
#endif
