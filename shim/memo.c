#include "memo.h"

void a4s_memo_put(struct a4s_memo *m, uint64_t key, const char *text, size_t len)
{
	unsigned g = atomic_load_explicit(&m->gen, memory_order_relaxed);
	if (g & 1 || len > A4S_MEMO_TEXT ||
	    !atomic_compare_exchange_strong_explicit(&m->gen, &g, g + 1, memory_order_relaxed,
						     memory_order_relaxed))
		return;
	atomic_signal_fence(memory_order_seq_cst);
	m->key = key;
	m->len = (unsigned char)len;
	__builtin_memcpy(m->text, text, A4S_MEMO_TEXT);
	atomic_signal_fence(memory_order_seq_cst);
	/* Never 0 again, which means empty. */
	atomic_store_explicit(&m->gen, g + 2 ? g + 2 : 2, memory_order_relaxed);
}
