/* Writes utmp-glibc-amd64 with glibc's own pututline, so the Go parser is checked
 * against the real layout rather than against itself. Regenerate with:
 *   gcc -o /tmp/gen_utmp gen_utmp.c && : > utmp-glibc-amd64 && /tmp/gen_utmp utmp-glibc-amd64
 * Without an argument it prints the struct offsets. */
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <utmp.h>
#include <utmpx.h>
int main(int argc, char **argv) {
	printf("size %zu type %zu pid %zu line %zu id %zu user %zu host %zu exit %zu session %zu tv %zu addr %zu\n",
		sizeof(struct utmp), offsetof(struct utmp, ut_type), offsetof(struct utmp, ut_pid),
		offsetof(struct utmp, ut_line), offsetof(struct utmp, ut_id), offsetof(struct utmp, ut_user),
		offsetof(struct utmp, ut_host), offsetof(struct utmp, ut_exit), offsetof(struct utmp, ut_session),
		offsetof(struct utmp, ut_tv), offsetof(struct utmp, ut_addr_v6));
	if (argc < 2) return 0;
	if (utmpname(argv[1]) != 0) { perror("utmpname"); return 1; }
	setutent();
	struct utmp u;
	memset(&u, 0, sizeof u);
	u.ut_type = BOOT_TIME; strcpy(u.ut_line, "~"); strcpy(u.ut_user, "reboot"); u.ut_tv.tv_sec = 1767225600;
	pututline(&u);
	memset(&u, 0, sizeof u);
	u.ut_type = USER_PROCESS; u.ut_pid = 4242; strcpy(u.ut_line, "pts/3"); strcpy(u.ut_id, "ts/3");
	strcpy(u.ut_user, "alice"); strcpy(u.ut_host, "10.0.0.7"); u.ut_tv.tv_sec = 1767229200;
	pututline(&u);
	memset(&u, 0, sizeof u);
	u.ut_type = DEAD_PROCESS; u.ut_pid = 4100; strcpy(u.ut_line, "pts/1"); strcpy(u.ut_id, "ts/1"); u.ut_tv.tv_sec = 1767228000;
	pututline(&u);
	memset(&u, 0, sizeof u);
	/* a line that fills its array: not NUL-terminated */
	u.ut_type = USER_PROCESS; u.ut_pid = 777; memset(u.ut_line, 'x', sizeof u.ut_line); strcpy(u.ut_id, "xx");
	strcpy(u.ut_user, "bob"); u.ut_tv.tv_sec = 1767230000;
	pututline(&u);
	endutent();
	return 0;
}
