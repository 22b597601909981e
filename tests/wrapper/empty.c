/* A shared object that does nothing: an entry already in LD_PRELOAD. */
int a4s_wrapper_test_empty(void);
int a4s_wrapper_test_empty(void)
{
	return 0;
}
