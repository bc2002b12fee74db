package netns

// sysSetns is setns(2)'s number: the frozen syscall package lacks it on
// amd64 and 386, and golang.org/x/sys is not worth a dependency for it.
const sysSetns = 308
