/* A program that does nothing itself: the preloaded libraries' constructors
 * are what runs. */
int main(void)
{
	return 0;
}
